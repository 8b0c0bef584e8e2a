// The store bench:gate and bench:incident-view measure against: 200 keys rotated
// v1 → v2 three days ago (v1 deprecated two days ago), and `total` events over
// the last 48 h generated in-engine with INSERT … SELECT FROM numbers(), so the
// materialized views fill the rollups as in production: 60 clients per key from
// 250 addresses with 8 user agents through 4 gateways; v1's share falls from
// 100% to 0% over the two days; 2% failures.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app.ts'
import { parseConfig } from '../src/config/load.ts'
import type { RecordedLifecycleEvent } from '../src/registry/lifecycle-input.ts'
import { silentLogger } from '../src/telemetry/logger.ts'

export const BENCH_KEYS = 200
const DAY = 86_400_000

/** A lifecycle event of a bench's registry, with an id unique per key, version and action. */
export function benchLifecycleEvent(
  keyId: string,
  version: string,
  action: RecordedLifecycleEvent['action'],
  time: number,
): RecordedLifecycleEvent {
  return { eventId: `bench:${keyId}:${version}:${action}`, origin: 'bench', keyId, version, action, time }
}

/** The p-th percentile of `xs` (nearest rank). */
export function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}

/**
 * Opens an embedded store in a new temp dir with the registry above; `load`
 * inserts events [from, from + count) of the `total`; `heartbeat` marks the
 * data fresh (no source runs).
 */
export async function openRotationStore(o: { name: string; total: number }) {
  const dir = mkdtempSync(join(tmpdir(), `ks-bench-${o.name}-`))
  const app = await createApp(
    parseConfig({
      data_dir: dir,
      http: { enabled: false },
      secrets: { pepper: `bench-${o.name}-pepper-0123456789` },
    }),
    { logger: silentLogger() },
  )
  const now = Date.now()
  const events: RecordedLifecycleEvent[] = []
  for (let k = 0; k < BENCH_KEYS; k++) {
    const keyId = `key-${k}`
    const ev = (version: string, action: RecordedLifecycleEvent['action'], time: number) =>
      benchLifecycleEvent(keyId, version, action, time)
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
      query_params: { now, total: o.total, keys: BENCH_KEYS, from, count },
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
  return { app, dir, now, client: c, load, heartbeat }
}
