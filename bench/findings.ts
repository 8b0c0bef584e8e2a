// bench:findings — what one evaluation round's findings read costs as keys are
// added. The evaluation loop asks for every key's findings every couple of
// seconds, so this bounds how fast alerts can follow the data. Baseline in the
// same run, on the same store: the findings read one key at a time (four reads
// per key), which is what a loop over keys costs.
//   npm run bench:findings        (KEYSHIFT_BENCH_KEYS, default "50,200"; 20 clients per key, 2 h of traffic)
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app.ts'
import { parseConfig } from '../src/config/load.ts'
import { silentLogger } from '../src/telemetry/logger.ts'
import { runBench } from './run.ts'

const KEY_COUNTS = (process.env.KEYSHIFT_BENCH_KEYS ?? '50,200').split(',').map(Number)
const CLIENTS = 20
const MINUTES = 120
const ROUNDS = 5

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

async function timed(fn: () => Promise<unknown>): Promise<number[]> {
  await fn() // warm-up
  const out: number[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const t = performance.now()
    await fn()
    out.push(performance.now() - t)
  }
  return out
}

async function run(keys: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-findings-'))
  const config = parseConfig({
    instance: 'bench-findings',
    data_dir: join(dir, 'data'),
    http: { enabled: false },
    secrets: { pepper: 'bench-pepper-0123456789abcdef' },
  })
  const app = await createApp(config, { logger: silentLogger() })
  try {
    const now = Date.now()
    const events = keys * CLIENTS * 2 * MINUTES
    // Every client of every key calls once a minute on each of two versions; 1 in 97 is rejected.
    await app.store.client.command({
      query: `INSERT INTO keyshift.auth_events (time, event_id, key_id, key_version, outcome, reason, status,
          client_id, source_address, user_agent, method, route, gateway, latency_ms, src, src_partition, src_offset)
        SELECT toDateTime64({start:UInt32} + intDiv(number, {perMinute:UInt32}) * 60, 3, 'UTC'), toString(number),
          concat('key-', toString(number % {keys:UInt32})), if(number % 2 = 0, 'v1', 'v2'),
          if(number % 97 = 0, 'failure', 'success'), if(number % 97 = 0, 'invalid_signature', ''),
          if(number % 97 = 0, 401, 200), concat('client-', toString(intDiv(number, {keys:UInt32}) % {clients:UInt32})),
          '10.0.0.1', 'sdk/1', 'GET', '/v1/orders', 'gw-1', 5, 'bench', 0, number
        FROM numbers({events:UInt64})`,
      query_params: {
        start: Math.floor(now / 1000) - MINUTES * 60,
        perMinute: keys * CLIENTS * 2,
        keys,
        clients: CLIENTS,
        events,
      },
    })
    const ids = Array.from({ length: keys }, (_, i) => `key-${i}`)
    const all = await timed(() => app.rotation.findings(now))
    const perKey = await timed(() => Promise.all(ids.map((k) => app.rotation.findings(now, k))))
    console.log(
      `${keys} keys (${events.toLocaleString('en')} events): all keys at once ${mean(all).toFixed(0)} ms, ` +
        `one key at a time ${mean(perKey).toFixed(0)} ms (baseline), ${(mean(perKey) / mean(all)).toFixed(1)}× faster`,
    )
  } finally {
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

async function main() {
  for (const keys of KEY_COUNTS) await run(keys)
}

runBench(main)
