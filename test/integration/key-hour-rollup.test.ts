// The key list's hourly totals (migration 21, auth_key_hour) on the embedded
// engine: AnalyticsStore.keys() takes whole hours from the hourly rollup and
// the partial hours at the window's edges from auth_minute, and must answer
// exactly what auth_minute alone answers for any window; the migration's
// backfill carries the rollups stored before it, once, however often it runs.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../src/app.ts'
import { AnalyticsStore } from '../../src/store/clickhouse/analytics-store.ts'
import { migrate } from '../../src/store/clickhouse/migrations.ts'
import { openEmbeddedApp } from '../support/embedded-app.ts'

const MIN = 60_000
const HOUR = 3_600_000
/** An hour boundary 40 h ago, so windows can start on, just after and just before it. */
const H0 = Math.floor((Date.now() - 40 * HOUR) / HOUR) * HOUR
const dir = mkdtempSync(join(tmpdir(), 'ks-key-hour-'))
let app: App
let analytics: AnalyticsStore

/** What keys(w) must answer: auth_minute alone, minute by minute. */
async function reference(w: { from: number; to: number }) {
  const rs = await app.store.client.query({
    query: `SELECT key_id AS keyId, toUInt64(sum(requests)) AS total,
        toUInt64(sumIf(requests, outcome = 'failure')) AS failed,
        arraySort(groupUniqArray(key_version)) AS versions, toUnixTimestamp(max(minute)) * 1000 AS lastSeen
      FROM keyshift.auth_minute
      WHERE minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
      GROUP BY key_id ORDER BY key_id`,
    query_params: { from: Math.floor(w.from / 1000), to: Math.ceil(w.to / 1000) },
    format: 'JSONEachRow',
  })
  return ((await rs.json()) as Record<string, unknown>[]).map((r) => ({
    keyId: r.keyId,
    requests: Number(r.total),
    failures: Number(r.failed),
    versions: r.versions,
    lastSeen: Number(r.lastSeen),
  }))
}

beforeAll(async () => {
  app = await openEmbeddedApp('key-hour', dir)
  analytics = new AnalyticsStore(app.store.client, app.store.database)
  // 30 h of events from H0 on, one every 7 minutes per key (so hours hold uneven
  // counts), on three keys and two versions, every fifth one rejected; inserted
  // in three batches, so the rollups hold unmerged parts.
  for (const part of [0, 1, 2]) {
    await app.store.client.command({
      query: `INSERT INTO keyshift.auth_events (time, event_id, key_id, key_version, outcome, reason, status,
          client_id, source_address, user_agent, method, route, gateway, latency_ms, src, src_partition, src_offset)
        SELECT toDateTime64({h0:UInt32} + n * 7 * 60 / 3 + 13, 3, 'UTC'), concat('e', toString(n)),
          concat('key-', toString(n % 3)), if(n % 4 = 0, 'v2', 'v1'),
          if(n % 5 = 0, 'failure', 'success'), if(n % 5 = 0, 'invalid_signature', ''), if(n % 5 = 0, 401, 200),
          concat('client-', toString(n % 2)), '192.0.2.1', 'sdk/1', 'GET', '/v1/x', 'gw-1', 5, 'test', 0, n
        FROM (SELECT number AS n FROM numbers({count:UInt64}) WHERE number % 3 = {part:UInt8})`,
      query_params: { h0: H0 / 1000, count: Math.floor((30 * 60 * 3) / 7), part },
    })
  }
})

afterAll(async () => {
  await app?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('keys() over the hourly key totals', () => {
  const windows: [string, { from: number; to: number }][] = [
    ['24 h, on hour boundaries', { from: H0 + 2 * HOUR, to: H0 + 26 * HOUR }],
    ['24 h, from and to inside hours', { from: H0 + 2 * HOUR + 17 * MIN, to: H0 + 26 * HOUR + 17 * MIN }],
    ['from on a boundary, to inside an hour', { from: H0 + 3 * HOUR, to: H0 + 9 * HOUR + 59 * MIN }],
    ['from inside an hour, to on a boundary', { from: H0 + 3 * HOUR + MIN, to: H0 + 9 * HOUR }],
    ['across one boundary, no whole hour', { from: H0 + 5 * HOUR + 40 * MIN, to: H0 + 6 * HOUR + 20 * MIN }],
    ['inside one hour', { from: H0 + 7 * HOUR + 5 * MIN, to: H0 + 7 * HOUR + 50 * MIN }],
    ['past the last event', { from: H0 + 20 * HOUR + 30 * MIN, to: H0 + 40 * HOUR }],
    ['before the first event', { from: H0 - 5 * HOUR, to: H0 }],
  ]
  for (const [name, w] of windows) {
    it(`answers what the minute rollup answers: ${name}`, async () => {
      const want = await reference(w)
      expect(await analytics.keys(w)).toEqual(want)
    })
  }

  it('holds one row per key, version and hour once merged', async () => {
    const rs = await app.store.client.query({
      query: `SELECT count() AS n FROM (SELECT 1 FROM keyshift.auth_key_hour GROUP BY hour, key_id, key_version)`,
      format: 'JSONEachRow',
    })
    // 30 h of traffic from H0 (the last event at H0 + 29 h 58 min): 30 hours × 3 keys × 2 versions.
    expect(Number(((await rs.json()) as { n: number }[])[0]!.n)).toBe(180)
  })

  it('backfills the minute rollups stored before the migration, once, however often it runs', async () => {
    const w = { from: H0, to: H0 + 31 * HOUR }
    const want = await reference(w)
    const c = app.store.client
    await c.command({ query: 'DROP VIEW keyshift.auth_key_hour_mv' })
    await c.command({ query: 'DROP TABLE keyshift.auth_key_hour' })
    await c.command({ query: 'DELETE FROM keyshift.schema_migrations WHERE version = 21' })
    const retention = { rawDays: 30, rollupDays: 400 }
    expect((await migrate(c, 'keyshift', retention)).applied.map((m) => m.version)).toEqual([21])
    expect(await analytics.keys(w)).toEqual(want)
    // A re-run after a crash between the backfill and the record of the migration.
    await c.command({ query: 'DROP VIEW keyshift.auth_key_hour_mv' })
    await c.command({ query: 'DELETE FROM keyshift.schema_migrations WHERE version = 21' })
    expect((await migrate(c, 'keyshift', retention)).applied.map((m) => m.version)).toEqual([21])
    expect(await analytics.keys(w)).toEqual(want)
  })
})
