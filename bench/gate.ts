// bench:gate — how the readiness verdict and the key-detail query scale with
// stored events. Loads events into the embedded store (generated in-engine with
// INSERT … SELECT FROM numbers(), so the materialized views fill the rollups as
// in production), then times verdicts and key details over many calls at 1M and
// at 10M events and prints p50/p95. Target: gate p95 under 100 ms at 10M.
//   npm run bench:gate        (KEYSHIFT_BENCH_EVENTS=10000000, KEYSHIFT_BENCH_CALLS=200)
import { rmSync } from 'node:fs'
import { BENCH_KEYS as KEYS, openRotationStore, pct } from './rotation-store.ts'
import { runBench } from './run.ts'

const TOTAL = Number(process.env.KEYSHIFT_BENCH_EVENTS ?? 10_000_000)
const CALLS = Number(process.env.KEYSHIFT_BENCH_CALLS ?? 200)
const NAME = 'gate'

async function main() {
  const { app, dir, client: c, load, heartbeat } = await openRotationStore({ name: NAME, total: TOTAL })

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

runBench(main)
