// Writes decoded events with their source position, exactly once.
//
// Protocol per flush (batches of source partitions, offsets [first, last] each):
//   1. position rows `pending` (first, last, next, flush id)  — one insert for all batches
//   2. events, one INSERT per day, each with insert_deduplication_token — one part per
//      insert ⇒ atomic. The embedded store writes a source's batches of one flush
//      together under `<source>|f:<flush id>|<day>`; a server writes each batch alone
//      under `<source>|<partition>|e<epoch>|<first>-<last>|<day>`.
//   3. dead letters, per batch (`<source>|<partition>|e<epoch>|<first>-<last>|dlq`)
//   4. position rows `committed` (next)
// After a crash the reader sees `pending` and rebuilds exactly [first, last] of
// each partition, and in the embedded store all partitions of the pending flush
// before writing any of them (IngestPipeline holds the rebuilt batches until
// then). Re-sent inserts carry the same tokens, so parts already written (and
// their materialized-view parts) are dropped by ClickHouse's insert
// deduplication, and parts that were not written are written now. Tables carry
// `non_replicated_deduplication_window`; replicated tables dedup by default.
// A server gets one request per statement; the embedded engine gets the whole
// flush as one multi-statement query (same statements, same order).
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { ClickHouseClient } from '@clickhouse/client'
import type { AuthEvent } from '../../domain/auth-event.ts'
import {
  batchIdentity,
  type EncodedEvent,
  type IngestStore,
  type PartitionBatch,
  type StoredPositionRow,
  type WriteResult,
} from '../../ingest/store-port.ts'
import { mkdirPrivate, PRIVATE_FILE_MODE } from '../../shared/private-files.ts'
import { classifyStoreError } from './errors.ts'
import { qualified, quoteString } from './identifiers.ts'

const DAY_MS = 86_400_000

/** Rows as JSONCompactEachRow text. */
function compactRows(rows: readonly unknown[][]): string {
  return `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`
}

/** Reads a response to its end (an `exec` insert answers with an empty body). */
async function drain(stream: Readable): Promise<void> {
  for await (const _ of stream) {
    // nothing to read
  }
}

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
  'flush',
] as const

/** Types of `POSITION_COLUMNS`, for reading spooled rows with `file()`. */
const POSITION_STRUCTURE =
  'source String, partition UInt64, state String, first_offset UInt64, last_offset UInt64, ' +
  "next_offset UInt64, meta String, epoch UInt32, ver UInt64, updated_at DateTime64(3, 'UTC'), flush String"

function positionValues(
  b: PartitionBatch,
  state: 'pending' | 'committed',
  now: number,
  flush: string,
): unknown[] {
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
    flush,
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

function deadLetterValues(d: PartitionBatch['deadLetters'][number], b: PartitionBatch): unknown[] {
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

/** One insert of the write protocol: JSONCompactEachRow rows, deduplicated by `token` unless null. */
interface Insert {
  table: string
  columns: readonly string[]
  /** Types of `columns`, for reading spooled rows with `file()`. */
  structure: string
  text: string
  token: string | null
}

/** Position rows are versioned, not deduplicated. */
const NO_DEDUP_SETTINGS = 'insert_deduplicate = 0'

/** Types of `EVENT_COLUMNS`, for reading a spooled batch with `file()`. */
const EVENT_STRUCTURE =
  "time DateTime64(3, 'UTC'), event_id String, key_id String, key_version String, key_fingerprint String, " +
  'outcome String, reason String, status UInt16, client_id String, source_address String, user_agent String, ' +
  'method String, route String, gateway String, latency_ms Float32, src String, src_partition UInt64, src_offset UInt64, ' +
  'identity_source String'

/** Column order of `encodeEvent`'s rows; rows are sent as JSONCompactEachRow (about half the parse cost of JSONEachRow). */
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
  'identity_source',
] as const

/** `event`, read from `source` partition `partition` at `offset`, as the store writes it. */
export function encodeEvent(
  event: AuthEvent,
  source: string,
  partition: number,
  offset: bigint,
): EncodedEvent {
  return {
    day: Math.floor(event.time / DAY_MS),
    time: event.time,
    row: JSON.stringify([
      event.time,
      event.eventId,
      event.keyId,
      event.keyVersion,
      event.keyFingerprint,
      event.outcome,
      event.reason,
      event.status,
      event.clientId,
      event.sourceAddress,
      event.userAgent,
      event.method,
      event.route,
      event.gateway,
      event.latencyMs,
      source,
      partition,
      offset.toString(),
      event.identitySource,
    ]),
  }
}

/**
 * The embedded store's event inserts, by dedup token: a source's batches of one
 * flush go together (a part per flush instead of a part per partition cut the
 * engine's insert and merge CPU from ≈ 19 to ≈ 5 µs per event, bench/ingest.ts);
 * batches without a flush id (file and stdin sources, rebuilds of batches
 * pending from before flush ids) go alone.
 */
function insertGroups(batches: readonly PartitionBatch[]): Map<string, PartitionBatch[]> {
  const groups = new Map<string, PartitionBatch[]>()
  for (const b of batches) {
    const token = b.flush !== '' && !b.ephemeral ? `${b.source}|f:${b.flush}` : batchIdentity(b)
    const group = groups.get(token)
    if (group) group.push(b)
    else groups.set(token, [b])
  }
  return groups
}

/** Batches' event rows per UTC day as JSONCompactEachRow text (one insert, so one part, per day), oldest day first. */
function eventRowsByDay(batches: readonly PartitionBatch[]): [number, string][] {
  const byDay = new Map<number, string[]>()
  for (const b of batches) {
    for (const e of b.events) {
      const rows = byDay.get(e.day)
      if (rows) rows.push(e.row)
      else byDay.set(e.day, [e.row])
    }
  }
  return [...byDay].sort(([x], [y]) => x - y).map(([day, rows]) => [day, `${rows.join('\n')}\n`])
}

export class EventStore implements IngestStore {
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
      mkdirPrivate(spoolDir)
    }
  }

  /** Latest stored position per partition of `source`. */
  async positions(source: string): Promise<StoredPositionRow[]> {
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
            toUnixTimestamp64Milli(argMax(updated_at, ver)) AS last_updated,
            argMax(flush, ver) AS last_flush
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
        last_flush: string
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
          flush: pending ? r.last_flush : '',
        }
      })
    } catch (err) {
      throw classifyStoreError(err, 'reading ingest positions')
    }
  }

  encode(event: AuthEvent, source: string, partition: number, offset: bigint): EncodedEvent {
    return encodeEvent(event, source, partition, offset)
  }

  /**
   * Parses event rows exactly as an insert would, into a `null()` table of the
   * same structure: nothing is stored, and rows the store refuses fail with the
   * same error (the pipeline bisects a refused flush with this).
   */
  async probe(events: readonly EncodedEvent[]): Promise<void> {
    if (events.length === 0) return
    const text = `${events.map((e) => e.row).join('\n')}\n`
    const target = `FUNCTION null(${quoteString(EVENT_STRUCTURE)})`
    try {
      if (this.#spoolDir) {
        // Its own file: a probe runs only between a flush's write attempts.
        const path = join(this.#spoolDir, 'probe.jsonl')
        writeFileSync(path, text)
        try {
          await this.#client.command({
            query: `INSERT INTO ${target} SETTINGS max_threads = 1, input_format_parallel_parsing = 0
              SELECT * FROM file(${quoteString(path)}, 'JSONCompactEachRow', ${quoteString(EVENT_STRUCTURE)})`,
          })
        } finally {
          rmSync(path, { force: true })
        }
        return
      }
      const { stream } = await this.#client.exec({
        query: `INSERT INTO ${target} FORMAT JSONCompactEachRow`,
        values: Readable.from([text]),
      })
      await drain(stream)
    } catch (err) {
      throw classifyStoreError(err, 'checking ingest rows')
    }
  }

  /** Writes batches (any partitions) following the protocol above. Idempotent per batch. */
  async write(batches: readonly PartitionBatch[]): Promise<WriteResult> {
    try {
      if (this.#spoolDir) {
        // One process owns an embedded store: there is no other member to be fenced by.
        await this.#writeEmbedded(batches, this.#spoolDir)
        return { fenced: [] }
      }
      return await this.#writeServer(batches)
    } catch (err) {
      throw classifyStoreError(err, 'writing an ingest batch')
    }
  }

  /**
   * A claim's `ver` is one above the partition's latest; two members claiming
   * the same partition at once (possible only across two quick rebalances)
   * may pick the same `ver`, and every reader then ranks them the same way by
   * (ver, claim): one of them owns the partition, never both.
   */
  async claim(source: string, partitions: readonly number[], claim: string): Promise<bigint[]> {
    if (partitions.length === 0) return []
    try {
      const rs = await this.#client.query({
        query: `SELECT partition AS p, toString(max(ver)) AS v FROM ${qualified(this.#db, 'ingest_claims')}
          WHERE source = {source:String} AND partition IN {partitions:Array(UInt64)} GROUP BY p`,
        query_params: { source, partitions },
        format: 'JSONEachRow',
      })
      const latest = new Map(
        (await rs.json<{ p: number; v: string }>()).map((r) => [Number(r.p), BigInt(r.v)]),
      )
      const ranks = partitions.map((p) => (latest.get(p) ?? 0n) + 1n)
      await this.#client.insert({
        table: qualified(this.#db, 'ingest_claims'),
        format: 'JSONEachRow',
        values: partitions.map((partition, i) => ({
          source,
          partition,
          claim,
          ver: ranks[i]!.toString(),
          claimed_at: this.#clock(),
        })),
        clickhouse_settings: { insert_deduplicate: 0 },
      })
      return ranks
    } catch (err) {
      throw classifyStoreError(err, 'claiming ingest partitions')
    }
  }

  /** Indexes of the claimed batches whose partition's latest claim is another one. */
  async #fenced(batches: readonly PartitionBatch[]): Promise<number[]> {
    const claimed = batches.flatMap((b, i) => (b.claim ? [i] : []))
    if (claimed.length === 0) return []
    const latest = new Map<string, string>()
    for (const source of new Set(claimed.map((i) => batches[i]!.source))) {
      const partitions = [
        ...new Set(claimed.filter((i) => batches[i]!.source === source).map((i) => batches[i]!.partition)),
      ]
      const rs = await this.#client.query({
        query: `SELECT partition AS p, argMax(claim, (ver, claim)) AS c FROM ${qualified(this.#db, 'ingest_claims')}
          WHERE source = {source:String} AND partition IN {partitions:Array(UInt64)} GROUP BY p`,
        query_params: { source, partitions },
        format: 'JSONEachRow',
      })
      for (const r of await rs.json<{ p: number; c: string }>())
        latest.set(`${source}\u0000${Number(r.p)}`, r.c)
    }
    return claimed.filter((i) => {
      const b = batches[i]!
      const owner = latest.get(`${b.source}\u0000${b.partition}`)
      return owner !== undefined && owner !== b.claim
    })
  }

  /**
   * The protocol's inserts for one flush, in order. `grouped` (embedded store):
   * a source's batches of one flush share their event inserts and the pending
   * rows name the flush; otherwise every batch has its own inserts.
   */
  #plan(batches: readonly PartitionBatch[], now: number, grouped: boolean, pending = true): Insert[] {
    const plan: Insert[] = []
    const positioned = batches.filter((b) => !b.ephemeral)
    const positions = (state: 'pending' | 'committed') => {
      if (positioned.length === 0) return
      const rows = positioned.map((b) => positionValues(b, state, now, grouped ? b.flush : ''))
      plan.push({
        table: 'ingest_positions',
        columns: POSITION_COLUMNS,
        structure: POSITION_STRUCTURE,
        text: compactRows(rows),
        token: null,
      })
    }
    if (pending) positions('pending')
    const groups = grouped ? insertGroups(batches) : new Map(batches.map((b) => [batchIdentity(b), [b]]))
    for (const [token, group] of groups) {
      for (const [day, text] of eventRowsByDay(group))
        plan.push({
          table: 'auth_events',
          columns: EVENT_COLUMNS,
          structure: EVENT_STRUCTURE,
          text,
          token: `${token}|${day}`,
        })
    }
    for (const b of batches) {
      if (b.deadLetters.length === 0) continue
      const text = compactRows(b.deadLetters.map((d) => deadLetterValues(d, b)))
      plan.push({
        table: 'dead_letters',
        columns: DEAD_LETTER_COLUMNS,
        structure: DEAD_LETTER_STRUCTURE,
        text,
        token: `${batchIdentity(b)}|dlq`,
      })
    }
    positions('committed')
    return plan
  }

  /**
   * Embedded: the whole flush is one multi-statement query, its rows read from
   * spooled files by `file()` (the in-process engine parses those about 2.5×
   * faster than rows inlined in the query text). Statements run in order, each
   * insert with its own dedup token in its own SETTINGS clause, exactly as the
   * protocol above says; a crash or an error between two statements leaves the
   * same states as separate queries would. One query instead of one per
   * insert: while the main thread decodes, every separate query waited for the
   * event loop before the next could start. Each insert is single-threaded and
   * squashed into one block, so a retry forms the same block and is
   * deduplicated like the first attempt.
   */
  async #writeEmbedded(batches: readonly PartitionBatch[], spoolDir: string): Promise<void> {
    const plan = this.#plan(batches, this.#clock(), true)
    if (plan.length === 0) return
    // One flush at a time: its files are numbered, and removed once it is written.
    const files = plan.map((ins, i) => ({ path: join(spoolDir, `${i}.jsonl`), text: ins.text }))
    const statements = plan.map((ins, i) => {
      const settings =
        ins.token === null
          ? NO_DEDUP_SETTINGS
          : `${SPOOL_INSERT_SETTINGS}, insert_deduplication_token = ${quoteString(ins.token)}`
      return `INSERT INTO ${qualified(this.#db, ins.table)} (${ins.columns.join(', ')}) SETTINGS ${settings}
          SELECT * FROM file(${quoteString(files[i]!.path)}, 'JSONCompactEachRow', ${quoteString(ins.structure)})`
    })
    // Written synchronously: a few ms into the page cache. `fs.promises.writeFile`
    // writes in 512 KiB chunks, each waiting its turn on an event loop that is busy
    // decoding, which made a 12 MB spool take 0.3–0.9 s (bench/ingest.ts).
    for (const f of files) writeFileSync(f.path, f.text, { mode: PRIVATE_FILE_MODE })
    try {
      await this.#client.command({ query: statements.join(';\n') })
    } finally {
      for (const f of files) rmSync(f.path, { force: true })
    }
  }

  /**
   * Server: one HTTP request per insert of the protocol, its rows in the
   * request body. Several members may write one server: after the `pending`
   * rows, batches whose partition was claimed by a later assignment are
   * fenced (nothing more of them is written). Either the new owner read the
   * positions after this `pending` row landed, and rebuilds the same batch
   * (same identity, deduplicated), or it claimed before this check, and this
   * member writes no events: a rebalance never stores a batch twice.
   */
  async #writeServer(batches: readonly PartitionBatch[]): Promise<WriteResult> {
    const now = this.#clock()
    const positioned = batches.some((b) => !b.ephemeral)
    const plan = this.#plan(batches, now, false)
    if (positioned) await this.#insert(plan.shift()!)
    const fenced = await this.#fenced(batches)
    const rest =
      fenced.length === 0
        ? plan
        : this.#plan(
            batches.filter((_, i) => !fenced.includes(i)),
            now,
            false,
            false,
          )
    for (const ins of rest) await this.#insert(ins)
    return { fenced }
  }

  async #insert(ins: Insert): Promise<void> {
    const { stream } = await this.#client.exec({
      query: `INSERT INTO ${qualified(this.#db, ins.table)} (${ins.columns.join(', ')}) FORMAT JSONCompactEachRow`,
      values: Readable.from([ins.text]),
      clickhouse_settings:
        ins.token === null
          ? { insert_deduplicate: 0 }
          : {
              ...DEDUP_SETTINGS,
              insert_deduplication_token: ins.token,
              max_insert_block_size: '10000000',
              min_insert_block_size_rows: '0',
              min_insert_block_size_bytes: '0',
            },
    })
    await drain(stream)
  }
}
