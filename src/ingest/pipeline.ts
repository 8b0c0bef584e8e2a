// The ingest pipeline: the IngestSink every source submits to. It decodes raw
// records, dead-letters the bad ones, and group-commits batches from all
// partitions to the store (by size or time), with each partition's position
// written alongside. `submit` resolves only once its records are stored, so a
// source never acknowledges anything that is not durable. The exactly-once
// state lives in IngestCore (pure); this class does the I/O around it: timers,
// the store and dead-letter writes, retry of retriable errors, isolation of
// rows the store refuses, health, a bounded shutdown, and metrics.
import { randomUUID } from 'node:crypto'
import type { Counter, Gauge, Histogram } from 'prom-client'
import { Counter as PCounter, Gauge as PGauge, Histogram as PHistogram } from 'prom-client'
import type { AuthEvent } from '../domain/auth-event.ts'
import { DecodeError, KeyshiftError, StoreRefusedDataError } from '../domain/errors.ts'
import { backoffDelay, sleep } from '../shared/retry.ts'
import { withPriority } from '../shared/work-priority.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'
import { type Buffered, contents, type DeadLetter, IngestCore, type Segment } from './ingest-core.ts'
import type { IngestSink, SourceRecord, StoredPosition } from './source.ts'
import type { EncodedEvent, IngestStore, PartitionBatch } from './store-port.ts'

export { coalesce, type DeadLetter, type Segment } from './ingest-core.ts'

/** What one record became (see `Decoder.decodeAll`): a batch record may hold many events. */
export interface DecodedRecord {
  events: AuthEvent[]
  /** Requests counted and skipped as `not_auth_traffic`. */
  skipped: number
  /** Why the record (or part of a batch) is dead-lettered. */
  rejected?: DecodeError
}

export interface RecordDecoder {
  decodeAll(bytes: Buffer, ctx: { now: number; fallbackEventId: string }): DecodedRecord
}

export interface DeadLetterSink {
  /** Durably hands over dead letters; rejects with a retriable error when it cannot. */
  send(letters: readonly DeadLetter[]): Promise<void>
}

/** Dead-letter reason of a record whose decoded event the store refused. */
export const STORE_REFUSED_REASON = 'store_refused'

/**
 * A write that failed this many times with a retriable error is probed for
 * rows the store refuses: an adapter that cannot classify a refusal (an
 * unknown error code) must not loop on one bad row forever.
 */
const PROBE_AFTER_FAILURES = 3

export interface PipelineOptions {
  store: IngestStore
  /** Decoder per source id; sources not listed are rejected at submit. */
  decoderFor: (source: string) => RecordDecoder
  deadLetters: DeadLetterSink
  /**
   * Replaces anything shaped like key material in raw bytes before they are
   * dead-lettered. `truncated`: the bytes are the kept beginning of a longer line,
   * so the cut may have split a key (see `scrubTruncatedBytes`).
   */
  scrub: (bytes: Buffer, truncated: boolean) => Buffer
  logger: Logger
  registry: Registry
  batchMaxEvents: number
  batchMaxWaitMs: number
  /**
   * Sources wait (`room()`) while this many decoded records wait for the next
   * group commit, so at most about twice as many are held (those and the flush
   * being written) however many partitions are assigned. Default: no limit.
   */
  maxBufferedEvents?: number
  retryBaseMs: number
  retryMaxMs: number
  /**
   * Once shutdown begins (`close`/`stop`), how long a failing or hanging store
   * write is still waited for before the pipeline gives it up (its records stay
   * `pending` in the store and are rebuilt at the next start). Default 5 000.
   */
  shutdownTimeoutMs?: number
  clock?: () => number
  /** Sources with no resumable position (stdin). */
  isEphemeral?: (source: string) => boolean
  /**
   * Sources whose partitions of one flush may be stored as one insert (Kafka:
   * after a crash every partition of the topic is read again by this process,
   * so a pending flush can be rebuilt whole). Others get an insert per partition.
   */
  groupsPartitions?: (source: string) => boolean
  /** Called after each successful flush (evaluation hooks). */
  onStored?: () => void
}

export class PipelineStoppedError extends KeyshiftError {
  constructor() {
    super(
      'KS_PIPELINE_STOPPED',
      'the ingest pipeline is stopping; the batch was not stored and will be re-read',
    )
  }
}

export class PipelineFencedError extends KeyshiftError {
  constructor() {
    super(
      'KS_PIPELINE_FENCED',
      'the partition was revoked before this batch was written; its next owner re-reads it',
    )
  }
}

/** Whether the pipeline makes progress, for /readyz. */
export interface PipelineHealth {
  ok: boolean
  detail: string
}

export class IngestPipeline implements IngestSink {
  readonly #o: PipelineOptions
  readonly #clock: () => number
  readonly #core: IngestCore
  readonly #runId = randomUUID()
  /** Sources waiting in `room()` for the buffer to drop below `maxBufferedEvents`. */
  #roomWaiters: (() => void)[] = []
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null
  #stopped = false
  #closing = false
  /** Aborts once shutdown has waited `shutdownTimeoutMs` for the store: writes still in flight are given up. */
  readonly #giveUp = new AbortController()
  /** Resolves when shutdown begins. */
  #closed!: () => void
  readonly #closedP = new Promise<void>((resolve) => {
    this.#closed = resolve
  })
  #giveUpTimer: NodeJS.Timeout | null = null
  /** The flush in progress keeps failing: since when, how often, and why. */
  #failing: { since: number; attempts: number; reason: string } | null = null
  /** A non-retriable error the pipeline cannot get past; ingest waits for a restart. */
  #halted: string | null = null
  #newestEventTime = 0
  readonly #m: {
    ingested: Counter<'source'>
    rejected: Counter<'source' | 'reason'>
    skipped: Counter<'source' | 'reason'>
    batchSize: Histogram
    writeSeconds: Histogram
    writeErrors: Counter<'retriable'>
    newest: Gauge
    lag: Gauge
    buffered: Gauge
  }

  constructor(opts: PipelineOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? Date.now
    this.#core = new IngestCore(this.#clock)
    const r = [opts.registry]
    this.#m = {
      ingested: new PCounter({
        name: 'keyshift_events_ingested_total',
        help: 'Auth events durably stored, by source.',
        labelNames: ['source'],
        registers: r,
      }),
      rejected: new PCounter({
        name: 'keyshift_events_rejected_total',
        help: 'Records dead-lettered instead of stored, by source and reason.',
        labelNames: ['source', 'reason'],
        registers: r,
      }),
      skipped: new PCounter({
        name: 'keyshift_events_skipped_total',
        help: 'Requests neither stored nor dead-lettered, by source and reason (not_auth_traffic: no identity and not rejected, e.g. health checks and routing 404s).',
        labelNames: ['source', 'reason'],
        registers: r,
      }),
      batchSize: new PHistogram({
        name: 'keyshift_ingest_batch_events',
        help: 'Events per group-committed batch.',
        buckets: [1, 10, 100, 1000, 5000, 10_000, 20_000, 50_000],
        registers: r,
      }),
      writeSeconds: new PHistogram({
        name: 'keyshift_store_write_seconds',
        help: 'Time to store one group-committed batch, including its positions.',
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: r,
      }),
      writeErrors: new PCounter({
        name: 'keyshift_store_write_errors_total',
        help: 'Failed batch writes, by whether they were retried.',
        labelNames: ['retriable'],
        registers: r,
      }),
      newest: new PGauge({
        name: 'keyshift_ingest_newest_event_timestamp_seconds',
        help: 'Event time of the newest stored auth event (Unix seconds).',
        registers: r,
      }),
      lag: new PGauge({
        name: 'keyshift_ingest_event_lag_seconds',
        help: 'Now minus the event time of the newest stored auth event.',
        registers: r,
        collect: () => {
          if (this.#newestEventTime > 0) this.#m.lag.set((this.#clock() - this.#newestEventTime) / 1000)
        },
      }),
      buffered: new PGauge({
        name: 'keyshift_ingest_buffered_events',
        help: 'Records decoded and waiting for the next group commit.',
        registers: r,
        collect: () => this.#m.buffered.set(this.#core.buffered()),
      }),
    }
  }

  /** Records decoded and waiting for a group commit. */
  bufferedEvents(): number {
    return this.#core.buffered()
  }

  /** False while sources should wait for `room()` before handing over more. */
  hasRoom(): boolean {
    return this.#stopped || this.#closing || this.#core.buffered() < (this.#o.maxBufferedEvents ?? Infinity)
  }

  /**
   * Resolves once fewer than `maxBufferedEvents` records wait for a group commit
   * (the flush being written took them), or the pipeline is closing.
   */
  room(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve()
    return new Promise((resolve) => this.#roomWaiters.push(resolve))
  }

  #releaseRoom(): void {
    if (this.#roomWaiters.length === 0 || !this.hasRoom()) return
    const waiters = this.#roomWaiters
    this.#roomWaiters = []
    for (const w of waiters) w()
  }

  /** Event time of the newest stored event (epoch ms), 0 before the first. */
  newestEventTime(): number {
    return this.#newestEventTime
  }

  /**
   * Not ok while the flush in progress keeps failing, or after an error the
   * pipeline cannot get past: nothing is being stored, and the detail says why.
   */
  health(): PipelineHealth {
    if (this.#halted !== null) {
      return {
        ok: false,
        detail: `ingest halted: ${this.#halted}; fix the cause and restart keyshift (the batch is rebuilt from its pending position)`,
      }
    }
    if (this.#failing !== null) {
      const f = this.#failing
      return {
        ok: false,
        detail: `storing a batch failed ${f.attempts} time(s) since ${new Date(f.since).toISOString()}, retrying: ${f.reason}`,
      }
    }
    return { ok: true, detail: 'storing' }
  }

  /**
   * `partitions`: a consumer group assigned them to this process. They are
   * claimed in the store first, so an earlier owner's write still in flight
   * stores nothing of them once this process may have read their positions.
   */
  async positions(source: string, partitions?: readonly number[]): Promise<StoredPosition[]> {
    const claim = partitions ? randomUUID() : null
    const ranks = partitions && claim ? await this.#o.store.claim(source, partitions, claim) : []
    const stored = await this.#o.store.positions(source)
    this.#core.load(source, stored, new PipelineFencedError())
    if (partitions && claim) this.#core.claimed(source, partitions, claim, ranks)
    for (const p of stored) {
      if (p.pendingLastOffset === null) continue
      this.#o.logger.warn(
        {
          source,
          partition: p.partition,
          from: String(p.nextOffset),
          to: String(p.pendingLastOffset),
          flush: p.flush || undefined,
        },
        'A batch was being written when keyshift stopped; it will be rebuilt and deduplicated by the store.',
      )
    }
    return stored.map(({ ver: _ver, flush: _flush, ...p }) => p)
  }

  rewind(source: string, partition: number, offset: bigint): void {
    const { from, epoch } = this.#core.rewind(source, partition, offset)
    this.#o.logger.warn(
      { source, partition, from: String(from), to: String(offset), epoch },
      'Rewinding a partition (truncated or rewritten input); a new epoch starts.',
    )
    this.#schedule()
  }

  fence(source: string): void {
    this.#core.fence(source, new PipelineFencedError())
    this.#releaseRoom()
  }

  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => {})
  }

  /** Forgets a partition's in-memory position (after a Kafka rebalance moved it away). */
  forget(source: string, partition: number): void {
    this.#core.forget(source, partition)
  }

  #decode(source: string, partition: number, record: SourceRecord, now: number): Buffered {
    const oversized = (record as { oversized?: boolean }).oversized === true
    try {
      if (oversized) {
        throw new DecodeError('too_large', 'line exceeds the maximum line length')
      }
      const decoded = this.#o.decoderFor(source).decodeAll(record.value, {
        now,
        fallbackEventId: `${source}:${partition}:${record.offset}`,
      })
      if (decoded.rejected !== undefined && decoded.events.length === 0 && decoded.skipped === 0) {
        throw decoded.rejected
      }
      const item: Buffered = {
        offset: record.offset,
        nextOffset: record.nextOffset,
        size: record.value.length,
      }
      if (decoded.events.length > 0) {
        item.events = decoded.events.map((e) => this.#o.store.encode(e, source, partition, record.offset))
      }
      if (decoded.skipped > 0) item.skipped = decoded.skipped
      if (decoded.rejected !== undefined) {
        // Part of a batch was bad: its good elements are stored, the record is dead-lettered too.
        item.dead = {
          source,
          partition,
          offset: record.offset,
          reason: decoded.rejected.reason,
          detail: decoded.rejected.message,
          bytes: this.#o.scrub(record.value, oversized),
        }
      }
      return item
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err
      return {
        offset: record.offset,
        nextOffset: record.nextOffset,
        size: record.value.length,
        dead: {
          source,
          partition,
          offset: record.offset,
          reason: err.reason,
          detail: err.message,
          bytes: this.#o.scrub(record.value, oversized),
        },
      }
    }
  }

  submit(source: string, partition: number, records: SourceRecord[], meta = ''): Promise<void> {
    if (this.#stopped) return Promise.reject(new PipelineStoppedError())
    // A fetch of an assignment a rebalance ended: its partitions' positions are
    // no longer known here, and the next owner reads them.
    if (this.#core.isFenced(source, partition)) return Promise.reject(new PipelineFencedError())
    const next = this.#core.nextOffset(source, partition)
    const now = this.#clock()
    // Records below the stored position are already stored (a source re-read them
    // after a restart or rebalance): skip, never store twice.
    const fresh = records.filter((r) => r.offset >= next)
    if (fresh.length === 0) return Promise.resolve()
    const items = fresh.map((r) => this.#decode(source, partition, r, now))
    return new Promise<void>((resolve, reject) => {
      this.#core.submit(source, partition, items, meta, { resolve, reject }, () => new PipelineStoppedError())
      this.#schedule()
    })
  }

  /** Flushes now if the buffer is full, else within the batch wait. */
  #schedule(): void {
    if (this.#core.buffered() >= this.#o.batchMaxEvents) this.#kick()
    else if (this.#core.hasBuffer() && !this.#timer)
      this.#timer = setTimeout(() => this.#kick(), this.#o.batchMaxWaitMs)
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    if (this.#flushing || !this.#core.hasBuffer()) return
    const segments = this.#core.take()
    this.#releaseRoom()
    // Stored events are what alerts wait for: first into the embedded engine (work-priority.ts).
    this.#flushing = withPriority('alert', () => this.#flush(segments)).finally(() => {
      this.#flushing = null
      this.#schedule()
    })
  }

  /**
   * Waits for `p`, or rejects with PipelineStoppedError once shutdown gave up
   * waiting for the store (`p` may still settle later; nothing waits for it).
   */
  #bounded<T>(p: Promise<T>): Promise<T> {
    const signal = this.#giveUp.signal
    if (signal.aborted) {
      p.catch(() => {})
      return Promise.reject(new PipelineStoppedError())
    }
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(new PipelineStoppedError())
      signal.addEventListener('abort', onAbort, { once: true })
      p.then(
        (v) => {
          signal.removeEventListener('abort', onAbort)
          resolve(v)
        },
        (err: unknown) => {
          signal.removeEventListener('abort', onAbort)
          reject(err)
        },
      )
    })
  }

  /**
   * Writes one flush until it is stored. Every attempt writes the same batches
   * (same bounds, same flush id), so whatever an attempt stored before failing
   * is deduplicated by the store; the records are never re-read under another
   * identity while this process runs. Retriable errors are retried with
   * backoff. Rows the store refuses are found by probing halves of the flush,
   * dead-lettered with the store's reason, and the rest written under the same
   * identity. Any other error halts ingest (not ready, with the reason) until
   * shutdown; shutdown gives the flush up after `shutdownTimeoutMs`.
   */
  async #flush(segments: Segment[]): Promise<void> {
    if (this.#giveUp.signal.aborted) {
      this.#core.rollback(segments, new PipelineStoppedError())
      return
    }
    const batches = this.#core.plan(segments, {
      // Fresh batches of a source that groups its partitions share this flush's id.
      flush: randomUUID(),
      groupsPartitions: this.#o.groupsPartitions ?? (() => false),
      isEphemeral: this.#o.isEphemeral ?? (() => false),
      runId: this.#runId,
      now: this.#clock(),
    })
    const letters = segments.flatMap((s) => s.items.flatMap((i) => (i.dead ? [i.dead] : [])))
    let unsent = letters.length
    let attempt = 0
    for (;;) {
      const started = performance.now()
      try {
        // Dead letters first: once positions are committed the records are never re-read.
        if (unsent > 0) await this.#bounded(this.#o.deadLetters.send(letters.slice(-unsent)))
        unsent = 0
        const { fenced } = await this.#bounded(this.#o.store.write(batches))
        this.#m.writeSeconds.observe((performance.now() - started) / 1000)
        if (fenced.length > 0) this.#fencedInStore(segments, batches, fenced)
        break
      } catch (err) {
        if (err instanceof PipelineStoppedError) {
          this.#giveUpFlush(segments, err)
          return
        }
        const retriable = err instanceof KeyshiftError ? err.retriable : false
        this.#m.writeErrors.inc({ retriable: String(retriable) })
        const reason = (err as Error).message
        this.#failing = {
          since: this.#failing?.since ?? this.#clock(),
          attempts: (this.#failing?.attempts ?? 0) + 1,
          reason,
        }
        attempt++
        if (err instanceof StoreRefusedDataError || (retriable && attempt >= PROBE_AFTER_FAILURES)) {
          let found: number
          try {
            found = await this.#bounded(this.#isolate(segments, batches, letters))
          } catch (probeErr) {
            if (probeErr instanceof PipelineStoppedError) {
              this.#giveUpFlush(segments, probeErr)
              return
            }
            found = 0
          }
          if (found > 0) {
            unsent += found
            attempt = 0
            continue
          }
        }
        if (!retriable) {
          this.#halted = reason
          this.#o.logger.error(
            { err },
            'Storing an ingest batch failed with an error retrying cannot fix; ingest is halted until restart.',
          )
          await this.#closedP
          this.#giveUpFlush(segments, new PipelineStoppedError())
          return
        }
        const delay = backoffDelay(Math.min(attempt - 1, 30), {
          baseMs: this.#o.retryBaseMs,
          maxMs: this.#o.retryMaxMs,
          factor: 2,
          jitter: 'full',
        })
        this.#o.logger.warn(
          { err: reason, attempt, retryInMs: delay },
          'The store rejected a batch; retrying with backoff while sources wait.',
        )
        try {
          await sleep(delay, this.#giveUp.signal)
        } catch {
          this.#giveUpFlush(segments, new PipelineStoppedError())
          return
        }
      }
    }
    this.#failing = null
    // Counted once stored: a batch that failed or was fenced is read and decoded again.
    for (const s of segments) {
      let skipped = 0
      for (const i of s.items) {
        if (i.dead) this.#m.rejected.inc({ source: i.dead.source, reason: i.dead.reason })
        skipped += i.skipped ?? 0
      }
      if (skipped > 0) this.#m.skipped.inc({ source: s.source, reason: 'not_auth_traffic' }, skipped)
    }
    let events = 0
    for (const b of batches) {
      events += b.events.length
      this.#m.ingested.inc({ source: b.source }, b.events.length)
      for (const e of b.events) if (e.time > this.#newestEventTime) this.#newestEventTime = e.time
    }
    if (this.#newestEventTime > 0) this.#m.newest.set(this.#newestEventTime / 1000)
    this.#m.batchSize.observe(events)
    for (const s of segments) for (const w of s.waiters) w.resolve()
    this.#o.onStored?.()
  }

  /**
   * The store wrote nothing of these batches but their `pending` rows: another
   * member claimed their partitions since (a rebalance this process may not
   * have seen yet). Their submits reject as fenced, and those partitions take
   * no more until a new assignment claims them (unless this process claimed
   * them again meanwhile); other partitions go on. They count as nothing stored.
   */
  #fencedInStore(segments: Segment[], batches: PartitionBatch[], fenced: readonly number[]): void {
    const err = new PipelineFencedError()
    for (const i of [...fenced].sort((a, b) => b - a)) {
      const s = segments[i]!
      const b = batches[i]!
      this.#o.logger.warn(
        { source: s.source, partition: s.partition, from: String(s.firstOffset), records: s.items.length },
        'Another member claimed the partition while its batch was being written; the batch is left to it.',
      )
      for (const w of s.waiters) w.reject(err)
      this.#core.release(s.source, s.partition, b.claim ?? '', err)
      segments.splice(i, 1)
      batches.splice(i, 1)
    }
    this.#releaseRoom()
  }

  /**
   * Finds the events of a failed flush the store refuses, by probing halves
   * of the rows that fail until single rows are left (k refused rows of n take
   * about k·log2(n) probes, each storing nothing). Each one becomes a dead
   * letter (appended to `letters`) in its own batch, which keeps its bounds
   * and flush id. Returns how many were found.
   */
  async #isolate(segments: Segment[], batches: PartitionBatch[], letters: DeadLetter[]): Promise<number> {
    const rows = segments.flatMap((s, si) =>
      s.items.flatMap((item) => (item.events ?? []).map((event) => ({ si, item, event }))),
    )
    const refused: { si: number; item: Buffered; event: EncodedEvent; reason: string }[] = []
    const search = async (list: typeof rows): Promise<void> => {
      if (list.length === 0) return
      try {
        await this.#o.store.probe(list.map((r) => r.event))
        return
      } catch (err) {
        if (!(err instanceof StoreRefusedDataError)) throw err
        if (list.length === 1) {
          refused.push({ si: list[0]!.si, item: list[0]!.item, event: list[0]!.event, reason: err.message })
          return
        }
      }
      const mid = list.length >> 1
      await search(list.slice(0, mid))
      await search(list.slice(mid))
    }
    await search(rows)
    const now = this.#clock()
    for (const r of refused) {
      const s = segments[r.si]!
      const dead: DeadLetter = {
        source: s.source,
        partition: s.partition,
        offset: r.item.offset,
        reason: STORE_REFUSED_REASON,
        detail: r.reason,
        // The decoded event as the store was sent it: its key material is already fingerprinted.
        bytes: Buffer.from(r.event.row),
      }
      // A batch record keeps its other events; the refused one leaves as a dead letter.
      const rest = (r.item.events ?? []).filter((e) => e !== r.event)
      if (rest.length > 0) r.item.events = rest
      else r.item.events = undefined
      r.item.dead = dead
      letters.push(dead)
      this.#o.logger.warn(
        { source: s.source, partition: s.partition, offset: String(r.item.offset), reason: r.reason },
        'The store refused a record; it is dead-lettered and the rest of its batch is stored.',
      )
    }
    for (const si of new Set(refused.map((r) => r.si)))
      Object.assign(batches[si]!, contents(segments[si]!, now))
    return refused.length
  }

  /**
   * Shutdown gave up on a flush: its submits reject, and the records are read
   * again at the next start (the store's `pending` rows rebuild the flush
   * under the same identity, so nothing an attempt stored is stored twice).
   */
  #giveUpFlush(segments: Segment[], err: Error): void {
    this.#o.logger.warn(
      {
        records: segments.reduce((n, s) => n + s.items.length, 0),
        reason: this.#halted ?? this.#failing?.reason,
      },
      'Shutdown gave up a batch the store did not take; it is rebuilt at the next start.',
    )
    this.#core.rollback(segments, err)
    this.#releaseRoom()
  }

  /** Stores whatever is buffered now (used at shutdown and by tests). */
  async drain(): Promise<void> {
    while (this.#core.hasBuffer() || this.#flushing) {
      this.#kick()
      if (this.#flushing) await this.#flushing
    }
  }

  /**
   * Shutdown begins: submits held back behind a rebuild that is not complete
   * (the rest of a pending flush was not read yet) are rejected, and so are
   * later ones of those partitions, so sources can stop instead of waiting for
   * records that will not come. The pending batches stay pending in the store
   * and are rebuilt at the next start. Everything else is still stored, for at
   * most `shutdownTimeoutMs` of a failing or hanging store; a halted pipeline
   * gives up at once.
   */
  close(): void {
    if (this.#closing) return
    this.#closing = true
    this.#core.close(new PipelineStoppedError())
    this.#closed()
    this.#giveUpTimer = setTimeout(
      () => this.#giveUp.abort(new PipelineStoppedError()),
      this.#o.shutdownTimeoutMs ?? 5_000,
    )
    this.#giveUpTimer.unref()
    this.#releaseRoom()
  }

  /** Flushes what is buffered (bounded as `close` says), then refuses new submits. */
  async stop(): Promise<void> {
    this.close()
    await this.drain()
    if (this.#giveUpTimer) clearTimeout(this.#giveUpTimer)
    this.#stopped = true
    this.#releaseRoom()
    this.#core.rejectHeldBack(new PipelineStoppedError())
  }
}
