// usage_anomaly: a key's traffic against its own usual daily and weekly pattern.
// Per key (and per version once it has traffic), request volume and failure ratio
// in fixed buckets, and per key the number of source addresses new to it, are fed,
// in time order, to one streaming SeasonalEnsembleDetector each; a bucket scoring
// above the key's sensitivity raises a finding with the expected band, the observed
// value and since when. Pure: the caller passes the buckets, the source sightings
// and "now" (`completeUntil`); the watch keeps the detectors' state and each key's
// known source addresses.
import { z } from 'zod'
import { alertId, SCOPE_ALL } from '../domain/alert.ts'
import { UNKNOWN_KEY, UNKNOWN_VERSION } from '../domain/auth-event.ts'
import { ALARM_SCORES, ANOMALY_SENSITIVITIES, type AnomalySensitivity } from './anomaly/score.ts'
import { SeasonalEnsembleDetector } from './anomaly/seasonal-ensemble.ts'
import type { AnomalyKind, AnomalyPoint } from './anomaly/types.ts'
import type { Finding } from './findings.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from './types.ts'

const sensitivity = z.enum(ANOMALY_SENSITIVITIES as [AnomalySensitivity, ...AnomalySensitivity[]])

/**
 * Defaults (`analysis.usage_anomaly`):
 * - `bucket_ms` 5 min: one point per bucket per series; a bucket is scored once it
 *   has ended and `settle_ms` (1 min) has passed, and never before the store is
 *   fresh up to its end (ingest lag holds scoring back: silence is not evidence).
 * - `history_ms` 8 days: read when a key is first watched (daemon start, a new key),
 *   so daily and weekly patterns are known from the first evaluation.
 * - `sensitivity` medium (alarm score 0.5, p ≤ 1e-5; low 0.65, high 0.4), and per key
 *   in `keys`, e.g. `keys: { acme-payments: { sensitivity: low } }`.
 * - `min_requests_change` 10 and `min_ratio_change` 0.05: an anomaly must also move
 *   the volume by at least 10 requests per bucket, the failure ratio by at least 5
 *   points, so a quiet key's 1 → 4 requests or one failure in 20 is not an alert.
 * - `min_ratio_requests` 20: the failure ratio of a bucket with fewer requests is not scored.
 * - `hold_ms` 1 h: after an alarm the detector re-learns the new level within a few
 *   buckets; the finding stays while values stay outside the band expected before
 *   it (same side), for at most this long.
 * - `forget_after_ms` 8 days: a version without traffic for this long is no longer watched.
 * - `new_sources`: per key, the source addresses not seen on it within `history_ms`
 *   (its known set), counted per bucket: a burst of them is the classic sign of a
 *   leaked key. Addresses, not client ids: the address is what the gateway observes,
 *   a client id is whatever the caller sends (a leaked key travels with its client's
 *   config, or with none). `min_change` 5: an alarm must also bring 5 more new
 *   addresses per bucket than expected. `prime_ms` 1 day: the first day after a key's
 *   first sighting only fills its known set (everything is new at first), so the
 *   series starts a day after it. `max_known_per_key` 5 000: the known set is
 *   bounded (the least recently seen addresses go first; about 100 bytes each, so
 *   10 000 keys at the bound would hold 5 GB: keys that busy want a lower bound),
 *   and so is each read.
 */
export const usageAnomalySettingsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  bucket_ms: z
    .number()
    .int()
    .min(MINUTE_MS)
    .refine((v) => v % MINUTE_MS === 0, 'bucket_ms must be a whole number of minutes (e.g. 300000 for 5 min)')
    .default(5 * MINUTE_MS),
  settle_ms: z.number().int().nonnegative().default(MINUTE_MS),
  history_ms: z
    .number()
    .int()
    .positive()
    .default(8 * DAY_MS),
  sensitivity: sensitivity.default('medium'),
  keys: z.record(z.string().min(1), z.strictObject({ sensitivity })).default({}),
  min_requests_change: z.number().nonnegative().default(10),
  min_ratio_change: z.number().min(0).max(1).default(0.05),
  min_ratio_requests: z.number().int().min(1).default(20),
  hold_ms: z.number().int().nonnegative().default(HOUR_MS),
  forget_after_ms: z
    .number()
    .int()
    .positive()
    .default(8 * DAY_MS),
  new_sources: z
    .strictObject({
      enabled: z.boolean().default(true),
      min_change: z.number().nonnegative().default(5),
      prime_ms: z.number().int().nonnegative().default(DAY_MS),
      max_known_per_key: z.number().int().min(1).default(5_000),
    })
    .prefault({}),
})
export type UsageAnomalySettings = z.output<typeof usageAnomalySettingsSchema>
export const DEFAULT_USAGE_ANOMALY_SETTINGS: UsageAnomalySettings = Object.freeze(
  usageAnomalySettingsSchema.parse({}),
)

/** One key's requests and failures for one version in one bucket (start epoch ms). */
export interface UsageBucket {
  bucket: number
  version: string
  requests: number
  failures: number
}

/**
 * A source address seen on a key within a read window: the start of the first and of
 * the last minute it was seen in (epoch ms).
 */
export interface SourceSighting {
  source: string
  first: number
  last: number
}

export type UsageMetric = 'requests' | 'failure_ratio' | 'new_sources'

/** One scored bucket of one series: the value against the band the detector expected. */
export interface UsageBandPoint {
  keyId: string
  /** '' for the key's total. */
  version: string
  metric: UsageMetric
  bucket: number
  observed: number
  expected: number
  lower: number
  upper: number
  score: number
}

/** The band and run of an ongoing anomaly on one series. */
interface Run {
  since: number
  last: number
  observed: number
  expected: number
  lower: number
  upper: number
  side: 1 | -1
  score: number
  kind: AnomalyKind
}

interface Series {
  detector: SeasonalEnsembleDetector
  run: Run | null
  /** Start of the last bucket with requests (versions are forgotten after forget_after_ms without). */
  lastActive: number
}

interface KeyState {
  /** Alarm score of the key's sensitivity. */
  threshold: number
  /** Start of the next bucket to feed. */
  next: number
  /** Key-wide series `*` and per-version series, by `${version}\u0000${metric}`. */
  series: Map<string, Series>
  /** Source addresses seen on the key, with the last minute each was seen in; least recently seen first. */
  known: Map<string, number>
  /** First bucket whose new-source count is scored (`prime_ms` after the first sighting); null before any. */
  sourcesFrom: number | null
}

const ALL = SCOPE_ALL

/**
 * The streaming state of every watched key. `advance` feeds whole buckets in
 * order; `findings` lists the anomalies ongoing after the last fed bucket.
 */
export class UsageWatch {
  readonly #s: UsageAnomalySettings
  readonly #keys = new Map<string, KeyState>()

  constructor(settings: UsageAnomalySettings = DEFAULT_USAGE_ANOMALY_SETTINGS) {
    this.#s = settings
  }

  /** Buckets end strictly before this are complete when `completeUntil` is given to `advance`. */
  bucketStart(t: number): number {
    return Math.floor(t / this.#s.bucket_ms) * this.#s.bucket_ms
  }

  /**
   * Where the next read for `keyId` should start: after its last fed bucket, or
   * `history_ms` before `completeUntil` for a key not watched yet.
   */
  readFrom(keyId: string, completeUntil: number): number {
    return this.#keys.get(keyId)?.next ?? this.bucketStart(completeUntil - this.#s.history_ms)
  }

  /**
   * Feeds `keyId`'s buckets that have ended by `completeUntil` and were not fed
   * yet, in time order; a bucket with no row is zero requests. `rows` may hold
   * buckets already fed or not complete yet: they are ignored. Returns every point
   * scored (series past their warm-up), for the expected-band panel.
   */
  advance(
    keyId: string,
    rows: readonly UsageBucket[],
    completeUntil: number,
    sources: readonly SourceSighting[] = [],
  ): UsageBandPoint[] {
    const points: UsageBandPoint[] = []
    const s = this.#s
    const end = this.bucketStart(completeUntil) // buckets [next, end) are complete
    let state = this.#keys.get(keyId)
    if (!state) {
      const sensitivity = s.keys[keyId]?.sensitivity ?? s.sensitivity
      state = {
        threshold: ALARM_SCORES[sensitivity],
        next: this.readFrom(keyId, completeUntil),
        series: new Map(),
        known: new Map(),
        sourcesFrom: null,
      }
      this.#keys.set(keyId, state)
    }
    if (end <= state.next) return points
    const byBucket = new Map<number, UsageBucket[]>()
    for (const r of rows) {
      if (r.bucket < state.next || r.bucket >= end) continue
      const b = this.bucketStart(r.bucket)
      byBucket.set(b, [...(byBucket.get(b) ?? []), r])
    }
    const sightings = new Map<number, SourceSighting[]>()
    if (s.new_sources.enabled) {
      for (const x of sources) {
        const b = this.bucketStart(x.first)
        if (b < state.next || b >= end) continue
        const list = sightings.get(b)
        if (list) list.push(x)
        else sightings.set(b, [x])
      }
    }
    for (let b = state.next; b < end; b += s.bucket_ms) {
      const list = byBucket.get(b) ?? []
      let requests = 0
      let failures = 0
      const versions = new Map<string, { requests: number; failures: number }>()
      for (const r of list) {
        requests += r.requests
        failures += r.failures
        const v = versions.get(r.version) ?? { requests: 0, failures: 0 }
        v.requests += r.requests
        v.failures += r.failures
        versions.set(r.version, v)
      }
      this.#feed(state, keyId, ALL, b, requests, failures, points)
      if (s.new_sources.enabled) this.#feedSources(state, keyId, b, sightings.get(b) ?? [], points)
      for (const [version, v] of versions) {
        if (v.requests > 0 && !state.series.has(`${version}\u0000requests`))
          this.#series(state, version, 'requests', b)
      }
      for (const key of [...state.series.keys()]) {
        const [version, metric] = key.split('\u0000') as [string, UsageMetric]
        if (version === ALL || metric !== 'requests') continue
        const v = versions.get(version) ?? { requests: 0, failures: 0 }
        this.#feed(state, keyId, version, b, v.requests, v.failures, points)
        const series = state.series.get(key)!
        if (b - series.lastActive > s.forget_after_ms) {
          state.series.delete(key)
          state.series.delete(`${version}\u0000failure_ratio`)
        }
      }
    }
    state.next = end
    return points
  }

  /**
   * Ongoing anomalies of `keyId` after its last fed bucket. A version's anomaly that
   * says what the key's says (same start, same value: all the key's traffic is on
   * that version) is listed once, for the key.
   */
  findings(keyId: string): Finding[] {
    const state = this.#keys.get(keyId)
    if (!state) return []
    const out: Finding[] = []
    for (const [key, series] of state.series) {
      const run = series.run
      if (!run) continue
      const [version, metric] = key.split('\u0000') as [string, UsageMetric]
      const whole = version === ALL ? null : state.series.get(`${ALL}\u0000${metric}`)?.run
      if (whole && whole.since === run.since && whole.observed === run.observed) continue
      out.push(this.#finding(keyId, version === ALL ? '' : version, metric, run))
    }
    return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }

  /** Stops watching keys not in `keyIds` (their state is dropped). */
  /** Whether `keyId` is watched (its history was fed). */
  watching(keyId: string): boolean {
    return this.#keys.has(keyId)
  }

  retain(keyIds: ReadonlySet<string>): void {
    for (const k of [...this.#keys.keys()]) if (!keyIds.has(k)) this.#keys.delete(k)
  }

  /**
   * Counts the bucket's addresses the key has not seen within `history_ms`, learns
   * them, and feeds the count once the key is primed.
   */
  #feedSources(
    state: KeyState,
    keyId: string,
    bucket: number,
    seen: readonly SourceSighting[],
    points: UsageBandPoint[],
  ): void {
    const s = this.#s
    const known = state.known
    const forgotten = bucket - s.history_ms
    let fresh = 0
    for (const x of seen) {
      const last = known.get(x.source)
      if (last === undefined || last < forgotten) fresh++
      // Re-inserted: the map stays ordered by when each address was last seen.
      known.delete(x.source)
      known.set(x.source, Math.max(x.last, last ?? x.last))
    }
    for (const [source, last] of known) {
      if (known.size <= s.new_sources.max_known_per_key && last >= forgotten) break
      known.delete(source)
    }
    if (state.sourcesFrom === null) {
      if (seen.length === 0) return
      state.sourcesFrom = bucket + s.new_sources.prime_ms
    }
    if (bucket < state.sourcesFrom) return
    const series = this.#series(state, ALL, 'new_sources', bucket)
    const p = this.#score(series, bucket, fresh, state.threshold, s.new_sources.min_change, 1)
    if (p.expected !== null) points.push(bandPoint(keyId, '', 'new_sources', bucket, p))
  }

  #series(state: KeyState, version: string, metric: UsageMetric, at: number): Series {
    const key = `${version}\u0000${metric}`
    let s = state.series.get(key)
    if (!s) {
      s = { detector: new SeasonalEnsembleDetector(), run: null, lastActive: at }
      state.series.set(key, s)
    }
    return s
  }

  /** Feeds one bucket's totals to a version's (or the key's) series; a series starts at its first traffic. */
  #feed(
    state: KeyState,
    keyId: string,
    version: string,
    bucket: number,
    requests: number,
    failures: number,
    points: UsageBandPoint[],
  ): void {
    const record = (metric: UsageMetric, p: AnomalyPoint) => {
      if (p.expected !== null)
        points.push(bandPoint(keyId, version === ALL ? '' : version, metric, bucket, p))
    }
    const volume = state.series.get(`${version}\u0000requests`)
    if (!volume && requests === 0) return
    const threshold = state.threshold
    const v = volume ?? this.#series(state, version, 'requests', bucket)
    if (requests > 0) v.lastActive = bucket
    record('requests', this.#score(v, bucket, requests, threshold, this.#s.min_requests_change))
    if (requests >= this.#s.min_ratio_requests) {
      const r = this.#series(state, version, 'failure_ratio', bucket)
      record(
        'failure_ratio',
        this.#score(r, bucket, failures / requests, threshold, this.#s.min_ratio_change),
      )
    }
  }

  /** Scores one value; `onlySide` 1 alarms only on rises (fewer new addresses than usual is no news). */
  #score(
    series: Series,
    bucket: number,
    value: number,
    threshold: number,
    minChange: number,
    onlySide?: 1,
  ): AnomalyPoint {
    const p = series.detector.push(bucket, value)
    const run = series.run
    if (run) {
      // Still beyond the band expected before the anomaly, on its side, and not held too long:
      // the same anomaly, whatever the re-learned detector makes of it now.
      const beyond = run.side > 0 ? value > run.upper : value < run.lower
      if (beyond && bucket - run.since < this.#s.hold_ms) {
        run.last = bucket
        run.observed = value
        if (p.expected !== null && (value >= p.expected ? 1 : -1) === run.side)
          run.score = Math.max(run.score, p.score)
        return p
      }
      series.run = null
    }
    if (p.expected === null || p.score < threshold || Math.abs(value - p.expected) < minChange) return p
    const side = value >= p.expected ? 1 : -1
    if (onlySide !== undefined && side !== onlySide) return p
    series.run = {
      since: bucket,
      last: bucket,
      observed: value,
      expected: p.expected,
      lower: p.lower!,
      upper: p.upper!,
      side,
      score: p.score,
      kind: p.kind ?? (side > 0 ? 'spike' : 'dip'),
    }
    return p
  }

  #finding(keyId: string, version: string, metric: UsageMetric, run: Run): Finding {
    const s = this.#s
    const scope = `metric=${metric}`
    // Traffic no key could be identified for is watched as one more key: the unknown-key rate.
    const what =
      keyId === UNKNOWN_KEY
        ? 'requests with an unknown key'
        : version === UNKNOWN_VERSION
          ? `${keyId} with an unregistered version`
          : version === ''
            ? keyId
            : `${keyId} ${version}`
    const minutes = s.bucket_ms / MINUTE_MS
    const fmt = (x: number) =>
      metric === 'failure_ratio' ? `${(100 * x).toFixed(1)}%` : `${Math.round(x * 10) / 10}`
    const band = `${fmt(Math.max(0, run.lower))}–${fmt(run.upper)}`
    const moved =
      metric === 'requests'
        ? run.side > 0
          ? 'traffic surged'
          : 'traffic collapsed'
        : metric === 'new_sources'
          ? 'burst of new source addresses'
          : run.side > 0
            ? 'failure ratio rose'
            : 'failure ratio fell'
    const unit =
      metric === 'requests'
        ? ` requests per ${minutes} min`
        : metric === 'new_sources'
          ? ` source addresses not seen on it in ${s.history_ms >= DAY_MS ? `${Math.round(s.history_ms / DAY_MS)} days` : `${Math.round(s.history_ms / HOUR_MS)} h`}, per ${minutes} min,`
          : ` of requests failing per ${minutes} min`
    const sens = s.keys[keyId]?.sensitivity ?? s.sensitivity
    return {
      id: alertId({ type: 'usage_anomaly', keyId, version, scope }),
      type: 'usage_anomaly',
      severity: 'warning',
      keyId,
      version,
      scope,
      labels: {},
      title: `Usage anomaly on ${what}: ${moved} (${fmt(run.observed)}, expected ${band})`,
      summary:
        `${what}: ${fmt(run.observed)}${unit} where its usual daily and weekly pattern expected ${band} ` +
        `(around ${fmt(run.expected)}), since ${new Date(run.since).toISOString()}. ` +
        (metric === 'requests'
          ? run.side > 0
            ? 'A sudden surge can be a leaked key or a retry storm.'
            : 'A sudden collapse can mean its clients are failing before they reach the gateway.'
          : metric === 'new_sources'
            ? 'Traffic from many addresses never seen on this key is the classic sign of a leaked key: check where they are.'
            : 'Check the failure reasons of this key.'),
      evidence: {
        metric,
        observed: run.observed,
        expected: run.expected,
        expectedLower: run.lower,
        expectedUpper: run.upper,
        since: run.since,
        anomalyScore: Math.round(run.score * 1000) / 1000,
        kind: run.kind,
        bucketMs: s.bucket_ms,
        sensitivity: sens,
      },
      firstSeen: run.since,
      lastSeen: run.last + s.bucket_ms,
    }
  }
}

/** A scored bucket as the expected-band panel stores it (`p` has an expected value). */
function bandPoint(
  keyId: string,
  version: string,
  metric: UsageMetric,
  bucket: number,
  p: AnomalyPoint,
): UsageBandPoint {
  return {
    keyId,
    version,
    metric,
    bucket,
    observed: p.value,
    expected: p.expected!,
    lower: p.lower!,
    upper: p.upper!,
    score: p.score,
  }
}
