// Writes decoded events with their source position, exactly once.
//
// Protocol per batch (one source partition, offsets [first, last]):
//   1. position row `pending` (first, last, next)      — one insert for all partitions of a flush
//   2. events, one INSERT per day, each with insert_deduplication_token
//      `<source>|<partition>|e<epoch>|<first>-<last>|<day>` — one part per insert ⇒ atomic
//   3. dead letters (same token scheme)
//   4. position row `committed` (next)
// After a crash the reader sees `pending` and rebuilds exactly [first, last];
// re-sent inserts carry the same tokens, so parts already written (and their
// materialized-view parts) are dropped by ClickHouse's insert deduplication,
// and parts that were not written are written now. Tables carry
// `non_replicated_deduplication_window`; replicated tables dedup by default.
// A server gets one request per statement; the embedded engine gets the whole
// flush as one multi-statement query (same statements, same order).
import { createHash } from 'node:crypto'
import { mkdirSync, rmSync } from 'node:fs'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import type { AuthEvent } from '../../domain/auth-event.ts'
import type { StoredPosition } from '../../ingest/source.ts'
import { classifyStoreError } from './errors.ts'
import { qualified, quoteString } from './identifiers.ts'

export interface StoredEvent {
  event: AuthEvent
  offset: bigint
}

export interface DeadLetterRow {
  time: number
  offset: bigint
  reason: string
  detail: string
  size: number
}

export interface PartitionBatch {
  source: string
  partition: number
  /** Position before this batch (the stored next offset it resumed from). */
  firstOffset: bigint
  /** Offset of the last record in the batch. */
  lastOffset: bigint
  /** Position after this batch. */
  nextOffset: bigint
  events: StoredEvent[]
  deadLetters: DeadLetterRow[]
  meta: string
  /** Rewind epoch of the partition (see IngestSink.rewind). */
  epoch: number
  /** Monotonic version for the position rows (pending = ver, committed = ver + 1). */
  ver: bigint
  /** Batches from sources with no position (stdin) skip the position rows. */
  ephemeral?: boolean
  /** Unique run id for ephemeral batches so their tokens never collide across runs. */
  runId?: string
}

const DAY_MS = 86_400_000

/** Column order of `positionValues`. */
const POSITION_COLUMNS = [
  'source',
  'partition',
  'state',
  'first_offset',
  'last_offset',
  'next_offset',
  'meta',
  'epoch',
  'ver',
  'updated_at',
] as const

/** Types of `POSITION_COLUMNS`, for reading spooled rows with `file()`. */
const POSITION_STRUCTURE =
  'source String, partition UInt64, state String, first_offset UInt64, last_offset UInt64, ' +
  "next_offset UInt64, meta String, epoch UInt32, ver UInt64, updated_at DateTime64(3, 'UTC')"

function positionValues(b: PartitionBatch, state: 'pending' | 'committed', now: number): unknown[] {
  return [
    b.source,
    b.partition,
    state,
    b.firstOffset.toString(),
    b.lastOffset.toString(),
    b.nextOffset.toString(),
    b.meta,
    b.epoch,
    (state === 'pending' ? b.ver : b.ver + 1n).toString(),
    now,
  ]
}

/** Column order of `deadLetterValues`. */
const DEAD_LETTER_COLUMNS = [
  'time',
  'src',
  'src_partition',
  'src_offset',
  'reason',
  'detail',
  'size',
] as const

const DEAD_LETTER_STRUCTURE =
  "time DateTime64(3, 'UTC'), src String, src_partition UInt64, src_offset UInt64, reason String, detail String, size UInt32"

function deadLetterValues(d: DeadLetterRow, b: PartitionBatch): unknown[] {
  return [d.time, b.source, b.partition, d.offset.toString(), d.reason, d.detail, d.size]
}

/** Dedup settings of every event insert (the token is added per insert). */
const DEDUP_SETTINGS = {
  insert_deduplicate: 1,
  deduplicate_blocks_in_dependent_materialized_views: 1,
  // The views already GROUP BY their tables' sorting keys, so merging the
  // block again at insert finds nothing to merge; skipping it halves the
  // engine's cost per event (bench/ingest.ts).
  optimize_on_insert: 0,
} as const

/**
 * SETTINGS clause of an embedded insert from a spooled file: read by one
 * thread into one block (so a retry forms the same block), deduplicated.
 */
const SPOOL_INSERT_SETTINGS = [
  ...Object.entries(DEDUP_SETTINGS).map(([k, v]) => `${k} = ${v}`),
  'max_threads = 1',
  'max_insert_threads = 1',
  'input_format_parallel_parsing = 0',
  'max_block_size = 10000000',
  'min_insert_block_size_rows = 10000000',
  'min_insert_block_size_bytes = 10000000000',
].join(', ')

/** Position rows are versioned, not deduplicated. */
const NO_DEDUP_SETTINGS = 'insert_deduplicate = 0'

/** What a batch's dedup tokens start with: the same for a batch rebuilt after a crash. */
function batchIdentity(b: PartitionBatch): string {
  return b.ephemeral
    ? `${b.source}|${b.runId}|${b.firstOffset}-${b.lastOffset}`
    : `${b.source}|${b.partition}|e${b.epoch}|${b.firstOffset}-${b.lastOffset}`
}

/** Types of `EVENT_COLUMNS`, for reading a spooled batch with `file()`. */
const EVENT_STRUCTURE =
  "time DateTime64(3, 'UTC'), event_id String, key_id String, key_version String, key_fingerprint String, " +
  'outcome String, reason String, status UInt16, client_id String, source_address String, user_agent String, ' +
  'method String, route String, gateway String, latency_ms Float32, src String, src_partition UInt64, src_offset UInt64'

/** Column order of `eventRow`; rows are sent as JSONCompactEachRow (about half the parse cost of JSONEachRow). */
const EVENT_COLUMNS = [
  'time',
  'event_id',
  'key_id',
  'key_version',
  'key_fingerprint',
  'outcome',
  'reason',
  'status',
  'client_id',
  'source_address',
  'user_agent',
  'method',
  'route',
  'gateway',
  'latency_ms',
  'src',
  'src_partition',
  'src_offset',
] as const

function eventRow(e: StoredEvent, b: PartitionBatch): unknown[] {
  const ev = e.event
  return [
    ev.time,
    ev.eventId,
    ev.keyId,
    ev.keyVersion,
    ev.keyFingerprint,
    ev.outcome,
    ev.reason,
    ev.status,
    ev.clientId,
    ev.sourceAddress,
    ev.userAgent,
    ev.method,
    ev.route,
    ev.gateway,
    ev.latencyMs,
    b.source,
    b.partition,
    e.offset.toString(),
  ]
}

/** A batch's event rows per UTC day (one insert, so one part, per day partition), oldest day first. */
function eventRowsByDay(b: PartitionBatch): [number, unknown[][]][] {
  const byDay = new Map<number, unknown[][]>()
  for (const e of b.events) {
    const day = Math.floor(e.event.time / DAY_MS)
    const rows = byDay.get(day)
    if (rows) rows.push(eventRow(e, b))
    else byDay.set(day, [eventRow(e, b)])
  }
  return [...byDay].sort(([x], [y]) => x - y)
}

export class EventStore {
  readonly #client: ClickHouseClient
  readonly #db: string
  readonly #clock: () => number
  readonly #spoolDir: string | null

  /** `spoolDir`: embedded mode only, a directory the in-process engine can read batch files from. */
  constructor(
    client: ClickHouseClient,
    db: string,
    clock: () => number = Date.now,
    spoolDir: string | null = null,
  ) {
    this.#client = client
    this.#db = db
    this.#clock = clock
    this.#spoolDir = spoolDir
    if (spoolDir) {
      // Leftovers of a batch that was being written when the process died; the
      // rebuilt batch writes its own file again.
      rmSync(spoolDir, { recursive: true, force: true })
      mkdirSync(spoolDir, { recursive: true })
    }
  }

  /** Latest stored position per partition of `source`. */
  async positions(source: string): Promise<(StoredPosition & { ver: bigint })[]> {
    try {
      const rs = await this.#client.query({
        query: `SELECT partition AS p,
            argMax(state, ver) AS last_state,
            toString(argMax(first_offset, ver)) AS last_first,
            toString(argMax(last_offset, ver)) AS last_last,
            toString(argMax(next_offset, ver)) AS last_next,
            argMax(meta, ver) AS last_meta,
            argMax(epoch, ver) AS last_epoch,
            toString(max(ver)) AS max_ver,
            toUnixTimestamp64Milli(argMax(updated_at, ver)) AS last_updated
          FROM ${qualified(this.#db, 'ingest_positions')}
          WHERE source = {source:String}
          GROUP BY p
          ORDER BY p`,
        query_params: { source },
        format: 'JSONEachRow',
      })
      const rows = await rs.json<{
        p: number
        last_state: string
        last_first: string
        last_last: string
        last_next: string
        last_meta: string
        last_epoch: number
        max_ver: string
        last_updated: number
      }>()
      return rows.map((r) => {
        const pending = r.last_state === 'pending'
        return {
          source,
          partition: Number(r.p),
          nextOffset: BigInt(pending ? r.last_first : r.last_next),
          pendingLastOffset: pending ? BigInt(r.last_last) : null,
          meta: r.last_meta,
          epoch: Number(r.last_epoch),
          updatedAt: Number(r.last_updated),
          ver: BigInt(r.max_ver),
        }
      })
    } catch (err) {
      throw classifyStoreError(err, 'reading ingest positions')
    }
  }

  /** Writes batches (any partitions) following the protocol above. Idempotent per batch. */
  async write(batches: readonly PartitionBatch[]): Promise<void> {
    try {
      if (this.#spoolDir) await this.#writeEmbedded(batches, this.#spoolDir)
      else await this.#writeServer(batches)
    } catch (err) {
      throw classifyStoreError(err, 'writing an ingest batch')
    }
  }

  /**
   * Embedded: the whole flush is one multi-statement query, its rows read from
   * spooled files by `file()` (the in-process engine parses those about 2.5×
   * faster than rows inlined in the query text). Statements run in order, each
   * insert with its own dedup token in its own SETTINGS clause, exactly as the
   * protocol above says; a crash or an error between two statements leaves the
   * same states as separate queries would. One query instead of one per
   * partition and day: while the main thread decodes, every separate query
   * waited for the event loop before the next could start. Each insert is
   * single-threaded and squashed into one block, so a retry forms the same
   * block and is deduplicated like the first attempt.
   */
  async #writeEmbedded(batches: readonly PartitionBatch[], spoolDir: string): Promise<void> {
    const now = this.#clock()
    const positioned = batches.filter((b) => !b.ephemeral)
    const files: { path: string; rows: unknown[][] }[] = []
    const statements: string[] = []
    const insert = (
      table: string,
      columns: readonly string[],
      structure: string,
      rows: unknown[][],
      token: string | null,
    ) => {
      const path = join(
        spoolDir,
        `${files.length}-${createHash('sha256')
          .update(token ?? `${now}`)
          .digest('hex')
          .slice(0, 24)}.jsonl`,
      )
      files.push({ path, rows })
      const settings =
        token === null
          ? NO_DEDUP_SETTINGS
          : `${SPOOL_INSERT_SETTINGS}, insert_deduplication_token = ${quoteString(token)}`
      statements.push(
        `INSERT INTO ${qualified(this.#db, table)} (${columns.join(', ')}) SETTINGS ${settings}
          SELECT * FROM file(${quoteString(path)}, 'JSONCompactEachRow', ${quoteString(structure)})`,
      )
    }
    const positions = (state: 'pending' | 'committed') => {
      const rows = positioned.map((b) => positionValues(b, state, now))
      if (rows.length > 0) insert('ingest_positions', POSITION_COLUMNS, POSITION_STRUCTURE, rows, null)
    }
    positions('pending')
    for (const b of batches) {
      const identity = batchIdentity(b)
      for (const [day, rows] of eventRowsByDay(b))
        insert('auth_events', EVENT_COLUMNS, EVENT_STRUCTURE, rows, `${identity}|${day}`)
      if (b.deadLetters.length > 0) {
        insert(
          'dead_letters',
          DEAD_LETTER_COLUMNS,
          DEAD_LETTER_STRUCTURE,
          b.deadLetters.map((d) => deadLetterValues(d, b)),
          `${identity}|dlq`,
        )
      }
    }
    positions('committed')
    if (statements.length === 0) return
    await Promise.all(
      files.map((f) => writeFile(f.path, `${f.rows.map((r) => JSON.stringify(r)).join('\n')}\n`)),
    )
    try {
      await this.#client.command({ query: statements.join(';\n') })
    } finally {
      await Promise.all(files.map((f) => rm(f.path, { force: true })))
    }
  }

  /** Server: one HTTP request per statement of the protocol. */
  async #writeServer(batches: readonly PartitionBatch[]): Promise<void> {
    const now = this.#clock()
    const positioned = batches.filter((b) => !b.ephemeral)
    const positions = (state: 'pending' | 'committed') =>
      this.#client.insert({
        table: qualified(this.#db, 'ingest_positions'),
        values: positioned.map((b) => positionValues(b, state, now)),
        format: 'JSONCompactEachRow',
        columns: [...POSITION_COLUMNS],
      })
    if (positioned.length > 0) await positions('pending')
    for (const b of batches) {
      const identity = batchIdentity(b)
      for (const [day, rows] of eventRowsByDay(b)) {
        await this.#client.insert({
          table: qualified(this.#db, 'auth_events'),
          values: rows,
          format: 'JSONCompactEachRow',
          columns: [...EVENT_COLUMNS],
          clickhouse_settings: {
            ...DEDUP_SETTINGS,
            insert_deduplication_token: `${identity}|${day}`,
            max_insert_block_size: '10000000',
            min_insert_block_size_rows: '0',
            min_insert_block_size_bytes: '0',
          },
        })
      }
      if (b.deadLetters.length > 0) {
        await this.#client.insert({
          table: qualified(this.#db, 'dead_letters'),
          values: b.deadLetters.map((d) => deadLetterValues(d, b)),
          format: 'JSONCompactEachRow',
          columns: [...DEAD_LETTER_COLUMNS],
          clickhouse_settings: { insert_deduplicate: 1, insert_deduplication_token: `${identity}|dlq` },
        })
      }
    }
    if (positioned.length > 0) await positions('committed')
  }
}
