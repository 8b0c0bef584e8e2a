// A rebalance must not make two members store one batch twice. Several
// members share a ClickHouse server, so the store's server write path fences a
// batch whose partition another member claimed (was assigned) after the batch
// was planned: its events are not written, and the new owner stores the
// records once. This runs the server write path (one request per insert, the
// claim check between the `pending` rows and the events) on the real engine;
// the embedded engine answers the same SQL. Two pipelines stand for the two
// members of the consumer group.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { testDecoder } from '../../src/ingest/decode/test-kit.ts'
import { IngestPipeline, PipelineFencedError } from '../../src/ingest/pipeline.ts'
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
const dir = mkdtempSync(join(tmpdir(), 'ks-rebalance-claims-'))
let store: StoreClient
/** The server write path: no spool directory. */
let events: EventStore

beforeAll(async () => {
  store = createStoreClient(parseConfig({ data_dir: join(dir, 'data') }))
  await migrate(store.client, 'keyshift', { rawDays: 30, rollupDays: 400 })
  events = new EventStore(store.client, 'keyshift', () => NOW, null)
})
afterAll(async () => {
  await store?.close()
})

function member(target: IngestStore = events, clock = () => NOW): IngestPipeline {
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
    clock,
    // A server store writes each partition's batch on its own.
    groupsPartitions: () => false,
  })
}

/** The real store; the member's first write waits for `open()` (a write still on its way). */
function heldStore() {
  let open!: () => void
  const gate = new Promise<void>((r) => {
    open = r
  })
  let writes = 0
  const target: IngestStore = {
    encode: (...args) => events.encode(...args),
    probe: (rows) => events.probe(rows),
    claim: (...args) => events.claim(...args),
    positions: (source) => events.positions(source),
    write: async (batches) => {
      if (++writes === 1) await gate
      return events.write(batches)
    },
  }
  return { target, open, writes: () => writes }
}

function records(source: string, partition: number, from: number, to: number): SourceRecord[] {
  return Array.from({ length: to - from + 1 }, (_, k) => {
    const offset = from + k
    const i = partition * 1_000_000 + offset
    return {
      value: Buffer.from(kongLine({ i, time: NOW - 60_000 + offset, keyId: `${source}-k${i % 5}` })),
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
      (SELECT sum(requests) FROM keyshift.auth_minute WHERE startsWith(key_id, {k:String})) AS rollup`,
    { s: source, k: `${source}-k` },
  )
  return { events: Number(r!.events), distinct: Number(r!.distinct), rollup: Number(r!.rollup) }
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    if (cond()) return
    await new Promise((r) => setTimeout(r, 5))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('claims on the server write path', () => {
  it("an old owner's write that lands after the next owner read the positions stores nothing; its other partition goes on", async () => {
    const source = 'kafka:claims'
    const held = heldStore()
    // A's clock runs a minute ahead of B's: its late `pending` row must still rank below B's rows.
    const a = member(held.target, () => NOW + 60_000)
    await a.positions(source, [0, 1])
    // A's flush of both partitions is on its way when the group gives partition 0 to B.
    const a0 = a.submit(source, 0, records(source, 0, 0, 9)).catch((err) => err)
    const a1 = a.submit(source, 1, records(source, 1, 0, 9))
    await until("A's write", () => held.writes() === 1)
    const b = member()
    const [b0] = await b.positions(source, [0])
    expect(b0).toBeUndefined() // nothing of partition 0 stored yet: B starts where the broker does
    await b.submit(source, 0, records(source, 0, 0, 14))
    held.open()
    expect(await a0).toBeInstanceOf(PipelineFencedError)
    await a1
    expect(await counts(source)).toEqual({ events: 25, distinct: 25, rollup: 25 })
    // Partition 1 is still A's; partition 0 is refused until A is assigned it again.
    await a.submit(source, 1, records(source, 1, 10, 14))
    await expect(a.submit(source, 0, records(source, 0, 15, 19))).rejects.toBeInstanceOf(PipelineFencedError)
    await b.submit(source, 0, records(source, 0, 15, 19))
    expect(await counts(source)).toEqual({ events: 35, distinct: 35, rollup: 35 })
    expect(
      (await events.positions(source)).map((p) => [p.partition, p.nextOffset, p.pendingLastOffset]),
    ).toEqual([
      [0, 20n, null],
      [1, 15n, null],
    ])
    await Promise.all([a.stop(), b.stop()])
  })

  it('a member assigned a partition again owns it again: the latest claim wins', async () => {
    const source = 'kafka:reclaim'
    const a = member()
    const b = member()
    await a.positions(source, [0])
    await a.submit(source, 0, records(source, 0, 0, 4))
    await b.positions(source, [0])
    await b.submit(source, 0, records(source, 0, 5, 9))
    await a.positions(source, [0])
    await a.submit(source, 0, records(source, 0, 10, 14))
    // B's fetch of its earlier assignment stores nothing.
    await expect(b.submit(source, 0, records(source, 0, 15, 19))).rejects.toBeInstanceOf(PipelineFencedError)
    expect(await counts(source)).toEqual({ events: 15, distinct: 15, rollup: 15 })
    const claims = await queryRows<{ claim_rank: number; n: number }>(
      store.client,
      `SELECT ver AS claim_rank, count() AS n FROM keyshift.ingest_claims
        WHERE source = {s:String} GROUP BY ver ORDER BY ver`,
      { s: source },
    )
    expect(claims.map((c) => [Number(c.claim_rank), Number(c.n)])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ])
    await Promise.all([a.stop(), b.stop()])
  })
})
