// The key list kept between requests (rotation/key-list.ts) on the embedded
// engine: pages come from the list built once while nothing changed, and every
// change it depends on (events stored, the 24 h window moving a minute, the
// registry, alerts firing) shows at the next request with exact totals, the
// same as a list computed from scratch (RotationService.listKeys).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { App } from '../../src/app.ts'
import type { RecordedLifecycleEvent } from '../../src/registry/lifecycle-input.ts'
import type { OpenAlertOfKey } from '../../src/rotation/key-attention.ts'
import type { KeyOrder } from '../../src/rotation/key-list.ts'
import { AnalyticsStore } from '../../src/store/clickhouse/analytics-store.ts'
import { openEmbeddedApp } from '../support/embedded-app.ts'

const MIN = 60_000
const DAY = 86_400_000
/** A minute boundary; "now" in the tests is 10 s after it. */
const M = Math.floor((Date.now() - 2 * MIN) / MIN) * MIN
const dir = mkdtempSync(join(tmpdir(), 'ks-key-list-'))
let app: App
let analytics: AnalyticsStore
let eventNo = 0

/** Stores `count` events of (key, version) at `time`, `failures` of them rejected. */
async function store(keyId: string, version: string, time: number, count: number, failures = 0) {
  const first = eventNo
  eventNo += count
  await app.store.client.command({
    query: `INSERT INTO keyshift.auth_events (time, event_id, key_id, key_version, outcome, reason, status,
        client_id, source_address, user_agent, method, route, gateway, latency_ms, src, src_partition, src_offset)
      SELECT fromUnixTimestamp64Milli({time:Int64}, 'UTC'), concat('e', toString({first:UInt64} + number)),
        {key:String}, {version:String}, if(number < {failures:UInt64}, 'failure', 'success'),
        if(number < {failures:UInt64}, 'invalid_signature', ''), if(number < {failures:UInt64}, 401, 200),
        'client-1', '192.0.2.1', 'sdk/1', 'GET', '/v1/x', 'gw-1', 5, 'test', 0, {first:UInt64} + number
      FROM numbers({count:UInt64})`,
    query_params: { time, first, key: keyId, version, count, failures },
  })
}

const lifecycle = (
  keyId: string,
  version: string,
  action: RecordedLifecycleEvent['action'],
  time: number,
) => ({
  eventId: `t:${keyId}:${version}:${action}`,
  origin: 'test',
  keyId,
  version,
  action,
  time,
})

const page = (
  now: number,
  q: { order?: KeyOrder; limit?: number; after?: string; contains?: string } = {},
  alerts: OpenAlertOfKey[] = [],
) => app.rotation.keyListPage(now, Promise.resolve(alerts), { order: 'key', limit: 500, ...q })

/** (key, requests, failures, versions) of a page. */
const totals = (p: { keys: { keyId: string; requests: number; failures: number; versions: string[] }[] }) =>
  p.keys.map((k) => [k.keyId, k.requests, k.failures, k.versions.join(',')])

/** The page must equal the list computed from scratch at the same now. */
async function expectFresh(now: number, alerts: OpenAlertOfKey[] = []) {
  const fresh = await app.rotation.listKeys(now, alerts)
  const got = await page(now, {}, alerts)
  expect(got.keys).toEqual(fresh)
  expect(got.total).toBe(fresh.length)
}

beforeAll(async () => {
  app = await openEmbeddedApp('key-list', dir)
  analytics = new AnalyticsStore(app.store.client, app.store.database)
  // edge: in the first minute of the 24 h window at M + 10 s, so it leaves it one minute later.
  await store('edge', 'v1', M - DAY + MIN + 5_000, 2)
  await store('acme', 'v1', M - 5 * MIN, 3, 1)
})

afterAll(async () => {
  await app?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('the key list kept between requests', () => {
  it("changes the rollups' mark with every insert, and only then", async () => {
    const before = await analytics.keysMark()
    expect(await analytics.keysMark()).toBe(before)
    await store('mark-probe', 'v1', M - 90 * MIN, 1)
    expect(await analytics.keysMark()).not.toBe(before)
  })

  it('serves pages from one build while nothing changes, equal to a list computed from scratch', async () => {
    const now = M + 10_000
    const first = await page(now)
    const builds = app.rotation.keyListBuilds
    expect(totals(first)).toEqual([
      ['acme', 3, 1, 'v1'],
      ['edge', 2, 0, 'v1'],
      ['mark-probe', 1, 0, 'v1'],
    ])
    const one = await page(now + 1_000, { limit: 1 })
    const two = await page(now + 2_000, { limit: 1, after: 'acme' })
    expect([...totals(one), ...totals(two)]).toEqual(totals(first).slice(0, 2))
    expect(one.more && two.more).toBe(true)
    expect(app.rotation.keyListBuilds).toBe(builds)
    await expectFresh(now + 3_000)
  })

  it('counts events stored since the last build at the next request, exactly', async () => {
    const now = M + 20_000
    await page(now)
    await store('acme', 'v2', M - 2 * MIN, 4, 2)
    await store('newcomer', 'v1', M - MIN, 5)
    expect(totals(await page(now))).toEqual([
      ['acme', 7, 3, 'v1,v2'],
      ['edge', 2, 0, 'v1'],
      ['mark-probe', 1, 0, 'v1'],
      ['newcomer', 5, 0, 'v1'],
    ])
    await expectFresh(now)
  })

  it('drops a minute from the 24 h totals once 24 h have passed since its start, to the second', async () => {
    expect(totals(await page(M + 59_999, { contains: 'edge' }))).toEqual([['edge', 2, 0, 'v1']])
    expect(totals(await page(M + MIN + 999, { contains: 'edge' }))).toEqual([['edge', 2, 0, 'v1']])
    expect(await page(M + MIN + 1_000, { contains: 'edge' })).toMatchObject({ keys: [], total: 0 })
    await expectFresh(M + MIN + 1_000)
  })

  it('judges attention again when the registry changes and when an alert fires', async () => {
    const now = M + MIN + 5_000 // edge has left the window
    const before = await page(now, { order: 'attention' })
    expect(before.attention).toEqual({ critical: 0, warning: 0, info: 0 })
    await app.keys.record([
      lifecycle('acme', 'v1', 'create', M - 10 * DAY),
      lifecycle('acme', 'v1', 'activate', M - 10 * DAY + 1),
      lifecycle('acme', 'v2', 'create', M - 3 * DAY),
      lifecycle('acme', 'v2', 'activate', M - 3 * DAY + 1),
      lifecycle('acme', 'v1', 'deactivate', M - 2 * DAY),
      lifecycle('zulu', 'v1', 'create', M - DAY),
    ])
    const after = await page(now, { order: 'attention', limit: 2 })
    expect(after.keys.map((k) => [k.keyId, k.attention.level, k.registered])).toEqual([
      ['acme', 'critical', true],
      ['mark-probe', null, false],
    ])
    expect(after).toMatchObject({ total: 4, attention: { critical: 1, warning: 0, info: 0 } })
    // zulu: registered, never seen: listed with no traffic and no 1 h shares.
    expect((await page(now, { contains: 'zulu' })).keys).toMatchObject([
      { keyId: 'zulu', requests: 0, registered: true, shares1h: null },
    ])

    const spike: OpenAlertOfKey = {
      key_id: 'newcomer',
      version: 'v1',
      type: 'failure_spike',
      severity: 'warning',
      status: 'firing',
      silenced_by: [],
    }
    const firing = await page(now, { order: 'attention', limit: 2 }, [spike])
    expect(firing.keys.map((k) => [k.keyId, k.attention.level])).toEqual([
      ['acme', 'critical'],
      ['newcomer', 'warning'],
    ])
    expect(firing.attention).toEqual({ critical: 1, warning: 1, info: 0 })
    await expectFresh(now, [spike])
    // Silenced: back to the list without it.
    const silenced = await page(now, { order: 'attention', limit: 2 }, [{ ...spike, silenced_by: ['sil_1'] }])
    expect(silenced.attention).toEqual({ critical: 1, warning: 0, info: 0 })
  })
})
