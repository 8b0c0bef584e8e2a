// bench:status-scale — what the key list and the status page cost as keys are
// added: an API platform issues a key per customer, so 10 000 keys is ordinary.
// For each key count (KEYSHIFT_BENCH_KEYS, default "10,1000,10000") a fresh
// embedded store gets one hour of traffic, 3 clients per key calling once a
// minute; a tenth of the keys are mid-rotation (v1 deprecated, v2 active; the
// clients still split between them) and one in a hundred has v1 deactivated
// while a client still sends it. Then, against the daemon's own HTTP server:
//   - GET /api/v1/keys (first page, default limit) and GET /api/v1/keys?limit=50,
//     ROUNDS times each: p50 / p95, and how often the list of every key was
//     built for them (it is kept while nothing it depends on changes);
//   - the status page in Debian's chromium: navigation until the first page of
//     keys (needs-attention first) is drawn, and until every detail of that page
//     is in (p50 of PAGE_LOADS loads), and how many API requests one load made.
// Both are measured twice: while the takeover round runs (the first round after
// start reads every key: about a minute at 10 000 keys, with the engine's reads
// queued one behind another), and once it is over (rounds read what changed).
// Each figure is printed with its ratio to the smallest key count, measured in
// the same run (the baseline).
//   npm run bench:status-scale
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium } from 'playwright-core'
import { type App, createApp } from '../src/app.ts'
import { parseConfig } from '../src/config/load.ts'
import type { RecordedLifecycleEvent } from '../src/registry/lifecycle-input.ts'
import { silentLogger } from '../src/telemetry/logger.ts'
import { benchLifecycleEvent, pct } from './rotation-store.ts'
import { runBench } from './run.ts'

const KEY_COUNTS = (process.env.KEYSHIFT_BENCH_KEYS ?? '10,1000,10000').split(',').map(Number)
const CLIENTS = Number(process.env.KEYSHIFT_BENCH_CLIENTS ?? 3)
const MINUTES = Number(process.env.KEYSHIFT_BENCH_MINUTES ?? 60)
const ROUNDS = 20
const PAGE_LOADS = 3
/** A page load slower than this is reported as "> PAGE_TIMEOUT_MS", not waited for. */
const PAGE_TIMEOUT_MS = 60_000
/** How long to wait for the takeover round to end before the steady-state pass. */
const SETTLE_TIMEOUT_MS = 900_000
const DAY = 86_400_000
const CHROMIUM = '/usr/bin/chromium'

interface Pass {
  listAll: number[]
  list50: number[]
  page: number[]
  full: number[]
  requests: number
  /** How often the list of every key was built for the 2 × ROUNDS + 1 API calls (the rest reused it). */
  builds: number
}

interface Figures {
  keys: number
  events: number
  /** While the takeover round (the first after start, reading every key) runs. */
  during: Pass
  /** After it (null when it did not end within SETTLE_TIMEOUT_MS). */
  after: Pass | null
}

function lifecycle(keys: number, now: number): RecordedLifecycleEvent[] {
  const out: RecordedLifecycleEvent[] = []
  const ev = (keyId: string, version: string, action: RecordedLifecycleEvent['action'], time: number) =>
    out.push(benchLifecycleEvent(keyId, version, action, time))
  for (let k = 0; k < keys; k++) {
    const keyId = `key-${k}`
    ev(keyId, 'v1', 'create', now - 30 * DAY)
    ev(keyId, 'v1', 'activate', now - 30 * DAY + 1)
    if (k % 10 !== 0) continue
    ev(keyId, 'v2', 'create', now - 3 * DAY)
    ev(keyId, 'v2', 'activate', now - 3 * DAY + 1)
    ev(keyId, 'v1', 'deprecate', now - 2 * DAY)
    if (k % 100 === 0) ev(keyId, 'v1', 'deactivate', now - DAY)
  }
  return out
}

async function get(url: string): Promise<number> {
  const t = performance.now()
  const res = await fetch(url)
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`)
  await res.arrayBuffer()
  return performance.now() - t
}

async function measure(app: App, url: string, browser: Browser): Promise<Pass> {
  const before = app.rotation.keyListBuilds
  const listAll: number[] = []
  const list50: number[] = []
  await get(`${url}/api/v1/keys`) // warm-up
  for (let i = 0; i < ROUNDS; i++) listAll.push(await get(`${url}/api/v1/keys`))
  for (let i = 0; i < ROUNDS; i++) list50.push(await get(`${url}/api/v1/keys?limit=50`))
  const builds = app.rotation.keyListBuilds - before

  const page: number[] = []
  const full: number[] = []
  let requests = 0
  for (let i = 0; i < PAGE_LOADS; i++) {
    const p = await browser.newPage()
    let made = 0
    p.on('request', (r) => {
      if (r.url().includes('/api/v1/')) made++
    })
    const t = performance.now()
    try {
      await p.goto(`${url}/?refresh=0`)
      await p.waitForSelector('article.key[data-key="key-0"]', { timeout: PAGE_TIMEOUT_MS })
      page.push(performance.now() - t)
      await p.waitForSelector('#update-status[data-state="ok"]', { timeout: PAGE_TIMEOUT_MS })
      full.push(performance.now() - t)
    } catch {
      if (page.length === full.length) page.push(Number.POSITIVE_INFINITY)
      full.push(Number.POSITIVE_INFINITY)
    }
    requests = made
    await p.close()
    if (full.at(-1) === Number.POSITIVE_INFINITY) break
  }
  return { listAll, list50, page, full, requests, builds }
}

async function run(keys: number, browser: Browser): Promise<Figures> {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-status-'))
  const app = await createApp(
    parseConfig({
      instance: 'bench-status',
      data_dir: join(dir, 'data'),
      log: { level: 'silent' },
      http: { port: 0 },
      secrets: { pepper: 'bench-status-pepper-0123456789ab' },
      analysis: { freshness: { silent_after_ms: 2 * 3_600_000 } },
    }),
    { logger: silentLogger() },
  )
  try {
    await app.start()
    const now = Date.now()
    await app.keys.record(lifecycle(keys, now))
    // Every client of every key calls once a minute; on rotating keys client 0
    // stays on v1 and the others moved to v2; 1 in 97 requests is rejected.
    const events = keys * CLIENTS * MINUTES
    await app.store.client.command({
      query: `INSERT INTO keyshift.auth_events (time, event_id, key_id, key_version, outcome, reason, status,
          client_id, source_address, user_agent, method, route, gateway, latency_ms, src, src_partition, src_offset)
        SELECT toDateTime64({start:UInt32} + intDiv(number, {perMinute:UInt32}) * 60, 3, 'UTC'), toString(number),
          concat('key-', toString(k)), if(k % 10 = 0 AND c > 0, 'v2', 'v1'),
          if(number % 97 = 0, 'failure', 'success'), if(number % 97 = 0, 'invalid_signature', ''),
          if(number % 97 = 0, 401, 200), concat('client-', toString(c)),
          concat('10.', toString(intDiv(k, 250) % 250), '.', toString(k % 250), '.', toString(c)),
          'sdk/1', 'GET', '/v1/orders', 'gw-1', 5, 'bench', 0, number
        FROM (SELECT number, number % {keys:UInt32} AS k, intDiv(number, {keys:UInt32}) % {clients:UInt32} AS c
              FROM numbers({events:UInt64}))`,
      query_params: {
        start: Math.floor(now / 1000) - MINUTES * 60,
        perMinute: keys * CLIENTS,
        keys,
        clients: CLIENTS,
        events,
      },
    })
    await app.status.heartbeat({
      time: Date.now(),
      instance: 'bench-status',
      newestEventTime: now,
      consumerLagMessages: 0,
      bufferedEvents: 0,
      sourcesReady: true,
    })
    const url = app.url()
    if (!url) throw new Error('the daemon serves no HTTP')
    const during = await measure(app, url, browser)
    // Then in the steady state: once a round that started after those calls is
    // done, the takeover round (every key read) is over and rounds read what changed.
    const t = Date.now()
    const bound = t + SETTLE_TIMEOUT_MS
    while ((app.alerting.evaluator.lastRound?.at ?? 0) < t && Date.now() < bound)
      await new Promise((r) => setTimeout(r, 500))
    const after = (app.alerting.evaluator.lastRound?.at ?? 0) >= t ? await measure(app, url, browser) : null
    return { keys, events, during, after }
  } finally {
    await app.stop()
    rmSync(dir, { recursive: true, force: true })
  }
}

const ratio = (a: number, b: number) => (Number.isFinite(a) ? `${(a / b).toFixed(2)}×` : '—')

function line(f: Pass, base: Pass): string {
  return (
    `/api/v1/keys p50 ${ms(pct(f.listAll, 50))} p95 ${ms(pct(f.listAll, 95))} (${ratio(pct(f.listAll, 95), pct(base.listAll, 95))}); ` +
    `?limit=50 p50 ${ms(pct(f.list50, 50))} p95 ${ms(pct(f.list50, 95))} (${ratio(pct(f.list50, 95), pct(base.list50, 95))}); ` +
    `status page: keys drawn ${ms(pct(f.page, 50))} (${ratio(pct(f.page, 50), pct(base.page, 50))}), ` +
    `fully loaded ${ms(pct(f.full, 50))} (${ratio(pct(f.full, 50), pct(base.full, 50))}), ${f.requests} API requests per load; ` +
    `every key's list built ${f.builds}× for ${2 * ROUNDS + 1} list calls`
  )
}

const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} ms` : `> ${PAGE_TIMEOUT_MS / 1000} s`)

async function main() {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  })
  try {
    const all: Figures[] = []
    for (const keys of KEY_COUNTS) {
      const f = await run(keys, browser)
      all.push(f)
      const base = all[0]!
      console.log(`${keys} keys (${f.events.toLocaleString('en')} events):`)
      console.log(`  during the takeover round: ${line(f.during, base.during)}`)
      console.log(
        `  after it:                  ${f.after && base.after ? line(f.after, base.after) : 'not reached'}`,
      )
    }
  } finally {
    await browser.close()
  }
}

runBench(main)
