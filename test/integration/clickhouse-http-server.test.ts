// The test ClickHouse server (test/support/clickhouse-http) answers keyshift's
// store client the way a server does on what keyshift relies on: migrations,
// query parameters that need escaping, per-request settings (an insert
// deduplication token applies to its own insert only), authentication errors
// that are not worth retrying and outages that are.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse/client.ts'
import { classifyStoreError } from '../../src/store/clickhouse/errors.ts'
import { MIGRATIONS, migrate } from '../../src/store/clickhouse/migrations.ts'
import {
  type ClickHouseHttpServerProcess,
  spawnClickHouseHttpServer,
} from '../support/clickhouse-http/process.ts'
import { queryRows } from '../support/store-probe.ts'

const USER = 'keyshift'
const PASSWORD = 'http-server-secret'

describe('test ClickHouse server in front of the embedded engine', () => {
  let server: ClickHouseHttpServerProcess
  let store: StoreClient
  const open = (password: string) =>
    createStoreClient(
      parseConfig({
        clickhouse: { url: server.url, username: USER, password, request_timeout_ms: 10_000 },
      }),
    )

  beforeAll(async () => {
    server = await spawnClickHouseHttpServer(join(mkdtempSync(join(tmpdir(), 'ks-ch-http-')), 'store'), {
      users: { [USER]: PASSWORD },
    })
    store = open(PASSWORD)
  })

  afterAll(async () => {
    await store?.close()
    await server?.close()
  })

  it("runs keyshift's migrations, and a second run applies none", async () => {
    expect(store.mode).toBe('server')
    const latest = Math.max(...MIGRATIONS.map((m) => m.version))
    const first = await migrate(store.client, 'keyshift', { rawDays: 30, rollupDays: 400 })
    expect(first.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version))
    expect(first.current).toBe(latest)
    const again = await migrate(store.client, 'keyshift', { rawDays: 30, rollupDays: 400 })
    expect(again).toEqual({ applied: [], current: latest })
  })

  it('binds query parameters that need escaping, byte for byte', async () => {
    const s = `it's a "tab"\there\\n, a newline\nand ünïcødé 🔑`
    const [r] = await queryRows<{ s: string; n: number }>(
      store.client,
      'SELECT {s:String} AS s, {n:UInt64} AS n',
      {
        s,
        n: 18_446_744_073_709,
      },
    )
    expect(r).toEqual({ s, n: 18_446_744_073_709 })
  })

  it('applies an insert deduplication token to its own insert only', async () => {
    await store.client.command({ query: 'CREATE DATABASE IF NOT EXISTS t' })
    await store.client.command({
      query: `CREATE TABLE t.rows (id UInt32) ENGINE = MergeTree ORDER BY id
        SETTINGS non_replicated_deduplication_window = 100`,
    })
    const insert = (ids: number[], token?: string) =>
      store.client.insert({
        table: 't.rows',
        values: ids.map((id) => ({ id })),
        format: 'JSONEachRow',
        clickhouse_settings: token === undefined ? {} : { insert_deduplication_token: token },
      })
    await insert([1, 2], 'batch-1')
    // Same token, other rows: dropped, so the token (not only the rows' hash) reached the engine.
    await insert([5, 6], 'batch-1')
    await insert([3], 'batch-2')
    // No token: the previous request's token must not linger and drop this one.
    await insert([4])
    const rows = await queryRows<{ id: number }>(store.client, 'SELECT id FROM t.rows ORDER BY id')
    expect(rows.map((r) => r.id)).toEqual([1, 2, 3, 4])
  })

  it('refuses a wrong password with a non-retriable authentication error', async () => {
    const wrong = open('not-the-password')
    try {
      const err = await wrong.client.query({ query: 'SELECT 1' }).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect((err as { code?: string }).code).toBe('516')
      expect(classifyStoreError(err, 'query').retriable).toBe(false)
    } finally {
      await wrong.close()
    }
  })

  it('an outage answers with a retriable error; after restore the same client works', async () => {
    await server.outage('error')
    const err = await store.client.query({ query: 'SELECT 1' }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect((err as { code?: string }).code).toBe('242')
    expect(classifyStoreError(err, 'query').retriable).toBe(true)
    await server.restore()
    const [r] = await queryRows<{ one: number }>(store.client, 'SELECT 1 AS one')
    expect(r).toEqual({ one: 1 })
  })
})
