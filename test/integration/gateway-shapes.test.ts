// Gateway shapes through the real pipeline and the real embedded store: a Kong
// http-log batch (a JSON array) becomes one stored event per element, a batch
// with one bad element stores the good ones and dead-letters the record, a
// routing 404 with no identity is counted as skipped (not dead-lettered), and
// every stored row records what identified its key (identity_source, migration 11),
// in the server insert path's column list and the embedded spool path alike.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { KEY_V1, testDecoder } from '../../src/ingest/decode/test-kit.ts'
import { type DeadLetter, IngestPipeline } from '../../src/ingest/pipeline.ts'
import type { SourceRecord } from '../../src/ingest/source.ts'
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse/client.ts'
import { EventStore } from '../../src/store/clickhouse/event-store.ts'
import { migrate } from '../../src/store/clickhouse/migrations.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { createRegistry } from '../../src/telemetry/metrics.ts'
import { queryRows } from '../support/store-probe.ts'

// Recent: the raw table's TTL (30 days here) would drop older rows at insert.
const NOW = Math.floor(Date.now() / 1000) * 1000
const T = NOW - 60_000
const dir = mkdtempSync(join(tmpdir(), 'ks-gateway-shapes-'))
let store: StoreClient

beforeAll(async () => {
  store = createStoreClient(parseConfig({ data_dir: join(dir, 'data') }))
  await migrate(store.client, 'keyshift', { rawDays: 30, rollupDays: 400 })
})
afterAll(async () => {
  await store?.close()
})

const kong = (id: string, extra: Record<string, unknown> = {}) => ({
  request: { id, method: 'GET', uri: '/v1/payments', headers: { apikey: KEY_V1 } },
  response: { status: 200 },
  client_ip: '203.0.113.10',
  started_at: T,
  ...extra,
})

function rec(offset: number, value: unknown): SourceRecord {
  return {
    value: Buffer.from(JSON.stringify(value)),
    partition: 0,
    offset: BigInt(offset),
    nextOffset: BigInt(offset + 1),
    timestamp: NOW,
  }
}

describe('gateway shapes through the pipeline', () => {
  it('splits batches, skips identity-less routing noise, stores identity_source', async () => {
    const letters: DeadLetter[] = []
    const registry = createRegistry()
    const pipeline = new IngestPipeline({
      store: new EventStore(store.client, 'keyshift', () => NOW, join(dir, 'spool')),
      decoderFor: () => testDecoder({ preset: 'kong', defaultGateway: 'kong-shapes' }),
      deadLetters: { send: async (l) => void letters.push(...l) },
      scrub: (b) => b,
      logger: silentLogger(),
      registry,
      batchMaxEvents: 10_000,
      batchMaxWaitMs: 20,
      retryBaseMs: 10,
      retryMaxMs: 100,
      clock: () => NOW,
    })
    const hideCredentials = kong('b-3', {
      request: { id: 'b-3', method: 'GET', uri: '/v1/payments', headers: {} },
      authenticated_entity: { id: 'a1b2c3d4-0000-4000-8000-00000000cafe', consumer_id: 'c-1' },
      consumer: { id: 'c-1', username: 'acme-payments' },
    })
    await pipeline.submit('shapes', 0, [
      rec(0, [kong('b-1'), kong('b-2'), hideCredentials]),
      rec(1, [kong('c-1'), { ...kong('c-2'), started_at: undefined }]),
      rec(2, {
        request: { method: 'GET', uri: '/nope', headers: {} },
        response: { status: 404 },
        started_at: T,
      }),
      rec(3, kong('d-1')),
    ])
    await pipeline.drain()

    const rows = await queryRows<{ event_id: string; src_offset: number; identity_source: string }>(
      store.client,
      `SELECT event_id, src_offset, identity_source FROM keyshift.auth_events
       WHERE src = 'shapes' ORDER BY event_id`,
    )
    expect(rows.map((r) => [r.event_id, Number(r.src_offset), r.identity_source])).toEqual([
      ['b-1', 0, 'key_material'],
      ['b-2', 0, 'key_material'],
      ['b-3', 0, 'consumer'],
      ['c-1', 1, 'key_material'],
      ['d-1', 3, 'key_material'],
    ])
    expect(letters.map((l) => [Number(l.offset), l.reason])).toEqual([[1, 'missing_time']])
    expect(letters[0]!.detail).toBe('1 of 2 batch elements rejected; element 1: the record has no event time')
    const [dead] = await queryRows<{ n: number }>(
      store.client,
      `SELECT count() AS n FROM keyshift.dead_letters WHERE src = 'shapes'`,
    )
    expect(Number(dead!.n)).toBe(1)
    const skipped = await registry.getSingleMetric('keyshift_events_skipped_total')!.get()
    expect(skipped.values).toEqual([{ labels: { source: 'shapes', reason: 'not_auth_traffic' }, value: 1 }])
    const positions = await pipeline.positions('shapes')
    expect(positions.map((p) => Number(p.nextOffset))).toEqual([4])
    await pipeline.stop()
  })
})
