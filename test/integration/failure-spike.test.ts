// failure_spike through the real store: events in the raw table, the rollups
// the materialized views build, the all-keys findings read (per client only in
// the failure window, summed over clients before it) and the detector.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Finding } from '../../src/analysis/findings.ts'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'

const MIN = 60_000

describe('failure_spike from stored events', () => {
  let app: App
  const now = Math.floor(Date.now() / MIN) * MIN + 30_000 // half a minute into the current minute
  const minute = (n: number) => Math.floor(now / MIN) * MIN - n * MIN // start of the minute n minutes ago

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-failure-spike-'))
    app = await createApp(
      parseConfig({
        instance: 'failure-spike',
        data_dir: join(dir, 'data'),
        http: { enabled: false },
        secrets: { pepper: 'test-pepper-0123456789abcdef' },
      }),
      { logger: silentLogger() },
    )
    const rows: Record<string, unknown>[] = []
    let id = 0
    const event = (n: number, client: string, failed: boolean) =>
      rows.push({
        time: minute(n) + 1_000,
        event_id: `e${id++}`,
        key_id: 'pay',
        key_version: 'v2',
        outcome: failed ? 'failure' : 'success',
        reason: failed ? 'invalid_signature' : '',
        status: failed ? 401 : 200,
        client_id: client,
        gateway: 'gw-1',
        src: 'test',
        src_offset: id,
      })
    // An hour of quiet traffic: 5 clients × 10 requests a minute, one rejection every 10 minutes.
    for (let n = 70; n >= 4; n--) {
      for (let c = 1; c <= 5; c++) for (let k = 0; k < 10; k++) event(n, `c${c}`, false)
      if (n % 10 === 0) event(n, 'c1', true)
    }
    // Then c7 and c8 are rejected 30 and 10 times a minute for 3 minutes.
    for (let n = 3; n >= 1; n--) {
      for (let c = 1; c <= 5; c++) for (let k = 0; k < 10; k++) event(n, `c${c}`, false)
      for (let k = 0; k < 30; k++) event(n, 'c7', true)
      for (let k = 0; k < 10; k++) event(n, 'c8', true)
    }
    await app.store.client.insert({ table: 'keyshift.auth_events', values: rows, format: 'JSONEachRow' })
  })

  afterAll(async () => {
    await app?.stop()
  })

  it('is found with its numbers, naming the failing clients and only them', async () => {
    const findings: Finding[] = await app.rotation.findings(now)
    expect(findings.map((f) => f.id)).toEqual(['failure_spike:pay:v2:gateway=gw-1'])
    const [f] = findings
    expect([f!.severity, f!.labels, f!.firstSeen, f!.lastSeen]).toEqual([
      'warning',
      { gateway: 'gw-1', client: 'c7,c8' },
      minute(3),
      minute(1),
    ])
    expect(f!.evidence).toMatchObject({
      observed: 120,
      method: 'recent', // the hour before the window is there, summed over clients
      failureRate: 120 / 370, // minutes 5 and 4: 50 requests each; 3 to 1: 90 each
      windowMs: 300_000,
      reasons: [{ reason: 'invalid_signature', observed: 120 }],
      clients: [
        { clientId: 'c7', failures: 90 },
        { clientId: 'c8', failures: 30 },
      ],
    })
    expect(f!.evidence.expected as number).toBeCloseTo(0.5, 1)
    // The one-key read (the key page, `keyshift status`) agrees.
    expect(await app.rotation.findings(now, 'pay')).toEqual(findings)
  })
})
