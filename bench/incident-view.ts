// bench:incident-view — how the incident view (GET /api/v1/incidents/:id) and
// the gate under incident rules scale with stored events. Loads events into
// the embedded store the way bench:gate does (INSERT … SELECT FROM numbers(),
// so the materialized views fill the rollups), opens incidents on a few keys an
// hour before the end of the data, then times views and verdicts at 1M and at
// the full volume and prints p50/p95, the planned-rotation gate measured in the
// same run as the baseline, and the ratios.
//   npm run bench:incident-view   (KEYSHIFT_BENCH_EVENTS=10000000, KEYSHIFT_BENCH_CALLS=50)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app.ts'
import { parseConfig } from '../src/config/load.ts'
import type { RecordedLifecycleEvent } from '../src/registry/lifecycle-input.ts'
import { silentLogger } from '../src/telemetry/logger.ts'

const TOTAL = Number(process.env.KEYSHIFT_BENCH_EVENTS ?? 10_000_000)
const CALLS = Number(process.env.KEYSHIFT_BENCH_CALLS ?? 50)
const KEYS = 200
/** Keys with an open incident on v1. */
const INCIDENT_KEYS = 5
const DAY = 86_400_000
const HOUR = 3_600_000

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-incident-'))
  const app = await createApp(
    parseConfig({
      data_dir: dir,
      http: { enabled: false },
      secrets: { pepper: 'bench-incident-pepper-012345' },
    }),
    { logger: silentLogger() },
  )
  const now = Date.now()
  const events: RecordedLifecycleEvent[] = []
  for (let k = 0; k < KEYS; k++) {
    const keyId = `key-${k}`
    const ev = (
      version: string,
      action: RecordedLifecycleEvent['action'],
      time: number,
    ): RecordedLifecycleEvent => ({
      eventId: `bench:${keyId}:${version}:${action}`,
      origin: 'bench',
      keyId,
      version,
      action,
      time,
    })
    events.push(ev('v1', 'create', now - 30 * DAY), ev('v1', 'activate', now - 30 * DAY + 1))
    events.push(ev('v2', 'create', now - 3 * DAY), ev('v2', 'activate', now - 3 * DAY + 1))
    events.push(ev('v1', 'deprecate', now - 2 * DAY))
  }
  await app.keys.record(events)
  const c = app.store.client

  // bench:gate's data: 48 h, 200 keys, 60 clients per key from 250 addresses with
  // 8 user agents through 4 gateways; v1's share falls from 100% to 0%; 2% failures.
  const load = async (from: number, count: number) => {
    await c.command({
      query: `INSERT INTO keyshift.auth_events
        (time, event_id, key_id, key_version, key_fingerprint, outcome, reason, status, client_id,
         source_address, user_agent, method, route, gateway, latency_ms, src, src_partition, src_offset)
        SELECT
          fromUnixTimestamp64Milli(toInt64({now:Int64} - intDiv(n * 172800000, {total:UInt64}) - (cityHash64(n) % 60000)), 'UTC') AS time,
          concat('e', toString(n)),
          concat('key-', toString(cityHash64(n, 1) % {keys:UInt32})),
          if((cityHash64(n, 2) % 1000) < 1000 * n / {total:UInt64}, 'v1', 'v2'),
          '',
          if(cityHash64(n, 3) % 50 = 0, 'failure', 'success'),
          if(cityHash64(n, 3) % 50 = 0, 'unknown_key', 'none'),
          if(cityHash64(n, 3) % 50 = 0, 401, 200),
          concat('client-', toString(cityHash64(n, 4) % 60)),
          concat('198.51.100.', toString(cityHash64(n, 5) % 250)),
          concat('sdk/', toString(cityHash64(n, 6) % 8)),
          'GET',
          concat('/v1/orders/', toString(cityHash64(n, 7) % 40)),
          concat('gw-', toString(cityHash64(n, 8) % 4)),
          toFloat32(cityHash64(n, 9) % 200),
          'bench', 0, n
        FROM (SELECT number + {from:UInt64} AS n FROM numbers({count:UInt64}))`,
      query_params: { now, total: TOTAL, keys: KEYS, from, count },
      clickhouse_settings: { max_insert_threads: '2' },
    })
  }
  const heartbeat = () =>
    app.status.heartbeat({
      time: Date.now(),
      instance: 'bench',
      newestEventTime: now,
      consumerLagMessages: 0,
      bufferedEvents: 0,
      sourcesReady: true,
    })

  const ids: string[] = []
  const measure = async (label: string) => {
    await heartbeat()
    const view: number[] = []
    const gate: number[] = []
    const base: number[] = []
    let knownUsers = 0
    let rows = 0
    for (let i = 0; i < CALLS; i++) {
      const k = i % INCIDENT_KEYS
      let t = performance.now()
      const v = await app.incidents.view(ids[k]!, Date.now())
      view.push(performance.now() - t)
      knownUsers = Math.max(knownUsers, v.knownUsers.length)
      rows = Math.max(rows, v.unknownSources.length)
      t = performance.now()
      await app.incidents.verdict(
        { keyId: `key-${k}`, version: 'v1', askedBy: 'bench', via: 'cli', audit: false },
        Date.now(),
      )
      gate.push(performance.now() - t)
      t = performance.now()
      await app.rotation.readiness(
        {
          keyId: `key-${INCIDENT_KEYS + (i % (KEYS - INCIDENT_KEYS))}`,
          version: 'v1',
          askedBy: 'bench',
          via: 'cli',
          audit: false,
        },
        Date.now(),
      )
      base.push(performance.now() - t)
    }
    const f = (x: number) => `${x.toFixed(1)} ms`
    console.log(
      `${label.padEnd(12)} view p50 ${f(pct(view, 50))} p95 ${f(pct(view, 95))}   incident gate p50 ${f(pct(gate, 50))} p95 ${f(pct(gate, 95))}   ` +
        `planned gate p50 ${f(pct(base, 50))} p95 ${f(pct(base, 95))}   (${CALLS} calls each; up to ${knownUsers} known users, ${rows} unknown sources per incident)`,
    )
    return { viewP95: pct(view, 95), gateP95: pct(gate, 95), baseP95: pct(base, 95) }
  }

  const first = Math.min(1_000_000, TOTAL)
  let t = performance.now()
  await load(TOTAL - first, first)
  console.log(`loaded ${first} events in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  for (let k = 0; k < INCIDENT_KEYS; k++) {
    const r = await app.incidents.open(
      { keyId: `key-${k}`, version: 'v1', reason: 'leaked', note: '', actor: 'bench', time: now - HOUR },
      'bench',
      Date.now(),
    )
    ids.push(r.incident.id)
  }
  const small = await measure(`${first / 1e6}M events`)
  if (TOTAL > first) {
    // The incidents keep their snapshot; the history before them grows underneath.
    t = performance.now()
    for (let from = 0; from < TOTAL - first; from += 1_000_000)
      await load(from, Math.min(1_000_000, TOTAL - first - from))
    console.log(`loaded ${TOTAL - first} more events in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    const big = await measure(`${TOTAL / 1e6}M events`)
    console.log(
      `p95 ratio ${TOTAL / 1e6}M/1M: view ${(big.viewP95 / small.viewP95).toFixed(2)}, incident gate ${(big.gateP95 / small.gateP95).toFixed(2)}; ` +
        `incident gate / planned gate at ${TOTAL / 1e6}M: ${(big.gateP95 / big.baseP95).toFixed(2)}`,
    )
  }
  await app.stop()
  rmSync(dir, { recursive: true, force: true })
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err)
    process.exit(1)
  },
)
