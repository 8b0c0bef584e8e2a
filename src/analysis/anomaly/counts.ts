// The Poisson failure-spike detector (spikes.ts) behind the series-detector
// contract, for event counts: `keyshift detect --model counts`, and the daemon's
// failure series. Only rises are scored; values must be counts (≥ 0).
import type { SpikeSettings } from '../spikes.ts'
import { DEFAULT_SPIKE_SETTINGS, StreamingDetector } from '../spikes.ts'
import type { AnomalyPoint, PointDetector } from './types.ts'

export class CountsDetector implements PointDetector {
  private readonly d: StreamingDetector

  constructor(settings: SpikeSettings = DEFAULT_SPIKE_SETTINGS) {
    this.d = new StreamingDetector(settings)
  }

  /** Throws ValidationError for a negative or non-finite value or a timestamp in an earlier step. */
  push(time: number, value: number): AnomalyPoint {
    const s = this.d.push(time, value)
    const e = s.evidence
    const perStep = e.expected === null ? null : (e.expected * this.d.settings.step_ms) / e.windowMs
    return {
      time,
      value,
      score: s.score,
      expected: perStep,
      lower: perStep === null ? null : 0,
      upper: null,
      kind: s.isSpike ? 'spike' : null,
    }
  }
}
