// Feeds the usage-anomaly watch (analysis/usage-anomaly.ts) from the store, for
// the evaluation loop: once per completed bucket it lists the keys, reads each
// key's buckets since the last one fed (history_ms back for a key it has not
// watched yet) and returns the ongoing usage_anomaly findings. Between buckets it
// returns the same findings without reading. Buckets are scored only up to where
// the store is fresh: with ingest lagging, nothing is scored (zero is not evidence).
import type { Finding } from '../analysis/findings.ts'
import type { TimeWindow } from '../analysis/types.ts'
import {
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
  freshness(now: number): Promise<{ lagMs: number | null }>
  /** Stores the scored buckets (the expected-band panel's data); optional. */
  recordBands?(points: readonly UsageBandPoint[]): Promise<void>
}

/**
 * Rows per read, about: 10 keys' first read (8 days of 5-min buckets ≈ 2 300
 * rows per version). Later reads cover one bucket or a few, so many more keys
 * share one read: at 10 000 keys a bucket costs a few reads, not a thousand.
 */
const BUCKETS_PER_READ = 25_000
const MIN_KEYS_PER_READ = 10
const MAX_KEYS_PER_READ = 2_000

/** Keys per read for a window of `buckets` buckets (see BUCKETS_PER_READ). */
export function keysPerRead(buckets: number): number {
  const n = Math.floor(BUCKETS_PER_READ / Math.max(1, buckets))
  return Math.min(MAX_KEYS_PER_READ, Math.max(MIN_KEYS_PER_READ, n))
}
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
    for (const [from, ks] of byFrom) {
      const perRead = keysPerRead(Math.ceil((end - from) / this.#s.bucket_ms))
      for (let i = 0; i < ks.length; i += perRead) {
        const chunk = ks.slice(i, i + perRead)
        const rows = await this.#src.usageBuckets(chunk, { from, to: end }, this.#s.bucket_ms)
        for (const k of chunk) rowsOf.set(k, rows.get(k) ?? [])
      }
    }
    // Every read succeeded: only now is anything fed, so a failure leaves the watch as it was.
    const out: Finding[] = []
    const bands = this.#pendingBands
    for (const k of keys) {
      bands.push(...this.#watch.advance(k, rowsOf.get(k) ?? [], completeUntil))
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
