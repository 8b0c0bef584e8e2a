// Scores a detector's output against labelled anomaly windows the way streaming
// anomaly benchmarks do: a detection counts when it lands in the window around a
// labelled anomaly, the earlier the better; a missed window costs; every alarm
// outside a window (after the probation) is a false positive and costs too.

export interface ScoredWindow {
  /** Point indices [from, to); `at` is where the anomaly starts. */
  from: number
  to: number
  at: number
}

export interface SeriesOutcome {
  windows: number
  detected: number
  /** Sum over detected windows of (first alarm index - from) / (to - from). */
  delaySum: number
  /** Alarm points outside every window, after probation. */
  falseAlarms: number
  /** Runs of consecutive such points: what an operator sees as separate false alarms. */
  falseAlarmEvents: number
  /** Points outside every window, after probation. */
  calmPoints: number
}

/** Weights: a detection at the window's start earns 1, at its end 0.5; a miss costs 1, a false alarm 0.25. */
export const WINDOW_WEIGHTS = Object.freeze({ missed: -1, falseAlarm: -0.25, lateDetection: 0.5 })

export function scoreSeries(
  scores: ArrayLike<number>,
  windows: readonly ScoredWindow[],
  probation: number,
  threshold: number,
): SeriesOutcome {
  const inWindow = new Uint8Array(scores.length)
  for (const w of windows) inWindow.fill(1, w.from, w.to)
  let detected = 0
  let delaySum = 0
  for (const w of windows) {
    for (let i = w.from; i < w.to; i++) {
      if (scores[i]! >= threshold) {
        detected++
        delaySum += (i - w.from) / (w.to - w.from)
        break
      }
    }
  }
  let falseAlarms = 0
  let falseAlarmEvents = 0
  let calmPoints = 0
  let inRun = false
  for (let i = probation; i < scores.length; i++) {
    if (inWindow[i]) {
      inRun = false
      continue
    }
    calmPoints++
    const alarm = scores[i]! >= threshold
    if (alarm) falseAlarms++
    if (alarm && !inRun) falseAlarmEvents++
    inRun = alarm
  }
  return { windows: windows.length, detected, delaySum, falseAlarms, falseAlarmEvents, calmPoints }
}

export interface SuiteOutcome extends SeriesOutcome {
  /** 100·(net reward)/windows: 100 when every window is caught at its start with no false alarm, -100 when none is caught; false alarms lower it further. */
  score: number
  falseAlarmsPer10k: number
  meanDelay: number
  /** Event-wise: detected windows / (detected windows + false alarm events); 1 with no alarm at all. */
  precision: number
  /** Detected windows / windows. */
  recall: number
  f1: number
}

export function summarise(outcomes: readonly SeriesOutcome[]): SuiteOutcome {
  const t = { windows: 0, detected: 0, delaySum: 0, falseAlarms: 0, falseAlarmEvents: 0, calmPoints: 0 }
  for (const o of outcomes) {
    t.windows += o.windows
    t.detected += o.detected
    t.delaySum += o.delaySum
    t.falseAlarms += o.falseAlarms
    t.falseAlarmEvents += o.falseAlarmEvents
    t.calmPoints += o.calmPoints
  }
  const claimed = t.detected + t.falseAlarmEvents
  const precision = claimed > 0 ? t.detected / claimed : 1
  const recall = t.windows > 0 ? t.detected / t.windows : 1
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0
  const w = WINDOW_WEIGHTS
  const raw =
    t.detected -
    (1 - w.lateDetection) * t.delaySum +
    w.missed * (t.windows - t.detected) +
    w.falseAlarm * t.falseAlarms
  return {
    ...t,
    score: t.windows > 0 ? (100 * raw) / t.windows : 0,
    falseAlarmsPer10k: t.calmPoints > 0 ? (1e4 * t.falseAlarms) / t.calmPoints : 0,
    meanDelay: t.detected > 0 ? t.delaySum / t.detected : 0,
    precision,
    recall,
    f1,
  }
}
