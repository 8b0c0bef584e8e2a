import { describe, expect, it } from 'vitest'
import { TailCalibrator } from './tail.ts'

const make = () =>
  new TailCalibrator({
    capacity: 100,
    refreshEvery: 20,
    tailFraction: 0.05,
    minSigma: 0.01,
    minHistory: 20,
    prior: (x) => Math.exp(-x),
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
