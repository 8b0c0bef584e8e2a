// Baseline detector: how far a point is from the mean of the previous `window`
// points, in standard deviations, scored through the normal tail. Kept as the
// simple reference the evaluation suite (bench:detect) measures the others against.
import { ValidationError } from '../../domain/errors.ts'
import { scoreOfP } from './score.ts'
import type { AnomalyPoint, PointDetector } from './types.ts'

/** P(|Z| ≥ z) for a standard normal Z (Abramowitz–Stegun 7.1.26 through erfc, then a log-space tail). */
export function normalTwoSided(z: number): number {
  const x = Math.abs(z) / Math.SQRT2
  if (x > 5) {
    // erfc(x) ≈ exp(-x²) / (x √π) (1 - 1/(2x²)): keeps precision far in the tail.
    return (Math.exp(-x * x) / (x * Math.sqrt(Math.PI))) * (1 - 1 / (2 * x * x))
  }
  const t = 1 / (1 + 0.3275911 * x)
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
  return poly * Math.exp(-x * x)
}

export class RollingZScoreDetector implements PointDetector {
  private readonly ring: Float64Array
  private count = 0
  private pos = 0
  private sum = 0
  private sumSq = 0
  private lastTime = Number.NEGATIVE_INFINITY

  constructor(readonly window = 60) {
    if (!(Number.isInteger(window) && window >= 3))
      throw new ValidationError(`window must be ≥ 3, got ${window}`)
    this.ring = new Float64Array(window)
  }

  push(time: number, value: number): AnomalyPoint {
    if (!Number.isFinite(time) || !Number.isFinite(value) || time < this.lastTime)
      throw new ValidationError(`point (${time}, ${value}) is not finite or out of order`)
    this.lastTime = time
    let score = 0
    let expected: number | null = null
    let sd = 0
    if (this.count >= 3) {
      expected = this.sum / this.count
      sd = Math.sqrt(Math.max(this.sumSq / this.count - expected * expected, 0))
      const z = sd > 0 ? (value - expected) / sd : value === expected ? 0 : 1e3
      score = scoreOfP(normalTwoSided(z))
    }
    if (this.count === this.window) {
      const old = this.ring[this.pos]!
      this.sum -= old
      this.sumSq -= old * old
    } else this.count++
    this.ring[this.pos] = value
    this.pos = (this.pos + 1) % this.window
    this.sum += value
    this.sumSq += value * value
    const band = expected === null ? null : 4.42 * sd // p = 1e-5
    return {
      time,
      value,
      score,
      expected,
      lower: expected === null || band === null ? null : expected - band,
      upper: expected === null || band === null ? null : expected + band,
      kind: null,
    }
  }
}
