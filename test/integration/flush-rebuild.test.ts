// The embedded store writes a Kafka source's partitions of one flush as one
// insert under the flush's id. After a crash, a pending flush must be rebuilt
// whole: every partition's pending range, written together under the same id,
// and nothing later of those partitions before it. Real embedded engine, real
// pipeline; the crash is the state it leaves in the store. Also here, on the
// same harness: the pipeline's bound on the records it holds.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { testDecoder } from '../../src/ingest/decode/test-kit.ts'
import { IngestPipeline } from '../../src/ingest/pipeline.ts'
import type { SourceRecord } from '../../src/ingest/source.ts'
import type { IngestStore } from '../../src/ingest/store-port.ts'
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse/client.ts'
import { EventStore } from '../../src/store/clickhouse/event-store.ts'
import { migrate } from '../../src/store/clickhouse/migrations.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { createRegistry } from '../../src/telemetry/metrics.ts'
import { kongLine } from '../support/records.ts'
import { queryRows } from '../support/store-probe.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const dir = mkdtempSync(join(tmpdir(), 'ks-flush-rebuild-'))
let store: StoreClient
let events: EventStore

beforeAll(async () => {
  store = createStoreClient(parseConfig({ data_dir: join(dir, 'data') }))
  await migrate(store.client, 'keyshift', { rawDays: 30, rollupDays: 400 })
  events = new EventStore(store.client, 'keyshift', () => NOW, join(dir, 'spool'))
})
afterAll(async () => {
  await store?.close()
})

function pipeline(
  target: IngestStore = events,
  options: Partial<ConstructorParameters<typeof IngestPipeline>[0]> = {},
): IngestPipeline {
  const decoder = testDecoder({ preset: 'kong', defaultGateway: 'kong-test' })
  return new IngestPipeline({
    store: target,
    decoderFor: () => decoder,
    deadLetters: { send: async () => {} },
    scrub: (b) => b,
    logger: silentLogger(),
    registry: createRegistry(),
    batchMaxEvents: 10_000,
    batchMaxWaitMs: 20,
    retryBaseMs: 10,
    retryMaxMs: 100,
    clock: () => NOW,
    groupsPartitions: () => true,
    ...options,
  })
}

/** Records `from`..`to` of a partition, on keys of their own per source (`source`-k0…k4). */
function records(source: string, partition: number, from: number, to: number, at = NOW): SourceRecord[] {
  return Array.from({ length: to - from + 1 }, (_, k) => {
    const offset = from + k
    const i = partition * 1_000_000 + offset
    return {
      value: Buffer.from(kongLine({ i, time: at - 60_000 + offset, keyId: `${source}-k${i % 5}` })),
      partition,
      offset: BigInt(offset),
      nextOffset: BigInt(offset + 1),
      timestamp: NOW,
    }
  })
}

async function counts(source: string) {
  const [r] = await queryRows<Record<string, number>>(
    store.client,
    `SELECT
      (SELECT count() FROM keyshift.auth_events WHERE src = {s:String}) AS events,
      (SELECT uniqExact(src_partition, src_offset) FROM keyshift.auth_events WHERE src = {s:String}) AS distinct,
      (SELECT sum(requests) FROM keyshift.auth_minute WHERE startsWith(key_id, {k:String})) AS rollup,
      (SELECT sum(requests) FROM keyshift.auth_minute_clients WHERE startsWith(key_id, {k:String})) AS clients`,
    { s: source, k: `${source}-k` },
  )
  const rollup = Number(r!.rollup)
  // Both rollups agree, so one number stands for them.
  return {
    events: Number(r!.events),
    distinct: Number(r!.distinct),
    rollup: rollup === Number(r!.clients) ? rollup : Number.NaN,
  }
}

/** Raw-table parts inserted (level 0, merged away or not) for the UTC day of `at`. */
async function partsOfDay(at: number): Promise<number> {
  const [r] = await queryRows<{ n: number }>(
    store.client,
    `SELECT count() AS n FROM system.parts WHERE database = 'keyshift' AND table = 'auth_events' AND level = 0
       AND partition_id = toString(toYYYYMMDD(toDate({t:Int64} / 1000)))`,
    { t: at },
  )
  return Number(r!.n)
}

/**
 * What step 1 of a write leaves when the process dies right after it: `pending`
 * rows for `lasts` (partition → last offset, each range from offset 0) in flush
 * `flush`, no events.
 */
async function pendingOnly(source: string, flush: string, lasts: Record<number, number>): Promise<void> {
  await store.client.insert({
    table: 'keyshift.ingest_positions',
    format: 'JSONEachRow',
    values: Object.entries(lasts).map(([partition, last]) => ({
      source,
      partition: Number(partition),
      state: 'pending',
      first_offset: 0,
      last_offset: last,
      next_offset: last + 1,
      meta: '',
      epoch: 0,
      ver: 1,
      updated_at: NOW,
      flush,
    })),
  })
}

/** Drops the `committed` rows: the state a crash between the event insert and step 4 leaves. */
async function forgetCommits(source: string): Promise<void> {
  await store.client.command({
    query: `ALTER TABLE keyshift.ingest_positions DELETE WHERE source = {s:String} AND state = 'committed'`,
    query_params: { s: source },
    clickhouse_settings: { mutations_sync: '2' },
  })
}

/** Resolves to whether `p` settled within `ms`. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  return Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))])
}

describe('rebuilding a pending flush (embedded store, grouped partitions)', () => {
  it('writes a flush of three partitions as one insert and, rebuilt after a crash, stores nothing twice', async () => {
    const source = 'kafka:landed'
    const first = pipeline()
    expect(await first.positions(source)).toEqual([])
    await Promise.all([0, 1, 2].map((p) => first.submit(source, p, records(source, p, 0, 99))))
    await first.stop()
    expect(await counts(source)).toEqual({ events: 300, distinct: 300, rollup: 300 })
    // One part per flush in the raw table: the three partitions went in one insert.
    expect(await partsOfDay(NOW)).toBe(1)

    await forgetCommits(source)
    const second = pipeline()
    const pending = await second.positions(source)
    expect(pending.map((p) => [p.partition, p.nextOffset, p.pendingLastOffset])).toEqual([
      [0, 0n, 99n],
      [1, 0n, 99n],
      [2, 0n, 99n],
    ])
    // Partition 0 is read again, with 20 new records behind its pending range:
    // nothing of it is stored while partitions 1 and 2 are still being read.
    const p0 = second.submit(source, 0, records(source, 0, 0, 119))
    expect(await settlesWithin(p0, 300)).toBe(false)
    const p1 = second.submit(source, 1, records(source, 1, 0, 99))
    expect(await settlesWithin(p1, 300)).toBe(false)
    expect(await counts(source)).toEqual({ events: 300, distinct: 300, rollup: 300 })
    await Promise.all([p0, p1, second.submit(source, 2, records(source, 2, 0, 99))])
    await second.stop()
    // The rebuilt flush was deduplicated as a whole; the 20 new records stored once.
    expect(await counts(source)).toEqual({ events: 320, distinct: 320, rollup: 320 })
    const after = await pipeline().positions(source)
    expect(after.map((p) => [p.partition, p.nextOffset, p.pendingLastOffset])).toEqual([
      [0, 120n, null],
      [1, 100n, null],
      [2, 100n, null],
    ])
  })

  it('stores every record of a flush that crashed before its event insert, partitions read at different times', async () => {
    const source = 'kafka:lost'
    // What step 1 left: two partitions pending in flush `f-lost`, no events written.
    await pendingOnly(source, 'f-lost', { 0: 49, 1: 29 })
    const rebuild = async () => {
      const p = pipeline()
      await p.positions(source)
      const p0 = p.submit(source, 0, records(source, 0, 0, 49))
      expect(await settlesWithin(p0, 200)).toBe(false)
      await Promise.all([p0, p.submit(source, 1, records(source, 1, 0, 29))])
      await p.stop()
    }
    await rebuild()
    // Written one partition at a time, the second would reuse the first's dedup token and be dropped.
    expect(await counts(source)).toEqual({ events: 80, distinct: 80, rollup: 80 })
    // Crashing again after the rebuilt insert: rebuilt once more, deduplicated.
    await forgetCommits(source)
    await rebuild()
    expect(await counts(source)).toEqual({ events: 80, distinct: 80, rollup: 80 })
  })

  it('rebuilds a pending batch written before flush ids on its own', async () => {
    const source = 'kafka:legacy'
    await store.client.insert({
      table: 'keyshift.ingest_positions',
      format: 'JSONEachRow',
      values: [
        {
          source,
          partition: 4,
          state: 'pending',
          first_offset: 10,
          last_offset: 19,
          next_offset: 20,
          meta: '',
          epoch: 0,
          ver: 1,
          updated_at: NOW,
        },
      ],
    })
    const p = pipeline()
    expect((await p.positions(source)).map((x) => [x.partition, x.nextOffset, x.pendingLastOffset])).toEqual([
      [4, 10n, 19n],
    ])
    await p.submit(source, 4, records(source, 4, 10, 24))
    await p.stop()
    expect(await counts(source)).toEqual({ events: 15, distinct: 15, rollup: 15 })
  })

  it('one request per statement (the ClickHouse server path) writes each partition alone and rebuilds it alone', async () => {
    const source = 'kafka:server'
    const at = NOW - 3 * 86_400_000 // a day of its own, to count its parts
    const server = new EventStore(store.client, 'keyshift', () => NOW)
    const first = pipeline(server)
    await first.positions(source)
    await Promise.all([0, 1, 2].map((p) => first.submit(source, p, records(source, p, 0, 39, at))))
    await first.stop()
    expect(await counts(source)).toEqual({ events: 120, distinct: 120, rollup: 120 })
    expect(await partsOfDay(at)).toBe(3)
    await forgetCommits(source)
    const second = pipeline(server)
    expect((await second.positions(source)).map((p) => p.pendingLastOffset)).toEqual([39n, 39n, 39n])
    const [flushIds] = await queryRows<{ ids: string[] }>(
      store.client,
      'SELECT groupUniqArray(flush) AS ids FROM keyshift.ingest_positions WHERE source = {s:String}',
      { s: source },
    )
    expect(flushIds!.ids).toEqual([''])
    // Rebuilt one partition at a time: partition 0 is stored without waiting for the others.
    await second.submit(source, 0, records(source, 0, 0, 44, at))
    await Promise.all([1, 2].map((p) => second.submit(source, p, records(source, p, 0, 39, at))))
    await second.stop()
    expect(await counts(source)).toEqual({ events: 125, distinct: 125, rollup: 125 })
  })

  it('at shutdown, submits held behind an incomplete rebuild are rejected and stay pending', async () => {
    const source = 'kafka:closing'
    await pendingOnly(source, 'f-closing', { 0: 9, 1: 9 })
    const p = pipeline()
    await p.positions(source)
    const held = p.submit(source, 0, records(source, 0, 0, 14))
    const outcome = held.then(
      () => 'stored',
      (err: Error) => err.name,
    )
    expect(await settlesWithin(held, 200)).toBe(false)
    p.close()
    expect(await outcome).toBe('PipelineStoppedError')
    await expect(p.submit(source, 0, records(source, 0, 15, 19))).rejects.toThrow(
      'the ingest pipeline is stopping',
    )
    await p.stop()
    expect(await counts(source)).toEqual({ events: 0, distinct: 0, rollup: 0 })
    // Still pending: the next start rebuilds the flush whole.
    const next = pipeline()
    expect((await next.positions(source)).map((x) => [x.nextOffset, x.pendingLastOffset])).toEqual([
      [0n, 9n],
      [0n, 9n],
    ])
    await Promise.all([0, 1].map((x) => next.submit(source, x, records(source, x, 0, 9))))
    await next.stop()
    expect(await counts(source)).toEqual({ events: 20, distinct: 20, rollup: 20 })
  })
})

describe('bounding the records the pipeline holds', () => {
  /** The real store, its writes held until `open()`. */
  function gatedStore() {
    let open!: () => void
    const gate = new Promise<void>((r) => {
      open = r
    })
    let writes = 0
    const store: IngestStore = {
      encode: (...args) => events.encode(...args),
      probe: (rows) => events.probe(rows),
      claim: (...args) => events.claim(...args),
      positions: (source) => events.positions(source),
      write: async (batches) => {
        writes++
        await gate
        return events.write(batches)
      },
    }
    return { store, open, writes: () => writes }
  }

  it('makes sources wait while max_buffered_events wait for a group commit, then takes them all', async () => {
    const source = 'kafka:bounded'
    const gated = gatedStore()
    const p = pipeline(gated.store, { batchMaxEvents: 50, batchMaxWaitMs: 60_000, maxBufferedEvents: 100 })
    await p.positions(source)
    // 60 records fill a batch: its write starts (and hangs), the buffer is empty again.
    const first = p.submit(source, 0, records(source, 0, 0, 59))
    expect(gated.writes()).toBe(1)
    expect([p.bufferedEvents(), p.hasRoom()]).toEqual([0, true])
    const second = p.submit(source, 1, records(source, 1, 0, 69))
    expect([p.bufferedEvents(), p.hasRoom()]).toEqual([70, true])
    const third = p.submit(source, 2, records(source, 2, 0, 39))
    expect([p.bufferedEvents(), p.hasRoom()]).toEqual([110, false])
    const room = p.room()
    expect(await settlesWithin(room, 200)).toBe(false)
    // The first write lands; the next flush takes the 110 waiting records.
    gated.open()
    await room
    expect(p.bufferedEvents()).toBe(0)
    await Promise.all([first, second, third])
    await p.stop()
    expect(gated.writes()).toBe(2)
    expect(await counts(source)).toEqual({ events: 170, distinct: 170, rollup: 170 })
  })

  it('lets waiting sources go when the pipeline closes', async () => {
    const source = 'kafka:bounded-close'
    const gated = gatedStore()
    const p = pipeline(gated.store, { batchMaxEvents: 10, batchMaxWaitMs: 60_000, maxBufferedEvents: 10 })
    await p.positions(source)
    const first = p.submit(source, 0, records(source, 0, 0, 9))
    const second = p.submit(source, 0, records(source, 0, 10, 19))
    expect(p.hasRoom()).toBe(false)
    const room = p.room()
    p.close()
    expect(await settlesWithin(room, 200)).toBe(true)
    gated.open()
    await Promise.all([first, second])
    await p.stop()
    expect(await counts(source)).toEqual({ events: 20, distinct: 20, rollup: 20 })
  })
})
