import { describe, expect, it } from 'vitest'
import { ValidationError } from '../domain/errors.ts'
import {
  DEFAULT_SPIKE_SETTINGS,
  failureSeriesOf,
  findFailureSpikes,
  GATED_SCORE_MAX,
  log10PoissonTail,
  StreamingDetector,
  spikeSettings,
} from './spikes.ts'
import { DAY_MS, type FailureMinute, MINUTE_MS } from './types.ts'

const T0 = Date.UTC(2025, 0, 6) // a Monday, 00:00 UTC
const at = (minute: number) => T0 + minute * MINUTE_MS

/** Reference tail Σ_{i ≥ k} e^-λ λ^i / i!, each term built by plain multiplication. */
function tailBySum(k: number, lambda: number): number {
  let term = Math.exp(-lambda)
  let tail = 0
  for (let i = 0; i < k + 400; i++) {
    if (i >= k) tail += term
    term *= lambda / (i + 1)
  }
  return tail
}

describe('log10PoissonTail', () => {
  it.each([
    // P(X ≥ 1 | 0.1) = 1 - e^-0.1
    { k: 1, lambda: 0.1, p: 1 - Math.exp(-0.1) },
    // P(X ≥ 2 | 1) = 1 - 2/e
    { k: 2, lambda: 1, p: 1 - 2 / Math.E },
    // P(X ≥ 3 | 0.5) = 1 - e^-0.5 (1 + 0.5 + 0.125)
    { k: 3, lambda: 0.5, p: 1 - Math.exp(-0.5) * 1.625 },
    { k: 24, lambda: 5, p: tailBySum(24, 5) },
    { k: 130, lambda: 100, p: tailBySum(130, 100) },
  ])('P(X ≥ $k | $lambda)', ({ k, lambda, p }) => {
    expect(10 ** log10PoissonTail(k, lambda) / p).toBeCloseTo(1, 8)
  })

  it('stays finite far in the tail', () => {
    // ln P(X ≥ 1000 | 0.1) ≈ 1000 ln 0.1 - 0.1 - ln 1000!  → log10 ≈ -3567.6
    expect(log10PoissonTail(1000, 0.1)).toBeCloseTo(-1000 - 0.1 / Math.LN10 - 2567.6046, 3)
  })

  it('rejects k ≤ lambda', () => {
    expect(() => log10PoissonTail(1, 2)).toThrow(RangeError)
  })
})

describe('spike settings', () => {
  it('has documented defaults', () => {
    expect(DEFAULT_SPIKE_SETTINGS).toEqual({
      sensitivity: 'medium',
      step_ms: 60_000,
      window_ms: 300_000,
      alpha: 1e-4,
      min_failures: 5,
      min_ratio: 2,
      min_expected_per_window: 0.1,
      min_failure_rate: 0.05,
      min_history_ms: 3_600_000,
      recent_baseline_ms: 86_400_000,
      seasonal_days: 7,
      seasonal_half_width_ms: 900_000,
      cold_start_min_failures: 20,
      cold_start_min_failure_rate: 0.25,
      max_history_ms: 691_200_000,
    })
  })

  it.each([
    { input: { sensitivity: 'low' as const }, alpha: 1e-6, minFailures: 10, minRatio: 3, cold: 50 },
    { input: { sensitivity: 'high' as const }, alpha: 1e-3, minFailures: 3, minRatio: 1.5, cold: 10 },
    {
      input: { sensitivity: 'high' as const, alpha: 0.01 },
      alpha: 0.01,
      minFailures: 3,
      minRatio: 1.5,
      cold: 10,
    },
    { input: { min_failures: 7 }, alpha: 1e-4, minFailures: 7, minRatio: 2, cold: 20 },
  ])('preset $input', ({ input, alpha, minFailures, minRatio, cold }) => {
    const s = spikeSettings(input)
    expect([s.alpha, s.min_failures, s.min_ratio, s.cold_start_min_failures]).toEqual([
      alpha,
      minFailures,
      minRatio,
      cold,
    ])
  })

  it.each([
    { input: { window: 5 }, message: 'Unrecognized key' },
    { input: { window_ms: 90_000 }, message: 'window_ms: must be a multiple of step_ms' },
    { input: { step_ms: 7_000 }, message: 'step_ms: must divide one day' },
    { input: { max_history_ms: DAY_MS }, message: 'max_history_ms: must cover seasonal_days' },
    { input: { alpha: 2 }, message: 'alpha' },
  ])('rejects $input', ({ input, message }) => {
    expect(() => spikeSettings(input as never)).toThrow(ValidationError)
    expect(() => spikeSettings(input as never)).toThrow(message)
  })
})

describe('StreamingDetector', () => {
  it('cold start: absolute thresholds (≥ 20 failures in 5 min), score 0.5 × observed / 20', () => {
    const d = new StreamingDetector()
    const scores = [0, 1, 0, 50, 0].map((v, i) => d.push(at(i), v))
    expect(scores.map((s) => [s.score, s.isSpike, s.evidence.observed])).toEqual([
      [0, false, 0],
      [0.025, false, 1], // 0.5 × 1 / 20
      [0, false, 1], // nothing new in this minute
      [1, true, 51], // min(1, 0.5 × 51 / 20)
      [0, false, 51],
    ])
    expect(scores[3]!.evidence).toMatchObject({ method: 'cold_start', expected: null, pValue: null })
  })

  it('cold start: a failure count below 25% of requests is held back', () => {
    const d = new StreamingDetector()
    const s = d.push(at(0), 30, 1000)
    expect(s).toMatchObject({ score: GATED_SCORE_MAX, isSpike: false })
    expect(s.evidence).toMatchObject({ requests: 1000, failureRate: 0.03, gate: 'min_failure_rate' })
  })

  // Sparse key: one failure every 10 minutes for an hour, given as sparse points.
  // 12 five-minute blocks before the window: six hold 1, six hold 0 → median 0.5,
  // MAD 0.5, cap 0.5 + 3 × max(0.74, 1) = 3.5, capped mean 0.5 failures per window.
  const sparseHistory = [0, 10, 20, 30, 40, 50]
  it.each([
    // P(X ≥ 8 | 0.5) = 6.2197e-8 → -log10 = 7.2062; score = 7.2062 / (2 × 4)
    { value: 8, score: 0.9008, isSpike: true, gate: null, p: 6.2197e-8 },
    // P(X ≥ 3 | 0.5) = 0.014388 → score 1.842 / 8 = 0.2303, and 3 < 5 failures
    { value: 3, score: 0.2303, isSpike: false, gate: 'min_failures', p: 0.014388 },
    // at the baseline: not scored
    { value: 0, score: 0, isSpike: false, gate: null, p: null },
  ])('recent baseline on a sparse key: $value failures', ({ value, score, isSpike, gate, p }) => {
    const d = new StreamingDetector()
    for (const m of sparseHistory) d.push(at(m), 1)
    const s = d.push(at(64), value)
    expect(s.score).toBeCloseTo(score, 4)
    expect(s.isSpike).toBe(isSpike)
    expect(s.evidence).toMatchObject({
      method: 'recent',
      expected: 0.5,
      baselineSamples: 12,
      observed: value,
      gate,
    })
    if (p === null) expect(s.evidence.pValue).toBeNull()
    else expect(s.evidence.pValue! / p).toBeCloseTo(1, 4)
  })

  it('recent baseline caps an earlier burst (robust mean)', () => {
    // Blocks before the window: one holds 100 failures, eleven hold 1 → median 1,
    // MAD 0, cap 1 + 3 = 4 → the burst counts as 4: mean (11 + 4) / 12 = 1.25.
    const d = new StreamingDetector()
    for (let b = 0; b < 12; b++) d.push(at(b * 5), b === 3 ? 100 : 1)
    const s = d.push(at(64), 0)
    expect(s.evidence).toMatchObject({ method: 'recent', expected: 1.25, baselineSamples: 12 })
  })

  // Yesterday 09:00–11:00 failed once a minute, the rest of the day was quiet.
  function withYesterday(): StreamingDetector {
    const d = new StreamingDetector()
    d.push(at(0), 0)
    for (let m = 540; m < 660; m++) d.push(at(m), 1)
    return d
  }
  it.each([
    // 10:00 today, same as yesterday: slot [09:45, 10:15] had 31 × 1 → 1/min → 5 per window
    { name: 'usual 10:00', minute: 600, window: [1, 1, 1, 1, 1], expected: 5, isSpike: false },
    // 10:00 today with a burst: 24 vs 5, P(X ≥ 24 | 5) tiny
    { name: 'burst at 10:00', minute: 600, window: [1, 1, 1, 1, 20], expected: 5, isSpike: true },
    // 03:00 today, yesterday quiet → floor 0.1; five failures are a spike here
    { name: 'five at 03:00', minute: 180, window: [1, 1, 1, 1, 1], expected: 0.1, isSpike: true },
  ])('seasonal baseline: $name', ({ minute, window, expected, isSpike }) => {
    const d = withYesterday()
    let last = d.push(at(1440 + minute - 5), 0)
    window.forEach((v, i) => {
      last = d.push(at(1440 + minute - 4 + i), v)
    })
    expect(last.isSpike).toBe(isSpike)
    expect(last.evidence).toMatchObject({ method: 'seasonal', expected, baselineSamples: 1 })
  })

  it('keeps at most max_history_ms of buckets: a reused slot forgets its old value', () => {
    const d = new StreamingDetector(
      spikeSettings({ seasonal_days: 0, recent_baseline_ms: 60 * MINUTE_MS, max_history_ms: 65 * MINUTE_MS }),
    )
    d.push(at(0), 100)
    // Minute 65 reuses minute 0's slot; memory now starts at minute 1, so the 60 min
    // before the window (1..60) are twelve empty blocks → the 0.1 floor.
    const s = d.push(at(65), 1)
    expect(s.evidence).toMatchObject({ observed: 1, method: 'recent', expected: 0.1, baselineSamples: 12 })
  })

  it('rejects a point in an earlier bucket, accepts one in the same bucket', () => {
    const d = new StreamingDetector()
    d.push(at(5), 1)
    expect(d.push(at(5) + 30_000, 2).evidence.observed).toBe(3)
    expect(() => d.push(at(4), 1)).toThrow(ValidationError)
    expect(() => d.push(at(6), -1)).toThrow(ValidationError)
    expect(() => d.push(Number.NaN, 1)).toThrow(ValidationError)
  })
})

describe('failure series', () => {
  const row = (
    minute: number,
    gateway: string,
    reason: string,
    requests: number,
    failures: number,
  ): FailureMinute => ({
    minute: at(minute),
    keyId: 'acme',
    version: 'v2',
    gateway,
    clientId: 'c1',
    reason,
    requests,
    failures,
  })

  it('splits rows per (key, version, gateway, reason) with all requests of each minute', () => {
    const rows = [
      row(0, 'g1', 'none', 90, 0),
      row(0, 'g1', 'expired', 10, 10),
      row(1, 'g1', 'none', 100, 0),
      row(1, 'g1', 'revoked', 5, 5),
      row(0, 'g2', 'none', 50, 0),
    ]
    expect(failureSeriesOf(rows)).toEqual([
      {
        keyId: 'acme',
        version: 'v2',
        gateway: 'g1',
        reason: 'expired',
        points: [
          { time: at(0), failures: 10, requests: 100 },
          { time: at(1), failures: 0, requests: 105 },
        ],
      },
      {
        keyId: 'acme',
        version: 'v2',
        gateway: 'g1',
        reason: 'revoked',
        points: [
          { time: at(0), failures: 0, requests: 100 },
          { time: at(1), failures: 5, requests: 105 },
        ],
      },
    ])
  })

  it('finds the spikes since a time', () => {
    const rows = [row(0, 'g1', 'none', 10, 0), row(1, 'g1', 'expired', 40, 40), row(2, 'g1', 'none', 10, 0)]
    expect(findFailureSpikes(rows, at(0))).toEqual([
      {
        keyId: 'acme',
        version: 'v2',
        gateway: 'g1',
        reason: 'expired',
        spikes: [
          {
            time: at(1),
            value: 40,
            score: 1, // cold start: min(1, 0.5 × 40 / 20)
            isSpike: true,
            evidence: {
              method: 'cold_start',
              windowMs: 300_000,
              observed: 40,
              expected: null,
              pValue: null,
              requests: 50,
              failureRate: 0.8,
              baselineSamples: 0,
              gate: null,
            },
          },
        ],
      },
    ])
    expect(findFailureSpikes(rows, at(2))).toEqual([])
  })
})
