// keyshift installed mid-rotation: acme v1 was deprecated three days ago, and
// keyshift has only stored the last day of acme's traffic. Its stragglers (the
// clients still on v1) were using v1 long before the deprecation — keyshift just
// was not there to see it — so no possible_leak may be raised for them, and the
// key's detail (HTTP API) says why. A key whose history reaches back before its
// deprecation (beta) still gets its finding for an address never seen before.
// Real embedded store and rollups, events through the ingest pipeline.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { LeakHistory } from '../../src/analysis/leak-history.ts'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { parseLifecycle } from '../../src/registry/lifecycle-input.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const NOW = Date.now()
const INSTALLED = NOW - DAY
let app: App

const lifecycle = (key: string, deprecatedAt: number) => [
  { key_id: key, version: 'v1', action: 'create', time: NOW - 90 * DAY },
  { key_id: key, version: 'v1', action: 'activate', time: NOW - 90 * DAY + MIN },
  { key_id: key, version: 'v2', action: 'create', time: NOW - 5 * DAY },
  { key_id: key, version: 'v2', action: 'activate', time: NOW - 5 * DAY + MIN },
  { key_id: key, version: 'v1', action: 'deprecate', time: deprecatedAt },
]
const ACME_DEPRECATED = NOW - 3 * DAY
const BETA_DEPRECATED = NOW - 2 * DAY

let seq = 0
function event(keyId: string, version: string, clientId: string, address: string, time: number) {
  seq++
  return {
    eventId: `leak-history-${seq}`,
    time,
    keyId,
    keyVersion: version,
    status: 200,
    clientId,
    sourceAddress: address,
    userAgent: 'svc/1.0',
    method: 'GET',
    route: '/v1/things',
    gateway: 'gw-1',
  }
}

function events() {
  const out: ReturnType<typeof event>[] = []
  // acme: stored from INSTALLED on. Five stragglers still on v1, each from its own
  // address, and the rest of the key on v2 — all of them long-standing clients.
  for (let h = 0; h < 23; h++) {
    const t = INSTALLED + h * HOUR + 5 * MIN
    for (let c = 1; c <= 5; c++) out.push(event('acme', 'v1', `acme-straggler-${c}`, `10.0.0.${c}`, t))
    out.push(event('acme', 'v2', 'acme-web', '10.0.1.1', t))
  }
  // beta: stored from four days ago, two days before its v1 was deprecated. Its one
  // v1 client keeps using it from its usual address; an address never seen on v1
  // shows up an hour ago.
  for (let h = 0; h < 4 * 24; h += 6) {
    out.push(event('beta', 'v1', 'beta-batch', '10.1.0.1', NOW - 4 * DAY + h * HOUR + 7 * MIN))
  }
  out.push(event('beta', 'v1', 'beta-batch', '198.51.100.77', NOW - HOUR))
  out.push(event('beta', 'v2', 'beta-web', '10.1.1.1', NOW - HOUR))
  return out
}

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-leak-history-'))
  app = await createApp(
    parseConfig({
      instance: 'leak-history-test',
      data_dir: join(dir, 'data'),
      log: { level: 'silent' },
      http: { port: 0 },
      secrets: { pepper: 'leak-history-pepper-0123456789' },
    }),
    { logger: silentLogger() },
  )
  await app.start()
  await app.keys.record(
    [...lifecycle('acme', ACME_DEPRECATED), ...lifecycle('beta', BETA_DEPRECATED)].map((e, i) =>
      parseLifecycle(e, {
        now: NOW,
        fingerprint: app.fingerprint,
        origin: 'test',
        defaultEventId: `leak-history-lifecycle-${i}`,
      }),
    ),
  )
  app.registerDecoder('test:seed', {
    preset: 'canonical',
    secret_fields: [],
    max_record_bytes: 65_536,
    max_future_skew_ms: 300_000,
  })
  const records = events().map((e, i) => ({
    value: Buffer.from(JSON.stringify(e)),
    partition: 0,
    offset: BigInt(i),
    nextOffset: BigInt(i + 1),
  }))
  await app.pipeline.submit('test:seed', 0, records)
  await app.pipeline.drain()
})

afterAll(async () => {
  await app?.stop()
})

const iso = (t: number) => new Date(t).toISOString()

describe('possible_leak judged against the history actually stored for the key', () => {
  it('raises nothing for the stragglers of a rotation keyshift was installed in the middle of', async () => {
    const findings = await app.rotation.findings(NOW)
    expect(findings.filter((f) => f.type === 'possible_leak' && f.keyId === 'acme').map((f) => f.id)).toEqual(
      [],
    )
  })

  it("says why in the key's detail", async () => {
    const res = await fetch(`${app.url()}/api/v1/keys/acme`)
    expect(res.status).toBe(200)
    const detail = (await res.json()) as { history: { keyHistoryFrom: number; possibleLeak: LeakHistory[] } }
    const first = INSTALLED + 5 * MIN
    expect(detail.history).toEqual({
      keyHistoryFrom: first,
      possibleLeak: [
        {
          version: 'v1',
          cutoff: ACME_DEPRECATED,
          cutoffEvent: 'deprecated',
          historyFrom: first,
          judged: false,
          reason:
            `the stored history of acme starts at ${iso(first)}, after v1 was deprecated at ${iso(ACME_DEPRECATED)}: ` +
            'keyshift cannot tell who used v1 before, so possible_leak is not raised',
        },
      ],
    })
  })

  it('still raises it for a key whose stored history reaches back before the deprecation', async () => {
    const findings = await app.rotation.findings(NOW)
    const beta = findings.filter((f) => f.type === 'possible_leak' && f.keyId === 'beta')
    expect(beta.map((f) => f.id)).toEqual(['possible_leak:beta:v1:address=198.51.100.77'])
    expect(beta[0]!.evidence).toMatchObject({
      cutoff: BETA_DEPRECATED,
      historyFrom: NOW - 4 * DAY + 7 * MIN,
      requests: 1,
    })
    const detail = await app.rotation.keyDetail('beta', NOW)
    expect(detail.history.possibleLeak.map((h) => [h.version, h.judged])).toEqual([['v1', true]])
  })
})
