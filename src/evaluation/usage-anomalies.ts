// Feeds the usage-anomaly watch (analysis/usage-anomaly.ts) from the store, for
// the evaluation loop: once per completed bucket it lists the keys, reads each
// key's buckets since the last one fed (history_ms back for a key it has not
// watched yet) and returns the ongoing usage_anomaly findings. Between buckets it
// returns the same findings without reading. Buckets are scored only up to where
// the store is fresh: with ingest lagging, nothing is scored (zero is not evidence).
// Source addresses are read over the same windows: history_ms back once (the key's
// known set), then only the buckets since the last read, so a round costs the
// addresses active since the last bucket, not the history.
import type { Finding } from '../analysis/findings.ts'
import type { TimeWindow } from '../analysis/types.ts'
import {
  type SourceSighting,
  type UsageAnomalySettings,
  type UsageBandPoint,
  type UsageBucket,
  UsageWatch,
} from '../analysis/usage-anomaly.ts'
import type { Logger } from '../telemetry/logger.ts'

/** The reads the watch needs (AnalyticsStore, StatusStore, KeyRegistry). */
export interface UsageSources {
  /** Keys to watch at `now`: with traffic lately or registered. */
  keys(now: number): Promise<readonly string[]>
  usageBuckets(
    keyIds: readonly string[],
    w: TimeWindow,
    bucketMs: number,
  ): Promise<Map<string, UsageBucket[]>>
  /**
   * Each source address seen on each key in the window, with the first and last minute
   * it was seen in; at most `maxPerKey` per key, the most recently seen. Optional:
   * without it new sources are not watched.
   */
  sourceSightings?(
    keyIds: readonly string[],
    w: TimeWindow,
    maxPerKey: number,
  ): Promise<Map<string, SourceSighting[]>>
  freshness(now: number): Promise<{ lagMs: number | null }>
  /** Stores the scored buckets (the expected-band panel's data); optional. */
  recordBands?(points: readonly UsageBandPoint[]): Promise<void>
}

/**
 * Key-buckets per read: one read's rows stay bounded. A history read (8 days of 5-min
 * buckets ≈ 2 300 per key) takes 10 keys; a round's read of the last bucket takes up
 * to MAX_KEYS_PER_READ, so 10 000 keys cost tens of reads per round, not thousands.
 */
const KEY_BUCKETS_PER_READ = 24_000
const MAX_KEYS_PER_READ = 1000
/** Band rows kept for the next try while the store refuses them (8 days of ~30 series). */
const MAX_PENDING_BANDS = 100_000

export class UsageAnomalies {
  readonly #s: UsageAnomalySettings
  readonly #src: UsageSources
  readonly #watch: UsageWatch
  /** Bucket start up to which every watched key was fed at the last read, and the findings then. */
  #fedUntil = Number.NEGATIVE_INFINITY
  #last: Finding[] = []
  #pendingBands: UsageBandPoint[] = []

  readonly #log: Pick<Logger, 'warn'> | null

  constructor(settings: UsageAnomalySettings, sources: UsageSources, logger?: Pick<Logger, 'warn'>) {
    this.#s = settings
    this.#src = sources
    this.#log = logger ?? null
    this.#watch = new UsageWatch(settings)
  }

  /** Ongoing usage anomalies at `now`; a failed read rejects (the evaluation retries) and feeds nothing. */
  async findings(now: number): Promise<Finding[]> {
    if (!this.#s.enabled) return []
    const { lagMs } = await this.#src.freshness(now)
    if (lagMs === null) return this.#last
    const completeUntil = now - Math.max(lagMs, 0) - this.#s.settle_ms
    const end = this.#watch.bucketStart(completeUntil)
    if (end <= this.#fedUntil) return this.#last

    const keys = [...(await this.#src.keys(now))].sort()
    this.#watch.retain(new Set(keys))
    // Keys fed up to the same bucket share reads (new keys read their history).
    const byFrom = new Map<number, string[]>()
    for (const k of keys) {
      const from = this.#watch.readFrom(k, completeUntil)
      byFrom.set(from, [...(byFrom.get(from) ?? []), k])
    }
    const rowsOf = new Map<string, UsageBucket[]>()
    const sourcesOf = new Map<string, SourceSighting[]>()
    const sightings = this.#s.new_sources.enabled ? this.#src.sourceSightings?.bind(this.#src) : undefined
    for (const [from, ks] of byFrom) {
      const buckets = Math.max(1, Math.ceil((end - from) / this.#s.bucket_ms))
      const perRead = Math.min(MAX_KEYS_PER_READ, Math.max(1, Math.floor(KEY_BUCKETS_PER_READ / buckets)))
      for (let i = 0; i < ks.length; i += perRead) {
        const chunk = ks.slice(i, i + perRead)
        const w = { from, to: end }
        const rows = await this.#src.usageBuckets(chunk, w, this.#s.bucket_ms)
        for (const k of chunk) rowsOf.set(k, rows.get(k) ?? [])
        if (!sightings) continue
        const seen = await sightings(chunk, w, this.#s.new_sources.max_known_per_key)
        for (const k of chunk) sourcesOf.set(k, seen.get(k) ?? [])
      }
    }
    // Every read succeeded: only now is anything fed, so a failure leaves the watch as it was.
    const out: Finding[] = []
    const bands = this.#pendingBands
    for (const k of keys) {
      bands.push(...this.#watch.advance(k, rowsOf.get(k) ?? [], completeUntil, sourcesOf.get(k) ?? []))
      out.push(...this.#watch.findings(k))
    }
    this.#fedUntil = end
    this.#last = out
    await this.#recordBands(bands)
    return out
  }

  /**
   * The band rows are for display: a store refusing them must not hold the alerts
   * back. They are kept (the newest MAX_PENDING_BANDS) and written with the next
   * bucket's.
   */
  async #recordBands(bands: UsageBandPoint[]): Promise<void> {
    if (!this.#src.recordBands || bands.length === 0) return
    try {
      await this.#src.recordBands(bands)
      this.#pendingBands = []
    } catch (err) {
      this.#pendingBands = bands.slice(-MAX_PENDING_BANDS)
      this.#log?.warn(
        { err: (err as Error).message, pending: this.#pendingBands.length },
        'Writing usage bands failed; keeping them for the next bucket.',
      )
    }
  }
}
