import { describe, expect, it } from 'vitest'
import { TailCalibrator } from './tail.ts'

const make = (compact = false) =>
  new TailCalibrator({
    capacity: 100,
    refreshEvery: 20,
    tailFraction: 0.05,
    minSigma: 0.01,
    minHistory: 20,
    prior: (x) => Math.exp(-x),
    compact,
  })

describe('TailCalibrator', () => {
  it('uses the prior until minHistory values are in', () => {
    const t = make()
    for (let i = 0; i < 19; i++) t.add(i)
    expect(t.pValue(2)).toBeCloseTo(Math.exp(-2), 12)
  })

  it('counts the values it holds, up to its capacity', () => {
    const t = make()
    for (let i = 0; i < 37; i++) t.add(i)
    expect(t.size).toBe(37)
    for (let i = 0; i < 200; i++) t.add(i)
    expect(t.size).toBe(100)
  })

  it('answers a repeated quantile from the latest refresh, not from the history it replaced', () => {
    const t = make()
    for (let i = 1; i <= 100; i++) t.add(i) // 1..100, refreshed
    // p = 41/101 lies in the body: the value at rank ceil(100 - 41) = 59, i.e. 60.
    expect(t.quantile(41 / 101)).toBe(60)
    expect(t.quantile(41 / 101)).toBe(60)
    for (let i = 1; i <= 100; i++) t.add(1000 + i) // 1001..1100: refreshed every 20
    expect(t.quantile(41 / 101)).toBe(1060)
  })

  it('gives conformal p-values in the body: (values ≥ x + 1) / (n + 1)', () => {
    const t = make()
    for (let i = 1; i <= 100; i++) t.add(i) // 1..100
    // 100 values; 61..100 are ≥ 60.5 → (40 + 1) / 101
    expect(t.pValue(60.5)).toBeCloseTo(41 / 101, 12)
    expect(t.pValue(0)).toBe(1)
  })

  it('extrapolates past the largest value with a slightly light tail when the exceedances are uniform-like', () => {
    const t = make()
    for (let i = 1; i <= 100; i++) t.add(i)
    // k = 5: threshold = sorted[100 - 5 - 1] = 95; exceedances 1..5 (mean 3, variance 2):
    // moment shape 0.5 · (1 - 9/2) = -1.75, shrunk by 5 / (5 + 50) → -0.159, kept at the
    // lightest allowed, -0.025; sigma = mean · (1 - ξ) = 3.075; zeta = 6/101.
    const [xi, sigma, zeta] = [-0.025, 3 * 1.025, 6 / 101]
    const p101 = zeta * (1 + (xi * 6) / sigma) ** (-1 / xi)
    expect(t.pValue(101)).toBeCloseTo(p101, 12)
    expect(t.quantile(p101)).toBeCloseTo(101, 9)
  })

  it("gives a tiny but non-zero probability beyond a light tail's end point", () => {
    const t = make()
    for (let i = 1; i <= 100; i++) t.add(i)
    // End point: threshold + sigma / |ξ| = 95 + 3.075 / 0.025 = 218; past it, zeta · 1e-12.
    expect(t.pValue(219)).toBeCloseTo((6 / 101) * 1e-12, 24)
    // Well inside it, the fitted tail: at 150, y = 55.
    expect(t.pValue(150)).toBeCloseTo((6 / 101) * (1 - (0.025 * 55) / 3.075) ** 40, 20)
  })

  it('keeps only the most recent `capacity` values', () => {
    const t = make()
    for (let i = 0; i < 100; i++) t.add(1000)
    for (let i = 1; i <= 100; i++) t.add(i)
    expect(t.pValue(60.5)).toBeCloseTo(41 / 101, 12)
  })
})

describe('TailCalibrator memory', () => {
  const big = (capacity = 1024) =>
    new TailCalibrator({
      capacity,
      refreshEvery: capacity >> 1,
      tailFraction: 0.05,
      minSigma: 0.01,
      minHistory: 64,
      prior: (x) => Math.exp(-x),
    })

  it('grows its history as it fills: 64, then doubling, never past its capacity', () => {
    const t = big(1000)
    expect(t.room).toBe(64)
    for (let i = 0; i < 64; i++) t.add(i)
    expect(t.room).toBe(64)
    t.add(64)
    expect(t.room).toBe(128)
    for (let i = 0; i < 600; i++) t.add(i)
    expect(t.room).toBe(1000)
    for (let i = 0; i < 5000; i++) t.add(i)
    expect(t.room).toBe(1000)
    expect(t.size).toBe(1000)
  })

  it('answers the same after other calibrators refreshed through the shared sort buffer', () => {
    const a = big()
    for (let i = 1; i <= 1024; i++) a.add(i)
    const before = [a.pValue(10.5), a.pValue(700.25), a.pValue(1000), a.pValue(2000), a.quantile(0.3)]
    // Another calibrator, larger values, refreshing many times in between.
    const b = big(4096)
    for (let i = 0; i < 10_000; i++) b.add(1e6 - i)
    expect([a.pValue(10.5), a.pValue(700.25), a.pValue(1000), a.pValue(2000), a.quantile(0.3)]).toEqual(
      before,
    )
  })

  it('keeps 65 body points of a long history: exact on a linear body, (values ≥ x + 1) / (n + 1)', () => {
    const t = big()
    for (let i = 1; i <= 1024; i++) t.add(i) // top = 1024 - 51 - 1 = 972 (value 973)
    expect(t.pValue(500.5)).toBeCloseTo(525 / 1025, 12)
    expect(t.pValue(0.5)).toBe(1)
    expect(t.pValue(973)).toBeCloseTo(53 / 1025, 12) // 973..1024 and the point itself
    // p = 0.5 → rank ceil(1024 - 512.5) = 512 → value 513, between two body points.
    expect(t.quantile(0.5)).toBeCloseTo(513, 9)
  })

  it('is within 1/64 of the body of the exact conformal p-value on a skewed history', () => {
    const t = big()
    const xs: number[] = []
    let seed = 12345
    for (let i = 0; i < 1024; i++) {
      seed = (seed * 1103515245 + 12345) % 2 ** 31
      const x = Math.fround(-Math.log(1 - seed / 2 ** 31)) // exponential, as the ring keeps it (Float32)
      xs.push(x)
      t.add(x)
    }
    xs.sort((a, b) => a - b)
    const threshold = xs[972]!
    let worst = 0
    let previous = 1
    for (let x = 0; x <= threshold; x += threshold / 997) {
      const exact = (xs.filter((v) => v >= x).length + 1) / 1025
      const p = t.pValue(x)
      worst = Math.max(worst, Math.abs(p - exact))
      expect(p).toBeLessThanOrEqual(previous) // never rises with x
      previous = p
    }
    // Body points every 972 / 64 ≈ 15.2 ranks: at most 15 values misplaced.
    expect(worst).toBeLessThanOrEqual(15 / 1025 + 1e-12)
    expect(worst).toBeGreaterThan(0) // interpolated, not exact: the bound is what is pinned
  })
})

describe('TailCalibrator compact history', () => {
  it('answers as the full-precision history does, to 1.2e-4 of the values', () => {
    const full = make(false)
    const compact = make(true)
    for (let i = 1; i <= 100; i++) {
      full.add(i / 7)
      compact.add(i / 7)
    }
    // Body: counts of values, unchanged while no value is within 1.2e-4 of x.
    expect(compact.pValue(60.5 / 7)).toBe(full.pValue(60.5 / 7))
    // Tail: the fit moves by about the values' precision.
    const x = 101 / 7
    expect(Math.abs(compact.pValue(x) / full.pValue(x) - 1)).toBeLessThan(2e-3)
    expect(Math.abs(compact.quantile(0.5) - full.quantile(0.5))).toBeLessThan(1.2e-4 * full.quantile(0.5))
  })

  it('keeps negative values and saturates beyond ≈ 2 980 instead of wrapping', () => {
    const t = make(true)
    for (let i = 0; i < 50; i++) t.add(-1 - i / 100)
    for (let i = 0; i < 10; i++) t.add(1e9)
    // Negative values stay below 0: p at 0 counts only the 10 saturated ones (and the point).
    expect(t.pValue(0)).toBeCloseTo(11 / 61, 12)
    // The saturated values are ≈ 2 980 (e^(32767/4096) - 1), not 1e9 and not wrapped to negative.
    expect(t.quantile(5 / 61)).toBe(Math.fround(Math.expm1(32767 / 4096))) // body points are Float32
  })

  it('at the threshold itself counts at most the body below it, even when Float32 rounds it down', () => {
    const t = make(true)
    for (let i = 1; i <= 60; i++) t.add(i / 3) // k = 3: threshold at rank 56, the coded 57 / 3
    const threshold = Math.expm1(Math.round(Math.log1p(57 / 3) * 4096) / 4096)
    expect(Math.fround(threshold)).toBeLessThan(threshold) // the body point is below it
    // Values ≥ threshold: ranks 56..59 (4) and the point itself.
    expect(t.pValue(threshold)).toBeCloseTo(5 / 61, 12)
  })
})
