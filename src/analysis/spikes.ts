// Failure spike detection on per-minute failure counts (one series per key,
// version, reason and gateway). Each point is scored against a baseline built only
// from earlier points: the same time of day on previous days when there is a day of
// history, the recent past otherwise, and absolute thresholds on a cold start.
import { gammaln, mean, median, medianAbsoluteDeviation } from 'simple-statistics'
import { z } from 'zod'
import { ValidationError } from '../domain/errors.ts'
import { DAY_MS, type FailureMinute, HOUR_MS, MINUTE_MS } from './types.ts'

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

export const SPIKE_SENSITIVITIES = ['low', 'medium', 'high'] as const
export type SpikeSensitivity = (typeof SPIKE_SENSITIVITIES)[number]

/**
 * Defaults (sensitivity `medium`), all durations in milliseconds:
 * - `step_ms` 60 000: the series' resolution; timestamps are bucketed to it, absent
 *   buckets between the first and the latest point count as 0 failures.
 * - `window_ms` 300 000: failures are summed over the 5 minutes ending at the point,
 *   so a sparse key's few failures add up to evidence.
 * - `alpha` 1e-4: a window is surprising when P(X ≥ observed | Poisson(expected)) ≤ alpha.
 * - `min_failures` 5: minimum evidence, fewer failures in the window never make a spike.
 * - `min_ratio` 2: observed must be at least twice the expected count (absorbs the
 *   extra variance real traffic has over a Poisson process); the point's own bucket
 *   must also be at least `min_ratio` × the per-bucket expectation, so the minutes
 *   after a burst are not flagged for it.
 * - `min_expected_per_window` 0.1: floor of the expected count, so a key that never
 *   failed still needs `min_failures` failures and a small p-value.
 * - `min_failure_rate` 0.05: when request counts are known, the window's failure
 *   rate must be ≥ 5% (a failure count that grew with traffic is not a spike).
 * - `min_history_ms` 3 600 000: history before the window needed for the `recent`
 *   baseline; with less, the detector is on a cold start.
 * - `recent_baseline_ms` 86 400 000: how far back the `recent` baseline looks.
 * - `seasonal_days` 7, `seasonal_half_width_ms` 900 000: the `seasonal` baseline is
 *   the median over previous days (up to 7) of the failure rate in the same
 *   minute-of-day ±15 min; used as soon as one such day is fully in the history.
 * - `cold_start_min_failures` 20, `cold_start_min_failure_rate` 0.25: with no usable
 *   history, a spike is ≥ 20 failures in the window (and ≥ 25% of requests when known).
 * - `max_history_ms` 8 days: memory bound of the streaming detector.
 * `sensitivity` picks another preset for alpha and the evidence minimums (see
 * `SENSITIVITY_PRESETS`); explicitly given fields override the preset.
 */
export interface SpikeSettings {
  sensitivity: SpikeSensitivity
  step_ms: number
  window_ms: number
  alpha: number
  min_failures: number
  min_ratio: number
  min_expected_per_window: number
  min_failure_rate: number
  min_history_ms: number
  recent_baseline_ms: number
  seasonal_days: number
  seasonal_half_width_ms: number
  cold_start_min_failures: number
  cold_start_min_failure_rate: number
  max_history_ms: number
}

type Tunable = Omit<SpikeSettings, 'sensitivity'>

const MEDIUM: Tunable = {
  step_ms: MINUTE_MS,
  window_ms: 5 * MINUTE_MS,
  alpha: 1e-4,
  min_failures: 5,
  min_ratio: 2,
  min_expected_per_window: 0.1,
  min_failure_rate: 0.05,
  min_history_ms: HOUR_MS,
  recent_baseline_ms: DAY_MS,
  seasonal_days: 7,
  seasonal_half_width_ms: 15 * MINUTE_MS,
  cold_start_min_failures: 20,
  cold_start_min_failure_rate: 0.25,
  max_history_ms: 8 * DAY_MS,
}

/** What each sensitivity changes from the `medium` defaults. */
export const SENSITIVITY_PRESETS: Readonly<Record<SpikeSensitivity, Partial<Tunable>>> = Object.freeze({
  low: { alpha: 1e-6, min_failures: 10, min_ratio: 3, cold_start_min_failures: 50 },
  medium: {},
  high: { alpha: 1e-3, min_failures: 3, min_ratio: 1.5, cold_start_min_failures: 10 },
})

const ms = z.number().int().positive()
const fields = {
  sensitivity: z.enum(SPIKE_SENSITIVITIES).default('medium'),
  step_ms: ms.optional(),
  window_ms: ms.optional(),
  alpha: z.number().gt(0).lt(1).optional(),
  min_failures: z.number().min(0).optional(),
  min_ratio: z.number().min(1).optional(),
  min_expected_per_window: z.number().gt(0).optional(),
  min_failure_rate: z.number().min(0).max(1).optional(),
  min_history_ms: ms.optional(),
  recent_baseline_ms: ms.optional(),
  seasonal_days: z.number().int().min(0).max(28).optional(),
  seasonal_half_width_ms: z.number().int().min(0).optional(),
  cold_start_min_failures: z.number().gt(0).optional(),
  cold_start_min_failure_rate: z.number().min(0).max(1).optional(),
  max_history_ms: ms.optional(),
}

/** Strict config schema: `{ sensitivity?, ...any field of SpikeSettings }` → full settings. */
export const spikeSettingsSchema = z
  .strictObject(fields)
  .transform((given): SpikeSettings => {
    const explicit = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined))
    return {
      ...MEDIUM,
      ...SENSITIVITY_PRESETS[given.sensitivity],
      ...explicit,
      sensitivity: given.sensitivity,
    }
  })
  .superRefine((s, ctx) => {
    const issue = (path: keyof SpikeSettings, message: string) =>
      ctx.addIssue({ code: 'custom', path: [path], message })
    if (DAY_MS % s.step_ms !== 0) issue('step_ms', `must divide one day (86400000 ms), got ${s.step_ms}`)
    if (s.window_ms % s.step_ms !== 0) issue('window_ms', `must be a multiple of step_ms (${s.step_ms})`)
    if (s.min_history_ms < s.window_ms) issue('min_history_ms', `must be at least window_ms (${s.window_ms})`)
    const needed = s.seasonal_days * DAY_MS + s.seasonal_half_width_ms + s.window_ms
    if (s.max_history_ms < needed) {
      issue(
        'max_history_ms',
        `must cover seasonal_days days + seasonal_half_width_ms + window_ms (${needed} ms)`,
      )
    }
    if (s.max_history_ms < s.recent_baseline_ms + s.window_ms) {
      issue(
        'max_history_ms',
        `must cover recent_baseline_ms + window_ms (${s.recent_baseline_ms + s.window_ms} ms)`,
      )
    }
  })

export type SpikeSettingsInput = z.input<typeof spikeSettingsSchema>

/** Parses settings; throws ValidationError naming the field and the fix. */
export function spikeSettings(input: SpikeSettingsInput = {}): SpikeSettings {
  const r = spikeSettingsSchema.safeParse(input)
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')
    throw new ValidationError(`invalid spike settings: ${msg}`)
  }
  return Object.freeze(r.data)
}

export const DEFAULT_SPIKE_SETTINGS: SpikeSettings = spikeSettings({})

// ---------------------------------------------------------------------------
// Scores
// ---------------------------------------------------------------------------

export type SpikeMethod = 'seasonal' | 'recent' | 'cold_start'

/** Why a point is not a spike although it is above its baseline. */
export type SpikeGate = 'min_failures' | 'min_ratio' | 'min_failure_rate' | 'not_significant'

export interface SpikeEvidence {
  method: SpikeMethod
  windowMs: number
  /** Failures in the window ending with the point's bucket. */
  observed: number
  /** Baseline failures for one window; null on a cold start. */
  expected: number | null
  /** P(X ≥ observed) under Poisson(expected); null on a cold start or at/below the baseline. */
  pValue: number | null
  /** Requests in the window and failures / requests, null when the series has no request counts. */
  requests: number | null
  failureRate: number | null
  /** Days (seasonal) or windows (recent) the baseline was built from; 0 on a cold start. */
  baselineSamples: number
  /** Set when the point is above the baseline but not a spike. */
  gate: SpikeGate | null
}

export interface SpikeScore {
  time: number
  value: number
  /**
   * Anomaly score in [0, 1]. 0: at or below the baseline; 0.5 is the spike threshold
   * (p = alpha, or the cold-start minimum); 1: twice as surprising (in -log10 p) or
   * more. Points held back by a minimum-evidence rule are capped at 0.49, so
   * `isSpike` is exactly `score >= 0.5`.
   */
  score: number
  isSpike: boolean
  evidence: SpikeEvidence
}

/** Score ceiling of a point that a minimum-evidence rule keeps from being a spike. */
export const GATED_SCORE_MAX = 0.49

/**
 * log10 P(X ≥ k) for X ~ Poisson(lambda), k > lambda > 0, summed from k upwards in
 * log space so tiny tails (1e-300 and below) stay exact. Fractional k is accepted
 * (continuous extension through the gamma function).
 */
export function log10PoissonTail(k: number, lambda: number): number {
  if (!(lambda > 0) || !(k > lambda))
    throw new RangeError(`need k > lambda > 0, got k=${k}, lambda=${lambda}`)
  const logFirst = k * Math.log(lambda) - lambda - gammaln(k + 1)
  let sum = 1
  let term = 1
  for (let i = 1; i < 1_000_000; i++) {
    term *= lambda / (k + i)
    sum += term
    if (term < 1e-17 * sum) break
  }
  return (logFirst + Math.log(sum)) / Math.LN10
}

/** Mean of window sums after capping each at median + 3 robust standard deviations (at least +3). */
function cappedMean(blocks: number[]): number {
  const m = median(blocks)
  const cap = m + 3 * Math.max(1.4826 * medianAbsoluteDeviation(blocks), 1)
  return mean(blocks.map((b) => Math.min(b, cap)))
}

/**
 * Scores one point at a time from the points before it, in bounded memory (a ring
 * of `max_history_ms / step_ms` buckets). Timestamps must not go back to an earlier
 * bucket; several points in one bucket add up.
 */
export class StreamingDetector {
  readonly settings: SpikeSettings
  private readonly capacity: number
  private readonly tags: Float64Array
  private readonly values: Float64Array
  private readonly requests: Float64Array
  private firstBucket: number | null = null
  private lastBucket: number | null = null

  constructor(settings: SpikeSettings = DEFAULT_SPIKE_SETTINGS) {
    this.settings = settings
    this.capacity = Math.ceil(settings.max_history_ms / settings.step_ms)
    this.tags = new Float64Array(this.capacity).fill(-1)
    this.values = new Float64Array(this.capacity)
    this.requests = new Float64Array(this.capacity)
  }

  /**
   * Adds a point and scores it. `value` is a failure count; `requests` (optional) the
   * requests in the same bucket, enabling the failure-rate rules.
   * Throws ValidationError on a non-finite or negative number or a timestamp in an
   * earlier bucket than the previous point's.
   */
  push(time: number, value: number, requests?: number): SpikeScore {
    if (!Number.isFinite(time)) throw new ValidationError(`timestamp ${time} is not a finite number`)
    if (!(Number.isFinite(value) && value >= 0))
      throw new ValidationError(`value ${value} is not a count ≥ 0`)
    if (requests !== undefined && !(Number.isFinite(requests) && requests >= 0)) {
      throw new ValidationError(`requests ${requests} is not a count ≥ 0`)
    }
    const s = this.settings
    const bucket = Math.floor(time / s.step_ms)
    if (this.lastBucket !== null && bucket < this.lastBucket) {
      throw new ValidationError(
        `timestamp ${new Date(time).toISOString()} is earlier than the previous point's (${new Date(
          this.lastBucket * s.step_ms,
        ).toISOString()} bucket); points must come in time order`,
      )
    }
    this.firstBucket ??= bucket
    this.lastBucket = bucket
    const slot = bucket % this.capacity
    if (this.tags[slot] !== bucket) {
      this.tags[slot] = bucket
      this.values[slot] = 0
      this.requests[slot] = 0
    }
    this.values[slot]! += value
    this.requests[slot]! += requests ?? 0
    return { time, value, ...this.score(bucket, requests !== undefined) }
  }

  private valueAt(bucket: number): number {
    const slot = bucket % this.capacity
    return this.tags[slot] === bucket ? this.values[slot]! : 0
  }

  private sum(from: number, to: number, of: Float64Array = this.values): number {
    let total = 0
    for (let b = from; b <= to; b++) {
      const slot = b % this.capacity
      if (this.tags[slot] === b) total += of[slot]!
    }
    return total
  }

  private score(bucket: number, withRequests: boolean): Omit<SpikeScore, 'time' | 'value'> {
    const s = this.settings
    const windowBuckets = s.window_ms / s.step_ms
    const knownFrom = Math.max(this.firstBucket!, bucket - this.capacity + 1)
    const windowStart = Math.max(bucket - windowBuckets + 1, knownFrom)
    const observed = this.sum(windowStart, bucket)
    const current = this.valueAt(bucket)
    const requests = withRequests ? this.sum(windowStart, bucket, this.requests) : null
    const failureRate = requests === null ? null : requests > 0 ? observed / requests : observed > 0 ? 1 : 0
    const base = { windowMs: s.window_ms, observed, requests, failureRate }

    const baseline = this.baseline(bucket, bucket - windowBuckets + 1, knownFrom, windowBuckets)
    if (baseline === null) {
      const evidence = {
        ...base,
        method: 'cold_start' as const,
        expected: null,
        pValue: null,
        baselineSamples: 0,
      }
      if (current <= 0) return { score: 0, isSpike: false, evidence: { ...evidence, gate: null } }
      const raw = Math.min(1, (0.5 * observed) / s.cold_start_min_failures)
      const rateOk = failureRate === null || failureRate >= s.cold_start_min_failure_rate
      const isSpike = observed >= s.cold_start_min_failures && rateOk
      const gate = raw >= 0.5 && !isSpike ? ('min_failure_rate' as const) : null
      return {
        score: isSpike ? raw : Math.min(raw, GATED_SCORE_MAX),
        isSpike,
        evidence: { ...evidence, gate },
      }
    }

    const expected = Math.max(baseline.expected, s.min_expected_per_window)
    const evidence = { ...base, method: baseline.method, expected, baselineSamples: baseline.samples }
    if (observed <= expected || current <= 0 || current < s.min_ratio * (expected / windowBuckets)) {
      return { score: 0, isSpike: false, evidence: { ...evidence, pValue: null, gate: null } }
    }
    const log10p = log10PoissonTail(observed, expected)
    const raw = Math.min(1, -log10p / (2 * -Math.log10(s.alpha)))
    let gate: SpikeGate | null = null
    if (observed < s.min_failures) gate = 'min_failures'
    else if (observed < s.min_ratio * expected) gate = 'min_ratio'
    else if (failureRate !== null && failureRate < s.min_failure_rate) gate = 'min_failure_rate'
    else if (raw < 0.5) gate = 'not_significant'
    const isSpike = gate === null
    return {
      score: isSpike ? raw : Math.min(raw, GATED_SCORE_MAX),
      isSpike,
      evidence: { ...evidence, pValue: 10 ** log10p, gate },
    }
  }

  /** Expected failures per window from history before `windowStart`, or null on a cold start. */
  private baseline(
    bucket: number,
    windowStart: number,
    knownFrom: number,
    windowBuckets: number,
  ): { method: 'seasonal' | 'recent'; expected: number; samples: number } | null {
    const s = this.settings
    const dayBuckets = DAY_MS / s.step_ms
    const half = Math.floor(s.seasonal_half_width_ms / s.step_ms)
    const dailyRates: number[] = []
    for (let d = 1; d <= s.seasonal_days; d++) {
      const center = bucket - d * dayBuckets
      if (center - half < knownFrom) break
      dailyRates.push(this.sum(center - half, center + half) / (2 * half + 1))
    }
    if (dailyRates.length > 0) {
      return { method: 'seasonal', expected: median(dailyRates) * windowBuckets, samples: dailyRates.length }
    }
    const from = Math.max(knownFrom, windowStart - s.recent_baseline_ms / s.step_ms)
    if ((windowStart - from) * s.step_ms < s.min_history_ms) return null
    const blocks: number[] = []
    for (let end = windowStart - 1; end - windowBuckets + 1 >= from; end -= windowBuckets) {
      blocks.push(this.sum(end - windowBuckets + 1, end))
    }
    return { method: 'recent', expected: cappedMean(blocks), samples: blocks.length }
  }
}

// ---------------------------------------------------------------------------
// Batch helpers over the store's failure rows
// ---------------------------------------------------------------------------

export interface FailurePoint {
  time: number
  failures: number
  /** All requests in the same bucket of the series' (key, version, gateway), when known. */
  requests?: number
}

/** Scores a whole series in time order, each point from the points before it. */
export function scoreFailureSeries(
  points: readonly FailurePoint[],
  settings: SpikeSettings = DEFAULT_SPIKE_SETTINGS,
): SpikeScore[] {
  const detector = new StreamingDetector(settings)
  return [...points].sort((a, b) => a.time - b.time).map((p) => detector.push(p.time, p.failures, p.requests))
}

export interface FailureSeries {
  keyId: string
  version: string
  gateway: string
  reason: string
  points: FailurePoint[]
}

/**
 * Splits failure rows into one series per (key, version, gateway, failure reason),
 * summed over clients. Each series has a point for every minute in which its (key,
 * version, gateway) had requests, so `requests` counts all requests, successes included.
 * Series sorted by key, version, gateway, reason; points by time.
 */
export function failureSeriesOf(rows: readonly FailureMinute[]): FailureSeries[] {
  const sep = '\u0000'
  const minutes = new Map<string, Map<number, { requests: number; byReason: Map<string, number> }>>()
  const reasons = new Map<string, Set<string>>()
  for (const r of rows) {
    const group = [r.keyId, r.version, r.gateway].join(sep)
    let byMinute = minutes.get(group)
    if (!byMinute) {
      byMinute = new Map()
      minutes.set(group, byMinute)
      reasons.set(group, new Set())
    }
    let m = byMinute.get(r.minute)
    if (!m) {
      m = { requests: 0, byReason: new Map() }
      byMinute.set(r.minute, m)
    }
    m.requests += r.requests
    if (r.reason !== 'none' && r.failures > 0) {
      m.byReason.set(r.reason, (m.byReason.get(r.reason) ?? 0) + r.failures)
      reasons.get(group)!.add(r.reason)
    }
  }
  const out: FailureSeries[] = []
  for (const [group, byMinute] of minutes) {
    const [keyId, version, gateway] = group.split(sep) as [string, string, string]
    const times = [...byMinute.keys()].sort((a, b) => a - b)
    for (const reason of reasons.get(group)!) {
      const points = times.map((t) => {
        const m = byMinute.get(t)!
        return { time: t, failures: m.byReason.get(reason) ?? 0, requests: m.requests }
      })
      out.push({ keyId, version, gateway, reason, points })
    }
  }
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
  return out.sort(
    (a, b) =>
      cmp(a.keyId, b.keyId) ||
      cmp(a.version, b.version) ||
      cmp(a.gateway, b.gateway) ||
      cmp(a.reason, b.reason),
  )
}

export interface SeriesSpikes extends Omit<FailureSeries, 'points'> {
  /** Spike points at or after `since`, in time order. */
  spikes: SpikeScore[]
}

/** Runs the detector over every series of `rows` and keeps the series with spikes at or after `since`. */
export function findFailureSpikes(
  rows: readonly FailureMinute[],
  since: number,
  settings: SpikeSettings = DEFAULT_SPIKE_SETTINGS,
): SeriesSpikes[] {
  const out: SeriesSpikes[] = []
  for (const { points, ...series } of failureSeriesOf(rows)) {
    const spikes = scoreFailureSeries(points, settings).filter((p) => p.isSpike && p.time >= since)
    if (spikes.length > 0) out.push({ ...series, spikes })
  }
  return out
}
