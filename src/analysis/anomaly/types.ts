// The contract every streaming series detector in this folder keeps: points go
// in one at a time, in time order, and each is scored from the points before it
// only. Scores are calibrated tail probabilities mapped onto [0, 1] (see score.ts).

export type AnomalyKind = 'spike' | 'dip' | 'level_shift' | 'variance_change' | 'flat_line'

export interface AnomalyPoint {
  time: number
  value: number
  /**
   * Anomaly score in [0, 1]: `-log10(p) / 10` for the tail probability `p` of what
   * was seen (so 0.3 ≈ 1 in 1 000, 0.5 ≈ 1 in 100 000, 1.0 ≈ 1 in 10^10 or rarer).
   */
  score: number
  /** The detector's forecast for this point, from the points before it; null while it warms up. */
  expected: number | null
  /** Band the point was expected in (the forecast ± the alarm-level deviation); null while warming up. */
  lower: number | null
  upper: number | null
  /** What looks wrong, when the score is above 0.3 (1 in 1 000); null otherwise. */
  kind: AnomalyKind | null
}

/** A streaming detector: scores each point from the points before it, in bounded memory. */
export interface PointDetector {
  /**
   * Scores the point and then learns from it. `time` is epoch ms, non-decreasing;
   * `value` a finite number. Throws ValidationError otherwise (the point is not learned).
   */
  push(time: number, value: number): AnomalyPoint
}
