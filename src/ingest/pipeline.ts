// The ingest pipeline: the IngestSink every source submits to. It decodes raw
// records, dead-letters the bad ones, and group-commits batches from all
// partitions to the store (by size or time), with each partition's position
// written alongside. `submit` resolves only once its records are stored, so a
// source never acknowledges anything that is not durable. Store outages are
// retried here with backoff; sources simply wait (backpressure).
import { randomUUID } from 'node:crypto'
import type { Counter, Gauge, Histogram } from 'prom-client'
import { Counter as PCounter, Gauge as PGauge, Histogram as PHistogram } from 'prom-client'
import type { AuthEvent } from '../domain/auth-event.ts'
import { DecodeError, KeyshiftError } from '../domain/errors.ts'
import { backoffDelay } from '../shared/retry.ts'
import {
  type DeadLetterRow,
  type EncodedEvent,
  type EventStore,
  encodeEvent,
  type PartitionBatch,
} from '../store/clickhouse/event-store.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'
import type { IngestSink, SourceRecord, StoredPosition } from './source.ts'

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

/** A rejected record on its way to the dead-letter destination. Bytes are already scrubbed of key material. */
export interface DeadLetter {
  source: string
  partition: number
  offset: bigint
  reason: string
  detail: string
  bytes: Buffer
}

export interface DeadLetterSink {
  /** Durably hands over dead letters; rejects with a retriable error when it cannot. */
  send(letters: readonly DeadLetter[]): Promise<void>
}

export interface PipelineOptions {
  store: Pick<EventStore, 'positions' | 'write'>
  /** Decoder per source id; sources not listed are rejected at submit. */
  decoderFor: (source: string) => RecordDecoder
  deadLetters: DeadLetterSink
  /** Replaces anything shaped like key material in raw bytes before they are dead-lettered. */
  scrub: (bytes: Buffer) => Buffer
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

interface PartitionState {
  nextOffset: bigint
  epoch: number
  pendingLast: bigint | null
  /** Flush id of the pending batch ('' when it was stored on its own). */
  pendingFlush: string
  ver: bigint
  /** Records held back while rebuilding a pending batch. */
  held: { records: Buffered[]; waiters: Waiter[] } | null
  /**
   * Set once the pending batch is rebuilt while other partitions of its flush
   * are not yet: later records wait here, so nothing of the partition is
   * stored before the rebuilt batch.
   */
  after: { items: Buffered[]; meta: string; waiters: Waiter[] }[] | null
}

/** A pending flush being rebuilt: its partitions, those still reading it, and the rebuilt batches. */
interface Rebuild {
  members: number[]
  waiting: Set<number>
  ready: { partition: number; items: Buffered[]; meta: string; waiters: Waiter[] }[]
}

/**
 * A record once decoded. Its raw bytes are not kept (a dead letter holds its
 * scrubbed copy), so fetched buffers are freed while the batch waits to be stored.
 */
interface Buffered {
  offset: bigint
  nextOffset: bigint
  /** The decoded events (one, or a batch record's), encoded for the store at once. */
  events?: EncodedEvent[]
  /** Requests skipped as `not_auth_traffic`, counted once stored. */
  skipped?: number
  dead?: DeadLetter
  /** The record's size in bytes, for dead letters. */
  size: number
}

interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
}

export interface Segment {
  source: string
  partition: number
  firstOffset: bigint
  items: Buffered[]
  meta: string
  waiters: Waiter[]
  /** A batch rebuilt after a crash: its bounds are its identity, so it is never merged. */
  exact?: boolean
  /** A rebuilt batch's flush id, written again with the rest of its flush. */
  flush?: string
}

/**
 * Merges consecutive segments of the same partition into one, so a partition
 * is one batch (one position range) per flush however many submits it took.
 * While the store is busy more submits pile up per partition, so flushes grow
 * when the store is slow: the insert count stays per flush (per partition on a
 * server), not per fetch.
 */
export function coalesce(segments: readonly Segment[]): Segment[] {
  const out: Segment[] = []
  const open = new Map<string, Segment>()
  for (const s of segments) {
    const k = `${s.source}\u0000${s.partition}`
    const prev = open.get(k)
    if (prev && !prev.exact && !s.exact) {
      prev.items.push(...s.items)
      prev.waiters.push(...s.waiters)
      prev.meta = s.meta
      continue
    }
    const copy = { ...s, items: [...s.items], waiters: [...s.waiters] }
    out.push(copy)
    open.set(k, copy)
  }
  return out
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

export class IngestPipeline implements IngestSink {
  readonly #o: PipelineOptions
  readonly #clock: () => number
  readonly #parts = new Map<string, PartitionState>()
  /** Pending flushes being rebuilt, by source and flush id. */
  readonly #rebuilds = new Map<string, Rebuild>()
  readonly #runId = randomUUID()
  #buffer: Segment[] = []
  #buffered = 0
  /** Sources waiting in `room()` for the buffer to drop below `maxBufferedEvents`. */
  #roomWaiters: (() => void)[] = []
  #timer: NodeJS.Timeout | null = null
  #flushing: Promise<void> | null = null
  #stopped = false
  #closing = false
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
        collect: () => this.#m.buffered.set(this.#buffered),
      }),
    }
  }

  /** Records decoded and waiting for a group commit. */
  bufferedEvents(): number {
    return this.#buffered
  }

  /** False while sources should wait for `room()` before handing over more. */
  hasRoom(): boolean {
    return this.#stopped || this.#closing || this.#buffered < (this.#o.maxBufferedEvents ?? Infinity)
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

  async positions(source: string): Promise<StoredPosition[]> {
    const stored = await this.#o.store.positions(source)
    this.#dropRebuilds(source, new PipelineFencedError())
    for (const p of stored) {
      const pendingFlush = p.pendingLastOffset !== null ? p.flush : ''
      this.#parts.set(`${source}\u0000${p.partition}`, {
        nextOffset: p.nextOffset,
        epoch: p.epoch,
        pendingLast: p.pendingLastOffset,
        pendingFlush,
        ver: p.ver + 2n,
        held: null,
        after: null,
      })
      if (pendingFlush !== '') {
        const k = `${source}\u0000${pendingFlush}`
        const r = this.#rebuilds.get(k) ?? { members: [], waiting: new Set<number>(), ready: [] }
        r.members.push(p.partition)
        r.waiting.add(p.partition)
        this.#rebuilds.set(k, r)
      }
      if (p.pendingLastOffset !== null) {
        this.#o.logger.warn(
          {
            source,
            partition: p.partition,
            from: String(p.nextOffset),
            to: String(p.pendingLastOffset),
            flush: pendingFlush || undefined,
          },
          'A batch was being written when keyshift stopped; it will be rebuilt and deduplicated by the store.',
        )
      }
    }
    return stored.map(({ ver: _ver, flush: _flush, ...p }) => p)
  }

  /**
   * Forgets the rebuilds of pending flushes of `source` (null: every source),
   * rejecting the submits held in them with `err`.
   */
  #dropRebuilds(source: string | null, err: Error): void {
    for (const [k, r] of this.#rebuilds) {
      if (source !== null && !k.startsWith(`${source}\u0000`)) continue
      for (const b of r.ready) for (const w of b.waiters) w.reject(err)
      this.#rebuilds.delete(k)
    }
  }

  rewind(source: string, partition: number, offset: bigint): void {
    const st = this.#state(source, partition)
    this.#o.logger.warn(
      { source, partition, from: String(st.nextOffset), to: String(offset), epoch: st.epoch + 1 },
      'Rewinding a partition (truncated or rewritten input); a new epoch starts.',
    )
    st.nextOffset = offset
    st.epoch += 1
    st.pendingLast = null
    st.held = null
    // A rewound partition's pending records are gone: its flush is rebuilt without it.
    if (st.pendingFlush !== '') this.#rebuilt(source, partition, st.pendingFlush, null)
    st.pendingFlush = ''
  }

  fence(source: string): void {
    const err = new PipelineFencedError()
    const kept: Segment[] = []
    for (const s of this.#buffer) {
      if (s.source === source) {
        this.#buffered -= s.items.length
        for (const w of s.waiters) w.reject(err)
      } else kept.push(s)
    }
    this.#buffer = kept
    this.#releaseRoom()
    for (const [k, st] of this.#parts) {
      if (!k.startsWith(`${source}\u0000`)) continue
      this.#rejectHeldBack(st, err)
      this.#parts.delete(k)
    }
    this.#dropRebuilds(source, err)
  }

  async idle(): Promise<void> {
    while (this.#flushing) await this.#flushing.catch(() => {})
  }

  /** Forgets a partition's in-memory position (after a Kafka rebalance moved it away). */
  forget(source: string, partition: number): void {
    this.#parts.delete(`${source}\u0000${partition}`)
  }

  #state(source: string, partition: number): PartitionState {
    const k = `${source}\u0000${partition}`
    let s = this.#parts.get(k)
    if (!s) {
      s = {
        nextOffset: 0n,
        epoch: 0,
        pendingLast: null,
        pendingFlush: '',
        ver: BigInt(this.#clock()) * 1000n,
        held: null,
        after: null,
      }
      this.#parts.set(k, s)
    }
    return s
  }

  #decode(source: string, partition: number, record: SourceRecord, now: number): Buffered {
    try {
      if ((record as { oversized?: boolean }).oversized) {
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
        item.events = decoded.events.map((e) => encodeEvent(e, source, partition, record.offset))
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
          bytes: this.#o.scrub(record.value),
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
          bytes: this.#o.scrub(record.value),
        },
      }
    }
  }

  submit(source: string, partition: number, records: SourceRecord[], meta = ''): Promise<void> {
    if (this.#stopped) return Promise.reject(new PipelineStoppedError())
    const st = this.#state(source, partition)
    const now = this.#clock()
    // Records below the stored position are already stored (a source re-read them
    // after a restart or rebalance): skip, never store twice.
    const fresh = records.filter((r) => r.offset >= st.nextOffset)
    if (fresh.length === 0) return Promise.resolve()
    const items = fresh.map((r) => this.#decode(source, partition, r, now))
    return new Promise<void>((resolve, reject) => {
      const waiter = { resolve, reject }
      if (this.#closing && (st.after || st.pendingLast !== null)) {
        reject(new PipelineStoppedError())
        return
      }
      if (st.after) {
        st.after.push({ items, meta, waiters: [waiter] })
        return
      }
      if (st.pendingLast !== null) {
        // Rebuilding the batch that was in flight at the crash: collect exactly
        // [nextOffset, pendingLast] and commit it as one segment.
        st.held ??= { records: [], waiters: [] }
        const upTo = items.filter((i) => i.offset <= st.pendingLast!)
        const rest = items.filter((i) => i.offset > st.pendingLast!)
        st.held.records.push(...upTo)
        const complete = rest.length > 0 || upTo.at(-1)?.offset === st.pendingLast
        if (!complete) {
          st.held.waiters.push(waiter)
          return
        }
        const held = st.held
        st.held = null
        st.pendingLast = null
        if (rest.length === 0) held.waiters.push(waiter)
        const flush = st.pendingFlush
        st.pendingFlush = ''
        if (flush !== '') {
          // Written again with the rest of its flush; until then the records
          // after it wait, so nothing later of the partition is stored first.
          st.after = rest.length > 0 ? [{ items: rest, meta, waiters: [waiter] }] : []
          if (held.records.length === 0) for (const w of held.waiters) w.resolve()
          this.#rebuilt(
            source,
            partition,
            flush,
            held.records.length > 0 ? { items: held.records, meta, waiters: held.waiters } : null,
          )
          return
        }
        if (held.records.length > 0) this.#push(source, partition, held.records, meta, held.waiters, '')
        else for (const w of held.waiters) w.resolve()
        if (rest.length > 0) this.#push(source, partition, rest, meta, [waiter])
        this.#schedule()
        return
      }
      this.#enqueue(source, partition, items, meta, [waiter])
    })
  }

  #enqueue(source: string, partition: number, items: Buffered[], meta: string, waiters: Waiter[]): void {
    this.#push(source, partition, items, meta, waiters)
    this.#schedule()
  }

  /**
   * Buffers a segment at the partition's position. `rebuilt`: the flush id of a
   * batch rebuilt after a crash ('' if it was stored on its own), which makes
   * the segment exact.
   */
  #push(
    source: string,
    partition: number,
    items: Buffered[],
    meta: string,
    waiters: Waiter[],
    rebuilt: string | null = null,
  ): void {
    const st = this.#state(source, partition)
    const last = items.at(-1)!
    this.#buffer.push({
      source,
      partition,
      firstOffset: st.nextOffset,
      items,
      meta,
      waiters,
      ...(rebuilt === null ? {} : { exact: true, flush: rebuilt }),
    })
    st.nextOffset = last.nextOffset
    this.#buffered += items.length
  }

  /** Flushes now if the buffer is full, else within the batch wait. */
  #schedule(): void {
    if (this.#buffered >= this.#o.batchMaxEvents) this.#kick()
    else if (this.#buffer.length > 0 && !this.#timer)
      this.#timer = setTimeout(() => this.#kick(), this.#o.batchMaxWaitMs)
  }

  /**
   * One partition of a pending flush is rebuilt (`batch` null: none of its
   * records came back). Once every partition of the flush is, the rebuilt
   * batches are buffered together, so they are written in one flush under the
   * flush's id and the store deduplicates them as one insert, then the records
   * that waited behind them.
   */
  #rebuilt(
    source: string,
    partition: number,
    flush: string,
    batch: { items: Buffered[]; meta: string; waiters: Waiter[] } | null,
  ): void {
    const k = `${source}\u0000${flush}`
    const r = this.#rebuilds.get(k) ?? { members: [partition], waiting: new Set([partition]), ready: [] }
    r.waiting.delete(partition)
    if (batch) r.ready.push({ partition, ...batch })
    if (r.waiting.size > 0) {
      this.#rebuilds.set(k, r)
      return
    }
    this.#rebuilds.delete(k)
    for (const b of r.ready) this.#push(source, b.partition, b.items, b.meta, b.waiters, flush)
    for (const p of r.members) {
      const st = this.#parts.get(`${source}\u0000${p}`)
      const after = st?.after ?? []
      if (st) st.after = null
      for (const a of after) this.#push(source, p, a.items, a.meta, a.waiters)
    }
    this.#schedule()
  }

  #kick(): void {
    if (this.#timer) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    if (this.#flushing || this.#buffer.length === 0) return
    const segments = coalesce(this.#buffer)
    this.#buffer = []
    this.#buffered = 0
    this.#releaseRoom()
    this.#flushing = this.#flush(segments).finally(() => {
      this.#flushing = null
      this.#schedule()
    })
  }

  async #flush(segments: Segment[]): Promise<void> {
    // Fresh batches of a source that groups its partitions share this flush's id.
    const flush = randomUUID()
    const batches: PartitionBatch[] = segments.map((s) =>
      this.#toBatch(s, s.exact ? (s.flush ?? '') : this.#o.groupsPartitions?.(s.source) ? flush : ''),
    )
    const letters = segments.flatMap((s) => s.items.flatMap((i) => (i.dead ? [i.dead] : [])))
    let attempt = 0
    for (;;) {
      const started = performance.now()
      try {
        // Dead letters first: once positions are committed the records are never re-read.
        if (letters.length > 0) await this.#o.deadLetters.send(letters)
        await this.#o.store.write(batches)
        this.#m.writeSeconds.observe((performance.now() - started) / 1000)
        break
      } catch (err) {
        const retriable = err instanceof KeyshiftError ? err.retriable : false
        this.#m.writeErrors.inc({ retriable: String(retriable) })
        if (!retriable || this.#stopped) {
          this.#o.logger.error({ err }, 'Storing an ingest batch failed; the batch is not acknowledged.')
          this.#rollback(segments, err)
          return
        }
        const delay = backoffDelay(attempt++, {
          baseMs: this.#o.retryBaseMs,
          maxMs: this.#o.retryMaxMs,
          factor: 2,
          jitter: 'full',
        })
        this.#o.logger.warn(
          { err: (err as Error).message, attempt, retryInMs: delay },
          'The store rejected a batch; retrying with backoff while sources wait.',
        )
        await new Promise((r) => setTimeout(r, delay))
      }
    }
    // Counted once stored: a batch that failed or was fenced is read and decoded again.
    for (const l of letters) this.#m.rejected.inc({ source: l.source, reason: l.reason })
    for (const s of segments) {
      let skipped = 0
      for (const i of s.items) skipped += i.skipped ?? 0
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
   * A flush failed for good: move each partition's position back to where the
   * failed segments began and drop anything buffered after them, so the records
   * are read and submitted again instead of being skipped as "already stored".
   */
  #rollback(segments: Segment[], err: unknown): void {
    const resetTo = new Map<string, { source: string; partition: number; offset: bigint }>()
    for (const s of segments) {
      const k = `${s.source}\u0000${s.partition}`
      const prev = resetTo.get(k)
      if (!prev || s.firstOffset < prev.offset)
        resetTo.set(k, { source: s.source, partition: s.partition, offset: s.firstOffset })
      for (const w of s.waiters) w.reject(err)
    }
    const kept: Segment[] = []
    for (const s of this.#buffer) {
      if (resetTo.has(`${s.source}\u0000${s.partition}`)) {
        this.#buffered -= s.items.length
        for (const w of s.waiters) w.reject(err)
      } else kept.push(s)
    }
    this.#buffer = kept
    this.#releaseRoom()
    for (const r of resetTo.values()) this.#state(r.source, r.partition).nextOffset = r.offset
  }

  #toBatch(s: Segment, flush: string): PartitionBatch {
    const st = this.#state(s.source, s.partition)
    const events: EncodedEvent[] = []
    const deadLetters: DeadLetterRow[] = []
    const now = this.#clock()
    for (const i of s.items) {
      if (i.events) for (const e of i.events) events.push(e)
      if (i.dead) {
        deadLetters.push({
          time: now,
          offset: i.offset,
          reason: i.dead.reason,
          detail: i.dead.detail.slice(0, 500),
          size: i.size,
        })
      }
    }
    const ver = st.ver
    st.ver += 2n
    const last = s.items.at(-1)!
    return {
      source: s.source,
      partition: s.partition,
      firstOffset: s.firstOffset,
      lastOffset: last.offset,
      nextOffset: last.nextOffset,
      events,
      deadLetters,
      meta: s.meta,
      epoch: st.epoch,
      ver,
      ephemeral: this.#o.isEphemeral?.(s.source) ?? false,
      runId: this.#runId,
      flush,
    }
  }

  /** Stores whatever is buffered now (used at shutdown and by tests). */
  async drain(): Promise<void> {
    while (this.#buffer.length > 0 || this.#flushing) {
      this.#kick()
      if (this.#flushing) await this.#flushing
    }
  }

  /**
   * Shutdown begins: submits held back behind a rebuild that is not complete
   * (the rest of a pending flush was not read yet) are rejected, and so are
   * later ones of those partitions, so sources can stop instead of waiting for
   * records that will not come. The pending batches stay pending in the store
   * and are rebuilt at the next start. Everything else is still stored.
   */
  close(): void {
    this.#closing = true
    const err = new PipelineStoppedError()
    for (const st of this.#parts.values()) {
      this.#rejectHeldBack(st, err)
      st.held = null
      if (st.after) st.after = []
    }
    this.#dropRebuilds(null, err)
    this.#releaseRoom()
  }

  /** Flushes what is buffered, then refuses new submits. */
  async stop(): Promise<void> {
    await this.drain()
    this.#stopped = true
    this.#releaseRoom()
    const err = new PipelineStoppedError()
    for (const st of this.#parts.values()) this.#rejectHeldBack(st, err)
  }

  /** Rejects the submits a partition holds back: its rebuild's records and those waiting behind it. */
  #rejectHeldBack(st: PartitionState, err: Error): void {
    for (const w of st.held?.waiters ?? []) w.reject(err)
    for (const a of st.after ?? []) for (const w of a.waiters) w.reject(err)
  }
}
