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

  it('gives conformal p-values in the body: (values ≥ x + 1) / (n + 1)', () => {
    const t = make()
    for (let i = 1; i <= 100; i++) t.add(i) // 1..100
    // 100 values; 61..100 are ≥ 60.5 → (40 + 1) / 101
    expect(t.pValue(60.5)).toBeCloseTo(41 / 101, 12)
    expect(t.pValue(0)).toBe(1)
  })

  it('extrapolates past the largest value with an exponential tail when the exceedances are uniform-like', () => {
    const t = make()
    for (let i = 1; i <= 100; i++) t.add(i)
    // k = 5: threshold = sorted[100 - 5 - 1] = 95; exceedances 1..5 (mean 3, variance 2):
    // ratio 4.5 → moment shape < 0 → clipped to 0, sigma = mean = 3; zeta = 6/101.
    expect(t.pValue(101)).toBeCloseTo((6 / 101) * Math.exp(-6 / 3), 12)
    expect(t.quantile((6 / 101) * Math.exp(-6 / 3))).toBeCloseTo(101, 9)
  })

  it('keeps only the most recent `capacity` values', () => {
    const t = make()
    for (let i = 0; i < 100; i++) t.add(1000)
    for (let i = 1; i <= 100; i++) t.add(i)
    expect(t.pValue(60.5)).toBeCloseTo(41 / 101, 12)
  })
})
