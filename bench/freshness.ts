// bench:freshness — how long after a source goes silent the gate answers
// `unknown`, and how long after it resumes it answers `ready` again. One daemon
// (createApp, embedded store) tails a log file that a writer appends an event to
// every 50 ms; each round stops the writer, polls the HTTP readiness API (the
// path of `keyshift gate --url`) every 25 ms until `unknown`, then resumes and
// polls until `ready`. Prints per round and the median; the baseline measured
// in the same run is the configured bound itself (silent → unknown can never
// be shorter), so the ratio shows the overhead on top of it.
//   npm run bench:freshness   (KEYSHIFT_BENCH_SILENT_AFTER_MS=2000, KEYSHIFT_BENCH_ROUNDS=5)
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createApp } from '../src/app.ts'
import { parseConfig } from '../src/config/load.ts'
import { silentLogger } from '../src/telemetry/logger.ts'
import { runBench } from './run.ts'

const BOUND_MS = Number(process.env.KEYSHIFT_BENCH_SILENT_AFTER_MS ?? 2_000)
const ROUNDS = Number(process.env.KEYSHIFT_BENCH_ROUNDS ?? 5)
const DAY = 86_400_000

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-freshness-'))
  const log = join(dir, 'gateway.log')
  writeFileSync(log, '')
  const now = Date.now()
  const iso = (t: number) => new Date(t).toISOString()
  writeFileSync(
    join(dir, 'keys.json'),
    JSON.stringify([
      { key_id: 'acme', version: 'v1', action: 'create', time: iso(now - 10 * DAY) },
      { key_id: 'acme', version: 'v1', action: 'activate', time: iso(now - 10 * DAY + 1) },
      { key_id: 'acme', version: 'v2', action: 'create', time: iso(now - 3 * DAY) },
      { key_id: 'acme', version: 'v2', action: 'activate', time: iso(now - 3 * DAY + 1) },
      { key_id: 'acme', version: 'v1', action: 'deprecate', time: iso(now - 2 * DAY) },
    ]),
  )
  const app = await createApp(
    parseConfig({
      data_dir: join(dir, 'data'),
      http: { port: 0 },
      registry: { files: [join(dir, 'keys.json')] },
      sources: [{ type: 'file', path: log, decoder: { preset: 'canonical' }, poll_interval_ms: 50 }],
      ingest: { batch_max_wait_ms: 100, heartbeat_interval_ms: 500 },
      analysis: { freshness: { silent_after_ms: BOUND_MS } },
      secrets: { pepper: 'bench-freshness-pepper-0123456789' },
    }),
    { logger: silentLogger() },
  )
  await app.start()
  const url = `${app.url()}/api/v1/keys/acme/versions/v1/readiness?audit=false`

  let seq = 0
  let last = 0
  let flowing = true
  const writer = setInterval(() => {
    if (!flowing) return
    last = Date.now()
    appendFileSync(
      log,
      `${JSON.stringify({ eventId: `b-${seq++}`, time: last, keyId: 'acme', keyVersion: 'v2', status: 200, clientId: 'c', sourceAddress: '192.0.2.1', gateway: 'gw-1' })}\n`,
    )
  }, 50)

  const askMs: number[] = []
  const verdictAt = async (): Promise<{ verdict: string; at: number }> => {
    const t = performance.now()
    const v = (await (await fetch(url)).json()) as { verdict: string }
    askMs.push(performance.now() - t)
    return { verdict: v.verdict, at: Date.now() }
  }
  const until = async (want: string, timeoutMs = 120_000): Promise<number> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const v = await verdictAt()
      if (v.verdict === want) return v.at
      if (Date.now() > deadline) throw new Error(`no ${want} verdict within ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 25))
    }
  }

  await until('ready')
  const silentToUnknown: number[] = []
  const resumeToReady: number[] = []
  for (let round = 1; round <= ROUNDS; round++) {
    flowing = false
    const silentSince = last
    const unknownAt = await until('unknown')
    flowing = true
    const resumedAt = Date.now()
    const readyAt = await until('ready')
    silentToUnknown.push(unknownAt - silentSince)
    resumeToReady.push(readyAt - resumedAt)
    console.log(
      `round ${round}: last event → unknown ${unknownAt - silentSince} ms, traffic resumes → ready ${readyAt - resumedAt} ms`,
    )
  }
  clearInterval(writer)
  const m = median(silentToUnknown)
  console.log(
    `silent_after_ms ${BOUND_MS}: last event → unknown median ${m} ms (ratio to the bound ${(m / BOUND_MS).toFixed(2)}, ` +
      `overhead ${m - BOUND_MS} ms); resume → ready median ${median(resumeToReady)} ms; ` +
      `readiness API call median ${median(askMs).toFixed(1)} ms over ${askMs.length} calls`,
  )
  await app.stop()
  rmSync(dir, { recursive: true, force: true })
}

runBench(main)
