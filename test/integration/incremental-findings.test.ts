// Incremental evaluation on the real embedded store: 300 keys with background
// traffic; a round after new events reads only the keys those events touched in
// a way that matters (rejections, retired or unknown versions) plus the sweep's
// share, and its findings equal a full recompute at the same now — also after a
// restart, where the state is rebuilt from the store alone.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '../../src/analysis/findings.ts'
import type { App } from '../../src/app.ts'
import { IncrementalFindings } from '../../src/evaluation/incremental-findings.ts'
import { parseLifecycle } from '../../src/registry/lifecycle-input.ts'
import { AnalyticsStore } from '../../src/store/clickhouse/analytics-store.ts'
import { TOUCH_VERSIONS_MAX } from '../../src/store/clickhouse/migrations.ts'
import { openEmbeddedApp } from '../support/embedded-app.ts'

const MIN = 60_000
const HOUR = 3_600_000
const KEYS = 300
const NOW = Math.floor(Date.now() / MIN) * MIN
const key = (i: number) => `key-${String(i).padStart(3, '0')}`

let dir: string
let app: App

async function open(): Promise<App> {
  return openEmbeddedApp('incremental-findings-test', dir)
}

function incremental(a: App, options: { sweepAhead?: boolean } = {}): IncrementalFindings {
  const touches = new AnalyticsStore(a.store.client, a.store.database)
  return new IncrementalFindings(
    {
      keys: (now) => a.rotation.findingKeys(now),
      keyFindings: (keyIds, now) => a.rotation.keyFindings(keyIds, now),
      otherFindings: (now) => a.rotation.unknownKeyFindings(now),
      touchesSince: (from, limit) => touches.touchesSince(from, limit),
      latestTouch: () => touches.latestTouch(),
      versions: () => a.keys.versions(),
    },
    { settings: a.config.analysis.findings, touchVersionsMax: TOUCH_VERSIONS_MAX, ...options },
  )
}

/** Inserts `count` events: row `number` of key `keyOf`, version, outcome… as SQL expressions. */
async function insert(
  a: App,
  count: number,
  e: { key: string; version: string; failed: string; client: string; time: string },
): Promise<void> {
  // Over embedded chDB a setting sticks to the session: without this, the dedup
  // token of the last registry write would drop these rows as a duplicate.
  await a.store.client.command({ query: 'SELECT 1', clickhouse_settings: { insert_deduplication_token: '' } })
  await a.store.client.command({
    query: `INSERT INTO ${a.store.database}.auth_events (time, event_id, key_id, key_version, outcome, reason,
        status, client_id, source_address, user_agent, method, route, gateway, latency_ms, src, src_partition, src_offset)
      SELECT toDateTime64((${e.time}) / 1000, 3, 'UTC'), generateUUIDv4(), ${e.key}, ${e.version},
        if(${e.failed}, 'failure', 'success'), if(${e.failed}, 'revoked', ''), if(${e.failed}, 401, 200),
        ${e.client}, '10.0.0.1', 'sdk/1', 'GET', '/v1/orders', 'gw-1', 5, 'test', 0, number
      FROM numbers(${count})`,
  })
}

const ids = (fs: readonly Finding[]) => fs.map((f) => f.id).sort()
const byId = (fs: readonly Finding[]) => [...fs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ks-incremental-'))
  app = await open()
  // Every key has v2 active; key-007 rotated: v1 deactivated two hours ago.
  const lifecycle = [
    ...Array.from({ length: KEYS }, (_, i) => [
      { key_id: key(i), version: 'v2', action: 'create', time: NOW - 30 * 24 * HOUR },
      { key_id: key(i), version: 'v2', action: 'activate', time: NOW - 30 * 24 * HOUR + MIN },
    ]).flat(),
    { key_id: 'key-007', version: 'v1', action: 'create', time: NOW - 60 * 24 * HOUR },
    { key_id: 'key-007', version: 'v1', action: 'activate', time: NOW - 60 * 24 * HOUR + MIN },
    { key_id: 'key-007', version: 'v1', action: 'deactivate', time: NOW - 2 * HOUR },
  ]
  await app.keys.record(
    lifecycle.map((e, i) =>
      parseLifecycle(e, {
        now: NOW,
        fingerprint: app.fingerprint,
        origin: 'test',
        defaultEventId: `inc-${i}`,
      }),
    ),
  )
  // An hour of background: three clients per key, once a minute each, on v2.
  await insert(app, KEYS * 3 * 60, {
    key: `concat('key-', leftPad(toString(number % ${KEYS}), 3, '0'))`,
    version: `'v2'`,
    failed: '0',
    client: `concat('client-', toString(intDiv(number, ${KEYS}) % 3))`,
    time: `${NOW - HOUR} + intDiv(number, ${KEYS * 3}) * 60000`,
  })
  // key-007's three clients used v1 until its deactivation.
  await insert(app, 60, {
    key: `'key-007'`,
    version: `'v1'`,
    failed: '0',
    client: `concat('client-', toString(number % 3))`,
    time: `${NOW - 3 * HOUR} + number * 60000`,
  })
}, 120_000)

afterAll(async () => {
  await app?.stop()
  rmSync(dir, { recursive: true, force: true })
})

describe('incremental findings on the embedded store', () => {
  let before: Finding[]

  it('reads only keys touched in a way that matters, and equals a full recompute at the same now', async () => {
    const inc = incremental(app)
    const first = await inc.findings(NOW)
    expect(byId(first)).toEqual(byId(await app.rotation.findings(NOW)))
    expect(inc.lastRound).toEqual({ keysTouched: KEYS, keysTotal: KEYS, full: true })

    // Background goes on for every key; key-007's old clients are rejected on v1;
    // a late event (3 h old) with an unknown version reaches key-100.
    await insert(app, KEYS * 3, {
      key: `concat('key-', leftPad(toString(number % ${KEYS}), 3, '0'))`,
      version: `'v2'`,
      failed: '0',
      client: `concat('client-', toString(intDiv(number, ${KEYS}) % 3))`,
      time: `${NOW - 30_000}`,
    })
    await insert(app, 6, {
      key: `'key-007'`,
      version: `'v1'`,
      failed: '1',
      client: `concat('client-', toString(number % 3))`,
      time: `${NOW - 20_000}`,
    })
    await insert(app, 1, {
      key: `'key-100'`,
      version: `'v9'`,
      failed: '0',
      client: `'late'`,
      time: `${NOW - 3 * HOUR}`,
    })

    const at = NOW + 1_000
    const got = await inc.findings(at)
    // key-007 and key-100 were touched in a way that matters; the sweep takes
    // ceil(300 × 1 s / 10 min) = 1 key, from the start: key-000. The 300
    // keys' background successes on their newest version are not read.
    expect([...(inc.evaluatedKeys ?? [])]).toEqual(['key-000', 'key-007', 'key-100'])
    expect(inc.lastRound).toEqual({ keysTouched: 3, keysTotal: KEYS, full: false })
    expect(byId(got)).toEqual(byId(await app.rotation.findings(at)))
    expect(ids(got)).toContain('failures_after_deactivation:key-007:v1:*')
    before = got
  }, 120_000)

  it('rebuilds the same findings after a restart, then again reads only what changed', async () => {
    await app.stop()
    app = await open()
    const at = NOW + 1_000
    const inc = incremental(app)
    expect(byId(await inc.findings(at))).toEqual(byId(before))
    expect(inc.lastRound?.full).toBe(true)

    await insert(app, 6, {
      key: `'key-042'`,
      version: `'v2'`,
      failed: '1',
      client: `'client-0'`,
      time: `${NOW}`,
    })
    const next = await inc.findings(at + 1_000)
    const held = new Set(before.map((f) => f.keyId))
    expect([...(inc.evaluatedKeys ?? [])]).toEqual([...new Set(['key-000', 'key-042', ...held])].sort())
    expect(byId(next)).toEqual(byId(await app.rotation.findings(at + 1_000)))
  }, 120_000)

  it('with the sweep read ahead (as the daemon runs), the round reads only what changed and still equals a full recompute', async () => {
    const at = NOW + 3_000
    const inc = incremental(app, { sweepAhead: true })
    const first = await inc.findings(at)
    expect(byId(first)).toEqual(byId(await app.rotation.findings(at)))
    const held = new Set(first.map((f) => f.keyId))

    await insert(app, 6, {
      key: `'key-123'`,
      version: `'v2'`,
      failed: '1',
      client: `'client-1'`,
      time: `${NOW + 2_000}`,
    })
    const next = await inc.findings(at + 1_000)
    // key-123 and the keys holding findings; no sweep key inside the round.
    expect(inc.lastRound).toEqual({
      keysTouched: new Set(['key-123', ...held]).size,
      keysTotal: KEYS,
      full: false,
    })
    expect(byId(next)).toEqual(byId(await app.rotation.findings(at + 1_000)))
    expect(ids(next)).toEqual(['failures_after_deactivation:key-007:v1:*'])
  }, 120_000)
})
