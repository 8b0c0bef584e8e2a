import { describe, expect, it } from 'vitest'
import { scoreSeries, summarise } from './window-score.ts'

describe('window scoring', () => {
  const scores = [0, 0.9, 0, 0, 0, 0.2, 0.6, 0.7, 0, 0]
  it('counts the first alarm in a window with its delay, and alarms outside windows after probation', () => {
    // window [4, 8): first alarm at 6 → delay (6 - 4) / 4 = 0.5; alarm at 1 is in probation.
    expect(scoreSeries(scores, [{ from: 4, to: 8, at: 5 }], 2, 0.5)).toEqual({
      windows: 1,
      detected: 1,
      delaySum: 0.5,
      falseAlarms: 0,
      falseAlarmEvents: 0,
      calmPoints: 4,
    })
    // probation 0: the alarm at 1 is false.
    expect(scoreSeries(scores, [{ from: 4, to: 8, at: 5 }], 0, 0.5).falseAlarms).toBe(1)
  })

  it('counts a run of false alarm points as one false alarm event', () => {
    // Alarms at 0-1 (a run), 3 (alone), 6 (in the window [5, 8)), 8-9 (a run).
    const o = scoreSeries([0.9, 0.9, 0, 0.9, 0, 0, 0.9, 0, 0.9, 0.9], [{ from: 5, to: 8, at: 6 }], 0, 0.5)
    expect([o.falseAlarms, o.falseAlarmEvents, o.detected]).toEqual([5, 3, 1])
  })

  it('summarises: +1 at the window start, +0.5 at its end, -1 per miss, -0.25 per false alarm, per 100 windows', () => {
    const s = summarise([
      { windows: 2, detected: 1, delaySum: 0.5, falseAlarms: 2, falseAlarmEvents: 1, calmPoints: 10_000 },
      { windows: 0, detected: 0, delaySum: 0, falseAlarms: 1, falseAlarmEvents: 1, calmPoints: 10_000 },
    ])
    // (1 - 0.5 × 0.5) - 1 - 0.25 × 3 = -1 → 100 × -1 / 2
    expect(s.score).toBeCloseTo(-50, 12)
    expect(s.falseAlarmsPer10k).toBeCloseTo(1.5, 12)
    expect(s.meanDelay).toBe(0.5)
    // Event-wise: 1 detected, 2 false alarm events → precision 1/3; recall 1/2; F1 2·(1/6)/(5/6) = 0.4.
    expect([s.precision, s.recall]).toEqual([1 / 3, 1 / 2])
    expect(s.f1).toBeCloseTo(0.4, 12)
  })
})
