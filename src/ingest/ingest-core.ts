// The exactly-once core of the ingest pipeline as plain data and transitions:
// each partition's position, the rebuild of a batch that was pending when the
// process stopped, the group-commit buffer, and how a flush's segments become
// store batches. No I/O, no timers, no randomness: the clock and flush ids are
// passed in, so every transition is unit-tested (ingest-core.test.ts,
// pipeline.test.ts, and pipeline-faults.test.ts against the in-memory double
// of the store port). IngestPipeline drives it.
import { wellFormed } from '../shared/well-formed.ts'
import type { EncodedEvent, PartitionBatch, StoredPositionRow } from './store-port.ts'

/** A rejected record on its way to the dead-letter destination. Bytes are already scrubbed of key material. */
export interface DeadLetter {
  source: string
  partition: number
  offset: bigint
  reason: string
  detail: string
  bytes: Buffer
}

/** Settles one submit. */
export interface Waiter {
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * A record once decoded. Its raw bytes are not kept (a dead letter holds its
 * scrubbed copy), so fetched buffers are freed while the batch waits to be stored.
 */
export interface Buffered {
  offset: bigint
  nextOffset: bigint
  /** The decoded events (one, or a batch record's), encoded for the store at once. */
  events?: EncodedEvent[]
  /** Requests skipped as `not_auth_traffic`, counted once stored. */
  skipped?: number
  /** Why the record is dead-lettered (for a batch record, part of it: its good elements are stored too). */
  dead?: DeadLetter
  /** The record's size in bytes, for dead letters. */
  size: number
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

/** How `plan` names and shapes a flush's batches. */
export interface PlanOptions {
  /** Id of this flush, shared by the fresh batches of sources that group their partitions. */
  flush: string
  groupsPartitions: (source: string) => boolean
  isEphemeral: (source: string) => boolean
  runId: string
  now: number
}

/**
 * A claimed partition with no stored position starts its position versions at
 * rank × 2^32: an owner writes far fewer than 2^31 flushes before the next
 * claim, and 2^64 holds 2^32 claims of one partition.
 */
const CLAIM_RANK_SHIFT = 32n

/** Characters of a dead letter's detail kept in the store. */
const DETAIL_LIMIT = 500

export class IngestCore {
  readonly #clock: () => number
  readonly #parts = new Map<string, PartitionState>()
  /** Pending flushes being rebuilt, by source and flush id. */
  readonly #rebuilds = new Map<string, Rebuild>()
  /**
   * Sources fenced by a rebalance whose positions were not read again yet: a
   * submit for them comes from a fetch of the old assignment, and would start
   * from offset 0 (no position known), so it is refused.
   */
  readonly #fenced = new Set<string>()
  /** This process's claim on each partition it was assigned (consumer groups), by source and partition. */
  readonly #claims = new Map<string, string>()
  /** Sources whose partitions are assigned by a consumer group (they claim what they are given). */
  readonly #claiming = new Set<string>()
  #buffer: Segment[] = []
  #buffered = 0
  #closing = false

  constructor(clock: () => number) {
    this.#clock = clock
  }

  /** Records decoded and waiting for a group commit. */
  buffered(): number {
    return this.#buffered
  }

  hasBuffer(): boolean {
    return this.#buffer.length > 0
  }

  /** Next offset of a partition not yet taken: records below it are stored or buffered already. */
  nextOffset(source: string, partition: number): bigint {
    return this.#state(source, partition).nextOffset
  }

  /**
   * A submit this process may not store: its source was fenced and its
   * positions not read again, or its source claims partitions and this one was
   * not assigned to this process (a fetch of an earlier assignment).
   */
  isFenced(source: string, partition: number): boolean {
    if (this.#fenced.has(source)) return true
    return this.#claiming.has(source) && !this.#claims.has(`${source}\u0000${partition}`)
  }

  /**
   * Positions were read from the store: they replace what is known of the
   * source's partitions, and each pending batch is to be rebuilt exactly.
   * Rebuilds of the source still waiting are dropped with `err`.
   */
  load(source: string, stored: readonly StoredPositionRow[], err: Error): void {
    this.#fenced.delete(source)
    this.#dropRebuilds(source, err)
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
    }
  }

  /** Forgets the rebuilds of pending flushes of `source` (null: every source), rejecting their submits. */
  #dropRebuilds(source: string | null, err: Error): void {
    for (const [k, r] of this.#rebuilds) {
      if (source !== null && !k.startsWith(`${source}\u0000`)) continue
      for (const b of r.ready) for (const w of b.waiters) w.reject(err)
      this.#rebuilds.delete(k)
    }
  }

  /**
   * `claim` is this process's hold on `partitions` of `source` (an assignment):
   * its batches carry it. `ranks`: each partition's claim rank. A partition
   * with no stored position numbers its position rows from its rank, not from
   * this host's clock: an earlier owner's `pending` row that landed after this
   * process read the positions (its write was fenced) then ranks below every
   * row of this owner, whatever the two hosts' clocks say.
   */
  claimed(source: string, partitions: readonly number[], claim: string, ranks: readonly bigint[]): void {
    this.#claiming.add(source)
    partitions.forEach((p, i) => {
      const k = `${source}\u0000${p}`
      this.#claims.set(k, claim)
      if (!this.#parts.has(k)) this.#state(source, p).ver = (ranks[i] ?? 0n) << CLAIM_RANK_SHIFT
    })
  }

  /** Moves a partition back to `offset` in a new epoch; returns where it was. */
  rewind(source: string, partition: number, offset: bigint): { from: bigint; epoch: number } {
    const st = this.#state(source, partition)
    const from = st.nextOffset
    st.nextOffset = offset
    st.epoch += 1
    st.pendingLast = null
    st.held = null
    // A rewound partition's pending records are gone: its flush is rebuilt without it.
    if (st.pendingFlush !== '') this.#rebuilt(source, partition, st.pendingFlush, null)
    st.pendingFlush = ''
    return { from, epoch: st.epoch }
  }

  /**
   * A rebalance: buffered records of `source` are dropped (their submits
   * rejected with `err`), its positions forgotten, and its submits refused
   * until its positions are read again.
   */
  fence(source: string, err: Error): void {
    const kept: Segment[] = []
    for (const s of this.#buffer) {
      if (s.source === source) {
        this.#buffered -= s.items.length
        for (const w of s.waiters) w.reject(err)
      } else kept.push(s)
    }
    this.#buffer = kept
    for (const [k, st] of this.#parts) {
      if (!k.startsWith(`${source}\u0000`)) continue
      this.#rejectHeldBack(st, err)
      this.#parts.delete(k)
    }
    this.#dropRebuilds(source, err)
    for (const k of this.#claims.keys()) if (k.startsWith(`${source}\u0000`)) this.#claims.delete(k)
    this.#fenced.add(source)
  }

  /**
   * The store found that a later claim than `claim` owns a partition (another
   * member was assigned it): unless this process claimed it again since, the
   * partition's buffered records are dropped (their submits rejected with
   * `err`), its position forgotten, and its submits refused until a new
   * assignment claims it. Other partitions go on.
   */
  release(source: string, partition: number, claim: string, err: Error): boolean {
    const k = `${source}\u0000${partition}`
    if (this.#claims.get(k) !== claim) return false
    this.#claims.delete(k)
    const kept: Segment[] = []
    for (const s of this.#buffer) {
      if (s.source === source && s.partition === partition) {
        this.#buffered -= s.items.length
        for (const w of s.waiters) w.reject(err)
      } else kept.push(s)
    }
    this.#buffer = kept
    const st = this.#parts.get(k)
    if (st) this.#rejectHeldBack(st, err)
    this.#parts.delete(k)
    return true
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

  /**
   * Takes decoded records of one partition (in offset order, all at or after
   * `nextOffset`). The waiter settles once they are stored, or rejects with
   * `stopped` when shutdown began while they would have to wait for a rebuild.
   */
  submit(
    source: string,
    partition: number,
    items: Buffered[],
    meta: string,
    waiter: Waiter,
    stopped: () => Error,
  ): void {
    const st = this.#state(source, partition)
    if (this.#closing && (st.after || st.pendingLast !== null)) {
      waiter.reject(stopped())
      return
    }
    if (st.after) {
      st.after.push({ items, meta, waiters: [waiter] })
      return
    }
    if (st.pendingLast === null) {
      this.#push(source, partition, items, meta, [waiter])
      return
    }
    // Rebuilding the batch that was in flight at the crash: collect exactly
    // [nextOffset, pendingLast] and commit it as one segment.
    const pendingLast = st.pendingLast
    st.held ??= { records: [], waiters: [] }
    const upTo = items.filter((i) => i.offset <= pendingLast)
    const rest = items.filter((i) => i.offset > pendingLast)
    st.held.records.push(...upTo)
    const complete = rest.length > 0 || upTo.at(-1)?.offset === pendingLast
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
  }

  /** Takes everything buffered for one flush, a segment per partition run. */
  take(): Segment[] {
    const segments = coalesce(this.#buffer)
    this.#buffer = []
    this.#buffered = 0
    return segments
  }

  /**
   * The store batches of a flush. Each gets the next position version of its
   * partition; fresh batches of a source that groups its partitions share the
   * flush's id, a rebuilt batch keeps its own. Planned once per flush: every
   * write attempt of the flush sends these same batches (same bounds, same
   * ids), so the store deduplicates whatever an earlier attempt stored.
   */
  plan(segments: readonly Segment[], o: PlanOptions): PartitionBatch[] {
    return segments.map((s) => {
      const st = this.#state(s.source, s.partition)
      const ver = st.ver
      st.ver += 2n
      const last = s.items.at(-1)!
      return {
        source: s.source,
        partition: s.partition,
        firstOffset: s.firstOffset,
        lastOffset: last.offset,
        nextOffset: last.nextOffset,
        ...contents(s, o.now),
        meta: s.meta,
        epoch: st.epoch,
        ver,
        ephemeral: o.isEphemeral(s.source),
        runId: o.runId,
        flush: s.exact ? (s.flush ?? '') : o.groupsPartitions(s.source) ? o.flush : '',
        claim: this.#claims.get(`${s.source}\u0000${s.partition}`) ?? '',
      }
    })
  }

  /**
   * A flush was given up (shutdown): each partition's position goes back to
   * where its segments began and anything buffered after them is dropped, so
   * nothing later of the partition is stored before them. All their submits
   * reject with `err`; the store's `pending` rows make the next start rebuild
   * the flush exactly.
   */
  rollback(segments: readonly Segment[], err: unknown): void {
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
    for (const r of resetTo.values()) this.#state(r.source, r.partition).nextOffset = r.offset
  }

  /**
   * Shutdown begins: submits held back behind a rebuild that is not complete
   * are rejected with `err`, and so are later ones of those partitions. The
   * pending batches stay pending in the store and are rebuilt at the next start.
   */
  close(err: Error): void {
    this.#closing = true
    for (const st of this.#parts.values()) {
      this.#rejectHeldBack(st, err)
      st.held = null
      if (st.after) st.after = []
    }
    this.#dropRebuilds(null, err)
  }

  /** Rejects every submit still held back (after the last flush at shutdown). */
  rejectHeldBack(err: Error): void {
    for (const st of this.#parts.values()) this.#rejectHeldBack(st, err)
  }

  /** Rejects the submits a partition holds back: its rebuild's records and those waiting behind it. */
  #rejectHeldBack(st: PartitionState, err: Error): void {
    for (const w of st.held?.waiters ?? []) w.reject(err)
    for (const a of st.after ?? []) for (const w of a.waiters) w.reject(err)
  }
}

/** A segment's events and dead-letter rows, as its batch carries them. */
export function contents(s: Segment, now: number): Pick<PartitionBatch, 'events' | 'deadLetters'> {
  const events: EncodedEvent[] = []
  const deadLetters: PartitionBatch['deadLetters'] = []
  for (const i of s.items) {
    if (i.events) for (const e of i.events) events.push(e)
    if (i.dead) {
      deadLetters.push({
        time: now,
        offset: i.offset,
        reason: i.dead.reason,
        detail: wellFormed(i.dead.detail).slice(0, DETAIL_LIMIT),
        size: i.size,
      })
    }
  }
  return { events, deadLetters }
}
