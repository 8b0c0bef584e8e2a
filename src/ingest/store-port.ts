// The store port ingest needs, declared here (the consumer) and implemented by
// store/clickhouse/event-store.ts. It states the write protocol's contract
// that exactly-once rests on, so the pipeline can be tested against an
// in-memory double (memory-store.ts) and the real engine alike.
import type { AuthEvent } from '../domain/auth-event.ts'
import type { StoredPosition } from './source.ts'

/**
 * An event encoded for the store when it is decoded: its UTC day (one insert,
 * so one part, per day), its event time, and its row as the store writes it.
 * Encoding at decode time keeps the flush short and lets the decoded object die young.
 */
export interface EncodedEvent {
  day: number
  time: number
  row: string
}

export interface DeadLetterRow {
  time: number
  offset: bigint
  reason: string
  detail: string
  size: number
}

/** One partition's records of one flush: offsets [firstOffset…lastOffset], written with its position. */
export interface PartitionBatch {
  source: string
  partition: number
  /** Position before this batch (the stored next offset it resumed from). */
  firstOffset: bigint
  /** Offset of the last record in the batch. */
  lastOffset: bigint
  /** Position after this batch. */
  nextOffset: bigint
  events: EncodedEvent[]
  deadLetters: DeadLetterRow[]
  meta: string
  /** Rewind epoch of the partition (see IngestSink.rewind). */
  epoch: number
  /** Monotonic version for the position rows (pending = ver, committed = ver + 1). */
  ver: bigint
  /** Batches from sources with no position (stdin) skip the position rows. */
  ephemeral?: boolean
  /** Unique run id for ephemeral batches so their identities never collide across runs. */
  runId?: string
  /**
   * Id of the flush the batch is written in ('' for none). A store may write a
   * source's batches of one flush as one insert under this id; a batch rebuilt
   * after a crash is then written with the rest of its flush again.
   */
  flush: string
  /**
   * The claim this process holds on the partition ('' for none): a store that
   * several processes write checks it after the `pending` rows and writes
   * nothing more of the batch when a later claim exists.
   */
  claim?: string
}

/** What a write did not store: batches whose partition another member claimed since (see `claim`). */
export interface WriteResult {
  /** Indexes into the written batches. Their `pending` rows may have landed, nothing else did. */
  fenced: number[]
}

/** A stored position with what the pipeline needs to rebuild a pending batch. */
export type StoredPositionRow = StoredPosition & { ver: bigint; flush: string }

/**
 * What a batch's dedup identity is made of: the same for a batch rebuilt
 * after a crash, or written again after a failure, with the same bounds.
 */
export function batchIdentity(b: PartitionBatch): string {
  return b.ephemeral
    ? `${b.source}|${b.runId}|${b.firstOffset}-${b.lastOffset}`
    : `${b.source}|${b.partition}|e${b.epoch}|${b.firstOffset}-${b.lastOffset}`
}

/**
 * The store behind the ingest pipeline. Contract of `write` (exactly once rests on it):
 * 1. `pending` position rows for every positioned batch (first, last, next, flush);
 * 2. the events, in inserts that are each atomic and deduplicated by identity:
 *    per batch (`batchIdentity`) and day, or, for a store that groups a flush,
 *    per (source, flush id) and day;
 * 3. each batch's dead-letter rows, deduplicated by `batchIdentity`;
 * 4. `committed` position rows.
 * A store that several processes may write (a server) checks, between steps
 * 1 and 2, that each batch's `claim` is still its partition's latest, and
 * skips steps 2–4 for batches whose claim is not (returned as `fenced`).
 * So writing the same batches again (same bounds, same flush id) after any
 * failure stores each event once; inserts that landed are dropped as duplicates.
 * Errors are `StoreError`s classified by the adapter: `retriable`, or
 * `StoreRefusedDataError` when the rows themselves are refused.
 */
export interface IngestStore {
  /** `event`, read from `source` partition `partition` at `offset`, as the store writes it. */
  encode(event: AuthEvent, source: string, partition: number, offset: bigint): EncodedEvent
  /** Latest stored position per partition of `source`. */
  positions(source: string): Promise<StoredPositionRow[]>
  /** Writes batches (any partitions) following the protocol above. */
  write(batches: readonly PartitionBatch[]): Promise<WriteResult>
  /**
   * Records that `claim` now owns `partitions` of `source` (a consumer-group
   * assignment), ahead of every earlier claim. Called before the positions are read.
   * Resolves with each partition's claim rank (in `partitions` order), which
   * grows with every claim of the partition.
   */
  claim(source: string, partitions: readonly number[], claim: string): Promise<bigint[]>
  /**
   * Checks that the store takes these event rows, storing nothing: resolves, or
   * rejects with `StoreRefusedDataError` (the store's reason) when it refuses
   * any of them, or with a retriable `StoreError` when it cannot tell now.
   */
  probe(events: readonly EncodedEvent[]): Promise<void>
}
