// One mapping from a tail probability to an anomaly score, shared by every
// detector, so that the same score means the same rarity on every series and
// scores spread over [0, 1] instead of piling up at 1.

/** Decades of rarity that make a score of 1: p = 1e-10. */
export const SCORE_DECADES = 10

/** Probabilities below this are treated as this (keeps -log10 finite). */
const P_FLOOR = 1e-300

/** Score of a tail probability `p`: `-log10(p) / 10`, clamped to [0, 1]. */
export function scoreOfP(p: number): number {
  if (!(p < 1)) return 0
  return Math.min(1, -Math.log10(Math.max(p, P_FLOOR)) / SCORE_DECADES)
}

/** Tail probability a score stands for (inverse of `scoreOfP`). */
export function pOfScore(score: number): number {
  return 10 ** (-score * SCORE_DECADES)
}

/** Scores at or above this raise alarms by default (`medium`): p ≤ 1e-5. */
export const ALARM_SCORE = 0.5

/** Alarm thresholds per sensitivity: low p ≤ 1e-6.5, medium 1e-5, high 1e-4. */
export const ALARM_SCORES = Object.freeze({ low: 0.65, medium: ALARM_SCORE, high: 0.4 })
export type AnomalySensitivity = keyof typeof ALARM_SCORES
export const ANOMALY_SENSITIVITIES = Object.keys(ALARM_SCORES) as AnomalySensitivity[]
