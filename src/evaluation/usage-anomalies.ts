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
import { laneHeld, withPriority } from '../shared/work-priority.ts'
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
/**
 * Keys not watched yet have history_ms of buckets to read and feed (≈ 25 ms of
 * CPU each): a round takes at least MIN_NEW_KEYS_PER_ROUND of them and more
 * while it has spent under NEW_KEYS_BUDGET_MS, so after a start at 10 000 keys
 * the watch warms up over a few minutes of rounds instead of one round of
 * minutes that holds every alert back. A key not warmed up raises nothing yet
 * (it would be in its warm-up anyway).
 */
const MIN_NEW_KEYS_PER_ROUND = 50
const NEW_KEYS_BUDGET_MS = 500
/** While feeding, the event loop gets a turn at least this often (HTTP, ingest). */
const YIELD_EVERY_MS = 20
/** Scored buckets older than this are not written as bands: a new key's 8 days of history would be 2 300 rows per series. */
const BAND_HISTORY_MS = 86_400_000

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve))
/** While an evaluation round runs, feeding looks again this often. */
const ROUND_PAUSE_MS = 5
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

export class UsageAnomalies {
  readonly #s: UsageAnomalySettings
  readonly #src: UsageSources
  readonly #watch: UsageWatch
  /** Bucket start up to which every watched key was fed at the last read, and the findings then. */
  #fedUntil = Number.NEGATIVE_INFINITY
  #last: Finding[] = []
  #pendingBands: UsageBandPoint[] = []

  readonly #log: Pick<Logger, 'warn'> | null

  readonly #newKeysBudgetMs: number

  constructor(
    settings: UsageAnomalySettings,
    sources: UsageSources,
    logger?: Pick<Logger, 'warn'>,
    /** NEW_KEYS_BUDGET_MS, for tests. */
    newKeysBudgetMs = NEW_KEYS_BUDGET_MS,
  ) {
    this.#s = settings
    this.#src = sources
    this.#log = logger ?? null
    this.#newKeysBudgetMs = newKeysBudgetMs
    this.#watch = new UsageWatch(settings)
  }

  /**
   * Ongoing usage anomalies at `now`. A failed read rejects (the evaluation
   * retries); keys fed before it stay fed, each key's buckets are fed whole or
   * not at all.
   */
  async findings(now: number): Promise<Finding[]> {
    if (!this.#s.enabled) return []
    const { lagMs } = await this.#src.freshness(now)
    if (lagMs === null) return this.#last
    const completeUntil = now - Math.max(lagMs, 0) - this.#s.settle_ms
    const end = this.#watch.bucketStart(completeUntil)
    if (end <= this.#fedUntil) return this.#last

    const keys = [...(await this.#src.keys(now))].sort()
    this.#watch.retain(new Set(keys))
    const feed = new Feed(end - BAND_HISTORY_MS)
    // Watched keys first, a bucket or a few each; keys fed up to the same bucket share reads.
    const byFrom = new Map<number, string[]>()
    const fresh: string[] = []
    for (const k of keys) {
      if (!this.#watch.watching(k)) fresh.push(k)
      else {
        const from = this.#watch.readFrom(k, completeUntil)
        if (from < end) byFrom.set(from, [...(byFrom.get(from) ?? []), k])
      }
    }
    for (const [from, ks] of byFrom) {
      for (const chunk of this.#chunks(ks, from, end))
        await this.#readAndFeed(chunk, from, end, completeUntil, feed)
    }
    // Then keys not watched yet, their whole history each, within the round's budget.
    let admitted = 0
    if (fresh.length > 0) {
      const from = this.#watch.readFrom(fresh[0]!, completeUntil)
      for (const chunk of this.#chunks(fresh, from, end)) {
        if (admitted >= MIN_NEW_KEYS_PER_ROUND && performance.now() - feed.started > this.#newKeysBudgetMs)
          break
        await this.#readAndFeed(chunk, from, end, completeUntil, feed)
        admitted += chunk.length
      }
    }
    const out = keys.flatMap((k) => this.#watch.findings(k))
    // Keys still to warm up: the next round goes on with them, not only after the next bucket.
    if (admitted === fresh.length) this.#fedUntil = end
    this.#last = out
    await this.#recordBands([...this.#pendingBands, ...feed.bands])
    return out
  }

  /** Keys in chunks whose read stays bounded (KEY_BUCKETS_PER_READ over the window). */
  *#chunks(keys: readonly string[], from: number, end: number): Generator<string[]> {
    const buckets = Math.max(1, Math.ceil((end - from) / this.#s.bucket_ms))
    const perRead = Math.min(MAX_KEYS_PER_READ, Math.max(1, Math.floor(KEY_BUCKETS_PER_READ / buckets)))
    for (let i = 0; i < keys.length; i += perRead) yield keys.slice(i, i + perRead)
  }

  /** Reads a chunk's buckets (and sightings) over [from, end), then feeds each key of it. */
  async #readAndFeed(
    chunk: readonly string[],
    from: number,
    end: number,
    completeUntil: number,
    feed: Feed,
  ): Promise<void> {
    const w = { from, to: end }
    const rows = await this.#src.usageBuckets(chunk, w, this.#s.bucket_ms)
    const sightings = this.#s.new_sources.enabled ? this.#src.sourceSightings?.bind(this.#src) : undefined
    const seen = sightings ? await sightings(chunk, w, this.#s.new_sources.max_known_per_key) : null
    for (const k of chunk) {
      const points = this.#watch.advance(k, rows.get(k) ?? [], completeUntil, seen?.get(k) ?? [])
      for (const p of points) if (p.bucket >= feed.bandsFrom) feed.bands.push(p)
      if (laneHeld() || performance.now() - feed.lastTurn > YIELD_EVERY_MS) {
        await nextTurn()
        // An evaluation round runs: it has the main thread too, not only the store.
        while (laneHeld()) await pause(ROUND_PAUSE_MS)
        feed.lastTurn = performance.now()
      }
    }
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

/** One round's feeding: when it started, when it last gave the event loop a turn, the bands it scored. */
class Feed {
  readonly started = performance.now()
  lastTurn = this.started
  readonly bands: UsageBandPoint[] = []
  constructor(readonly bandsFrom: number) {}
}

/**
 * The usage watch's findings without holding an evaluation round: `latest(now)`
 * answers the last completed update's findings at once and starts the next
 * update when none runs; an update whose findings differ asks for an evaluation
 * (`kick`). A bucket's reads, or new keys warming up after a start (minutes of
 * rounds at 10 000 keys), then never delay the alerts a round carries. A failed
 * update keeps the last findings (and is logged); the next round tries again.
 */
export class UsageInBackground {
  readonly #usage: Pick<UsageAnomalies, 'findings'>
  readonly #kick: () => void
  readonly #log: Pick<Logger, 'warn'>
  #last: Finding[] = []
  #running: Promise<void> | null = null

  constructor(usage: Pick<UsageAnomalies, 'findings'>, kick: () => void, logger: Pick<Logger, 'warn'>) {
    this.#usage = usage
    this.#kick = kick
    this.#log = logger
  }

  latest(now: number): Finding[] {
    if (this.#running === null) {
      // Marked background: latest() runs inside a round, whose mark it would inherit.
      this.#running = withPriority('background', () => this.#usage.findings(now))
        .then(
          (found) => {
            const changed = JSON.stringify(found) !== JSON.stringify(this.#last)
            this.#last = found
            if (changed) this.#kick()
          },
          (err) =>
            this.#log.warn(
              { err: (err as Error).message },
              'Updating usage anomalies failed; keeping the last ones, trying again next round.',
            ),
        )
        .finally(() => {
          this.#running = null
        })
    }
    return this.#last
  }

  /** Waits for an update in flight (before the store closes). */
  async stop(): Promise<void> {
    await this.#running
  }
}
