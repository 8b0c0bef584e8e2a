import { describe, expect, it } from 'vitest'
import { labelledSeries } from '../../scenario/anomaly-series.ts'
import { DAY_MS, MINUTE_MS } from '../types.ts'
import { SeasonalEnsembleDetector } from './seasonal-ensemble.ts'

const T0 = Date.UTC(2026, 0, 5)
/** Deterministic noise in [-1, 1]. */
const noise = (i: number) => (((i * 7919) % 201) - 100) / 100

function scores(values: number[], stepMs = 5 * MINUTE_MS): number[] {
  const d = new SeasonalEnsembleDetector()
  return values.map((v, i) => d.push(T0 + i * stepMs, v).score)
}

describe('SeasonalEnsembleDetector', () => {
  it('scores the same series the same at any scale and offset, negative values included', () => {
    const base = Array.from({ length: 2000 }, (_, i) => Math.sin(i / 50) + 0.3 * noise(i))
    base[1500] = 4
    const a = scores(base)
    const b = scores(base.map((v) => -7e6 + 3e6 * v))
    for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i]!, 6)
    expect(a[1500]).toBeGreaterThanOrEqual(0.5)
  })

  it('re-learns after a level shift: alarms at the shift, quiet again soon after', () => {
    const v = Array.from({ length: 1500 }, (_, i) => (i < 1000 ? 10 : 30) + noise(i))
    const s = scores(v)
    expect(Math.max(...s.slice(100, 1000))).toBeLessThan(0.5)
    expect(Math.max(...s.slice(1000, 1005))).toBeGreaterThanOrEqual(0.5)
    expect(Math.max(...s.slice(1050))).toBeLessThan(0.5)
  })

  it('finds a flat line in a series that never repeats a value', () => {
    const v = Array.from({ length: 1200 }, (_, i) => 50 + noise(i) + i * 1e-6)
    for (let i = 1000; i < 1030; i++) v[i] = v[999]!
    const s = scores(v)
    expect(Math.max(...s.slice(100, 1000))).toBeLessThan(0.5)
    expect(Math.max(...s.slice(1000, 1030))).toBeGreaterThanOrEqual(0.5)
  })

  it('after a gap of hours on a wandering series, follows the level it finds instead of alarming on it', () => {
    // A smooth climb of 0.2 per 5 min with noise 1; four hours missing (the level moved by ~10).
    const d = new SeasonalEnsembleDetector()
    const at = (i: number) => 50 + 0.2 * i + noise(i)
    for (let i = 0; i < 1000; i++) d.push(T0 + i * 5 * MINUTE_MS, at(i))
    const after = Array.from(
      { length: 10 },
      (_, k) => d.push(T0 + (1048 + k) * 5 * MINUTE_MS, at(1048 + k)).score,
    )
    // The first point back may stand out; from the second on the fast level has restarted there.
    expect(after.slice(1).filter((x) => x >= 0.5)).toEqual([])
  })

  it('after a flat line ends, the returning series is not a second alarm (scenario generator, huge scale)', () => {
    // Ten hours stuck at one value while the daily cycle goes down, then the cycle again.
    const s = labelledSeries('huge', 'flat_line', 2)
    const w = s.windows[0]!
    const d = new SeasonalEnsembleDetector()
    const sc = s.values.map((v, i) => d.push(s.times[i]!, v).score)
    expect(Math.max(...sc.slice(w.from, w.to))).toBeGreaterThanOrEqual(0.5)
    expect(sc.slice(w.to, w.to + 144).filter((x) => x >= 0.5)).toEqual([])
  })

  it('learns a daily cycle: a night-time value normal by day is an anomaly', () => {
    const day = (t: number) => 100 + 80 * Math.sin((2 * Math.PI * (t % DAY_MS)) / DAY_MS)
    const d = new SeasonalEnsembleDetector()
    const step = 10 * MINUTE_MS
    let last = 0
    for (let i = 0; i < 144 * 9; i++) last = d.push(T0 + i * step, day(T0 + i * step) + 2 * noise(i)).score
    expect(last).toBeLessThan(0.5)
    // 18:00 (trough, ~20): the value of 06:00 (peak, ~180) is far off.
    const t = T0 + 144 * 9 * step + 18 * 3_600_000
    const p = d.push(t, 180)
    expect(p.score).toBeGreaterThanOrEqual(0.5)
    expect(p.expected).toBeGreaterThan(10)
    expect(p.expected).toBeLessThan(40)
    expect(p.lower!).toBeLessThan(p.expected!)
    expect(p.upper!).toBeGreaterThan(p.expected!)
  })

  it('raises at most one alarm in three calm weeks of seasonal traffic (scenario generator, 6 048 points)', () => {
    const s = labelledSeries('traffic', null, 7, 21)
    const d = new SeasonalEnsembleDetector()
    let alarms = 0
    for (let i = 0; i < s.values.length; i++) if (d.push(s.times[i]!, s.values[i]!).score >= 0.5) alarms++
    expect(alarms).toBeLessThanOrEqual(1)
  })

  it('rejects a timestamp going back and non-finite values without learning them', () => {
    const d = new SeasonalEnsembleDetector()
    d.push(T0 + 60_000, 1)
    expect(() => d.push(T0, 1)).toThrow('earlier than the previous point')
    expect(() => d.push(T0 + 120_000, Number.NaN)).toThrow('value NaN is not a finite number')
  })
})
