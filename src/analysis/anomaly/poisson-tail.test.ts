import { describe, expect, it } from 'vitest'
import { poissonLowerTail } from './poisson-tail.ts'

describe('poissonLowerTail', () => {
  it('sums the Poisson terms up to s', () => {
    // P(N ≤ 0 | 18) = e^-18: three empty buckets where 6 a bucket were expected.
    expect(poissonLowerTail(0, 18)).toBeCloseTo(Math.exp(-18), 20)
    // P(N ≤ 2 | 2) = e^-2 (1 + 2 + 2²/2) = 5 e^-2
    expect(poissonLowerTail(2, 2)).toBeCloseTo(5 * Math.exp(-2), 14)
    // P(N ≤ 1 | 0.5) = e^-0.5 (1 + 0.5)
    expect(poissonLowerTail(1, 0.5)).toBeCloseTo(1.5 * Math.exp(-0.5), 14)
  })

  it('is 0 below zero, 1 with nothing expected, and never above 1', () => {
    expect(poissonLowerTail(-1, 3)).toBe(0)
    expect(poissonLowerTail(0, 0)).toBe(1)
    expect(poissonLowerTail(500, 3)).toBe(1)
  })
})
