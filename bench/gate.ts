// bench:gate — how the readiness verdict and the key-detail query scale with
// stored events. Loads events into the embedded store (generated in-engine with
// INSERT … SELECT FROM numbers(), so the materialized views fill the rollups as
// in production), then times verdicts and key details over many calls at 1M and
// at 10M events and prints p50/p95. Target: gate p95 under 100 ms at 10M.
//   npm run bench:gate        (KEYSHIFT_BENCH_EVENTS=10000000, KEYSHIFT_BENCH_CALLS=200)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app.ts'
import { parseConfig } from '../src/config/load.ts'
import type { RecordedLifecycleEvent } from '../src/registry/lifecycle-input.ts'
import { silentLogger } from '../src/telemetry/logger.ts'

const TOTAL = Number(process.env.KEYSHIFT_BENCH_EVENTS ?? 10_000_000)
const CALLS = Number(process.env.KEYSHIFT_BENCH_CALLS ?? 200)
const KEYS = 200
const DAY = 86_400_000

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-gate-'))
  const app = await createApp(
    parseConfig({
      data_dir: dir,
      http: { enabled: false },
      secrets: { pepper: 'bench-gate-pepper-0123456789' },
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

  // Events over the last 48 h: 200 keys, 60 clients per key, 4 gateways; v1's share
  // falls from 100% to 0% over the two days (a rotation in progress); 2% failures.
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

  const measure = async (label: string) => {
    await heartbeat()
    const gate: number[] = []
    const detail: number[] = []
    const verdicts = new Map<string, number>()
    for (let i = 0; i < CALLS; i++) {
      const keyId = `key-${(i * 37) % KEYS}`
      let t = performance.now()
      const v = await app.rotation.readiness(
        { keyId, version: 'v1', askedBy: 'bench', via: 'cli' },
        Date.now(),
      )
      gate.push(performance.now() - t)
      verdicts.set(v.verdict, (verdicts.get(v.verdict) ?? 0) + 1)
      t = performance.now()
      await app.rotation.keyDetail(keyId, Date.now())
      detail.push(performance.now() - t)
    }
    const f = (x: number) => `${x.toFixed(1)} ms`
    console.log(
      `${label.padEnd(12)} gate p50 ${f(pct(gate, 50))}  p95 ${f(pct(gate, 95))}   key detail p50 ${f(pct(detail, 50))}  p95 ${f(pct(detail, 95))}   (${CALLS} calls each; verdicts ${JSON.stringify(Object.fromEntries(verdicts))})`,
    )
    return { gateP95: pct(gate, 95) }
  }

  const first = Math.min(1_000_000, TOTAL)
  let t = performance.now()
  // Load in time order so the first million are the oldest (a store that grew).
  await load(TOTAL - first, first)
  console.log(`loaded ${first} events in ${((performance.now() - t) / 1000).toFixed(1)} s`)
  const small = await measure(`${first / 1e6}M events`)
  if (TOTAL > first) {
    t = performance.now()
    for (let from = 0; from < TOTAL - first; from += 1_000_000)
      await load(from, Math.min(1_000_000, TOTAL - first - from))
    console.log(`loaded ${TOTAL - first} more events in ${((performance.now() - t) / 1000).toFixed(1)} s`)
    const [rows] = await (
      await c.query({
        query:
          'SELECT (SELECT count() FROM keyshift.auth_events) AS raw, (SELECT count() FROM keyshift.auth_minute) AS minute_rows, (SELECT count() FROM keyshift.auth_minute_clients) AS client_rows',
        format: 'JSONEachRow',
      })
    ).json<{ raw: number; minute_rows: number; client_rows: number }>()
    console.log(
      `store: ${rows!.raw} raw events, ${rows!.minute_rows} auth_minute rows, ${rows!.client_rows} auth_minute_clients rows`,
    )
    const big = await measure(`${TOTAL / 1e6}M events`)
    console.log(
      `gate p95 ratio 10M/1M: ${(big.gateP95 / small.gateP95).toFixed(2)}  (target p95 < 100 ms at 10M: ${big.gateP95 < 100 ? 'met' : 'NOT met'})`,
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
