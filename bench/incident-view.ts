// bench:incident-view — how the incident view (GET /api/v1/incidents/:id) and
// the gate under incident rules scale with stored events. Loads events into
// the embedded store the way bench:gate does (INSERT … SELECT FROM numbers(),
// so the materialized views fill the rollups), opens incidents on a few keys an
// hour before the end of the data, then times views and verdicts at 1M and at
// the full volume and prints p50/p95, the planned-rotation gate measured in the
// same run as the baseline, and the ratios.
//   npm run bench:incident-view   (KEYSHIFT_BENCH_EVENTS=10000000, KEYSHIFT_BENCH_CALLS=50)
import { rmSync } from 'node:fs'
import { BENCH_KEYS as KEYS, openRotationStore, pct } from './rotation-store.ts'
import { runBench } from './run.ts'

const TOTAL = Number(process.env.KEYSHIFT_BENCH_EVENTS ?? 10_000_000)
const CALLS = Number(process.env.KEYSHIFT_BENCH_CALLS ?? 50)
/** Keys with an open incident on v1. */
const INCIDENT_KEYS = 5
const NAME = 'incident'
const HOUR = 3_600_000

async function main() {
  const { app, dir, now, load, heartbeat } = await openRotationStore({ name: NAME, total: TOTAL })

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

runBench(main)
