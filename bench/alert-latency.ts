// bench:alert-latency — how long from failing auth events being produced to
// Kafka until the alert is at the receiver, at default settings, as the number
// of keys grows. keyshift runs in-process (Kafka source → embedded store →
// evaluation → alert pipeline → outbox → signed webhook) with a Standard
// Webhooks receiver on loopback. For each key count, background keys (each
// registered, with a few clients calling once a minute, one call in 500
// rate-limited) get an hour of history inserted straight into the store and
// live traffic inserted every second while the rounds run. Each round rotates a
// fresh key too early (v1 deactivated while a client still uses it) and
// produces a burst of rejections through Kafka; the clock runs from the
// produce call to the first verified webhook about that key. Prints p50/p95/
// max per key count, the ratio to the smallest count's p95, and compares them
// with a Grafana-managed alert rule evaluated every 10 s.
// Each key count runs on a fresh store, its background stored before keyshift
// starts (so the leader's first round reads every key, as after a restart).
//   npm run bench:alert-latency      (KEYSHIFT_BENCH_KEYS, default "10,1000,10000";
//                                     KEYSHIFT_BENCH_ROUNDS per key count, default 10;
//                                     KEYSHIFT_BENCH_CLIENTS per key, default 3; KEYSHIFT_BENCH_BROKERS)
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { rmSync } from 'node:fs'
import { type App, createApp } from '../src/app.ts'
import { parseConfig } from '../src/config/load.ts'
import { parseLifecycle } from '../src/registry/lifecycle-input.ts'
import { silentLogger } from '../src/telemetry/logger.ts'
import {
  deactivateTooEarly,
  type Keyshift,
  kafkaSection,
  startKeyshift,
  tempDataDir,
  webhookDaemonInput,
} from '../test/integration/alerting-harness.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../test/kit/webhook-receiver.ts'
import { REPO_ROOT } from '../test/support/daemon.ts'
import { fmt, quantile, serving } from './latency.ts'

const KEY_COUNTS = (process.env.KEYSHIFT_BENCH_KEYS ?? '10,1000,10000').split(',').map(Number)
const ROUNDS = Number(process.env.KEYSHIFT_BENCH_ROUNDS ?? 10)
const CLIENTS = Number(process.env.KEYSHIFT_BENCH_CLIENTS ?? 3)
const BROKERS = process.env.KEYSHIFT_BENCH_BROKERS ?? `127.0.0.1:${process.env.KEYSHIFT_KAFKA_PORT ?? 29092}`
const GRAFANA_EVAL_INTERVAL_MS = 10_000
const TARGET_P95_MS = 2_000
const TARGET_RATIO = 1.2
const HISTORY_MIN = 60
const DAY = 86_400_000
const bgKey = (i: number) => `bg-${String(i).padStart(5, '0')}`

/** Inserts background events straight into the store: `count` rows, SQL expressions of `number`. */
async function insertBackground(app: App, count: number, e: { key: string; time: string }): Promise<void> {
  if (count <= 0) return
  await app.store.client.command({
    query: `INSERT INTO ${app.store.database}.auth_events (time, event_id, key_id, key_version, outcome, reason,
        status, client_id, source_address, user_agent, method, route, gateway, latency_ms, src, src_partition, src_offset)
      SELECT toDateTime64((${e.time}) / 1000, 3, 'UTC'), generateUUIDv4(), ${e.key}, 'v1',
        if(number % 500 = 7, 'failure', 'success'), if(number % 500 = 7, 'rate_limited', ''),
        if(number % 500 = 7, 429, 200), concat('client-', toString(number % ${CLIENTS})),
        '10.0.0.1', 'sdk/1', 'GET', '/v1/orders', 'gw-1', 5, 'bench-background', 0, number
      FROM numbers(${count})`,
    // Embedded chDB keeps settings per session: never inherit the last ingest batch's dedup token.
    clickhouse_settings: { insert_deduplication_token: '' },
  })
}

/** Registers background keys [from, to) with v1 active, and stores an hour of their traffic. */
async function addBackgroundKeys(app: App, from: number, to: number): Promise<void> {
  const now = Date.now()
  for (let i = from; i < to; i += 2_000) {
    const end = Math.min(to, i + 2_000)
    const events = []
    for (let k = i; k < end; k++) {
      for (const action of ['create', 'activate']) {
        events.push(
          parseLifecycle(
            {
              key_id: bgKey(k),
              version: 'v1',
              action,
              time: now - 30 * DAY + (action === 'activate' ? 60_000 : 0),
            },
            { now, fingerprint: app.fingerprint, origin: 'bench', defaultEventId: `bench-${k}-${action}` },
          ),
        )
      }
    }
    await app.store.client.command({
      query: 'SELECT 1',
      clickhouse_settings: { insert_deduplication_token: '' },
    })
    await app.keys.record(events)
  }
  const n = to - from
  const perMinute = n * CLIENTS
  await insertBackground(app, perMinute * HISTORY_MIN, {
    key: `concat('bg-', leftPad(toString(${from} + intDiv(number, ${CLIENTS}) % ${n}), 5, '0'))`,
    time: `${now - HISTORY_MIN * 60_000} + intDiv(number, ${perMinute}) * 60000 + number % 60 * 1000`,
  })
}

/** Live background traffic: every second, a second's worth of calls (each client once a minute). */
function liveBackground(app: App, n: number): { stop(): Promise<void> } {
  let cursor = 0
  let stopped = false
  let running: Promise<void> = Promise.resolve()
  const timer = setInterval(() => {
    const calls = Math.ceil((n * CLIENTS) / 60)
    const at = Date.now()
    const start = cursor
    cursor = (cursor + calls) % Math.max(1, n * CLIENTS)
    running = running
      .then(() =>
        stopped
          ? undefined
          : insertBackground(app, calls, {
              key: `concat('bg-', leftPad(toString(intDiv(${start} + number, ${CLIENTS}) % ${n}), 5, '0'))`,
              time: `${at} - number % 1000`,
            }),
      )
      .catch((err) => {
        process.stderr.write(`background insert failed: ${(err as Error).message}\n`)
      })
  }, 1_000)
  return {
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}

/** Waits until the leader's rounds are short and read only a few keys (every key has had its first read). */
async function settle(ks: Keyshift, keys: number): Promise<number> {
  const started = Date.now()
  const deadline = started + 600_000
  let quiet = 0
  while (quiet < 3) {
    if (Date.now() > deadline) throw new Error(`evaluation did not settle at ${keys} keys within 10 min`)
    const r = ks.alerting.evaluator.lastRound
    const at = r?.at ?? 0
    await new Promise((res) => setTimeout(res, 500))
    const next = ks.alerting.evaluator.lastRound
    // Quiet: few keys read and a short round (the usage watch's first read of every key is done too).
    if (
      next &&
      next.at !== at &&
      next.keysTotal >= keys &&
      next.keysTouched <= Math.max(50, keys / 100) &&
      next.durationMs < 1_000
    )
      quiet++
    else if (next && next.at !== at) quiet = 0
  }
  return Date.now() - started
}

interface Level {
  keys: number
  first: number[]
  both: number[]
  rounds: { at: number; durationMs: number; keysTouched: number }[]
}

async function measure(ks: Keyshift, hooks: WebhookReceiver, topic: string, keys: number): Promise<Level> {
  const level: Level = { keys, first: [], both: [], rounds: [] }
  let lastAt = 0
  const sampler = setInterval(() => {
    const r = ks.alerting.evaluator.lastRound
    if (r && r.at !== lastAt) {
      lastAt = r.at
      level.rounds.push({ at: r.at, durationMs: r.durationMs, keysTouched: r.keysTouched })
    }
  }, 20)
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const key = `bench-${keys}-${round}-${randomBytes(3).toString('hex')}`
      const about = () => hooks.deliveries.filter((x) => (x.payload as { subject?: string }).subject === key)
      const { producedAt } = await deactivateTooEarly(ks, BROKERS, topic, key, { failures: 20 })
      let firstAt = 0
      const limit = Date.now() + 120_000
      while (about().length < 2) {
        if (firstAt === 0 && about().length > 0) firstAt = Date.now()
        if (Date.now() > limit)
          throw new Error(`${keys} keys, round ${round}: no alert for ${key} within 120 s`)
        await new Promise((r) => setTimeout(r, 2))
      }
      const bothAt = Date.now()
      if (firstAt === 0) firstAt = bothAt
      level.first.push(firstAt - producedAt)
      level.both.push(bothAt - producedAt)
      // The evaluations that ran while this round's alert was on its way: what they cost.
      const during = level.rounds.filter((r) => r.at >= producedAt - 5_000 && r.at <= firstAt)
      const longest = Math.max(0, ...during.map((r) => r.durationMs))
      process.stdout.write(
        `  ${keys} keys, round ${String(round).padStart(2)}: first alert ${fmt(firstAt - producedAt)}, both ` +
          `${fmt(bothAt - producedAt)}; ${during.length} evaluations meanwhile, longest ${longest.toFixed(0)} ms, ` +
          `keys read ${during.map((r) => r.keysTouched).join('/')}\n`,
      )
    }
  } finally {
    clearInterval(sampler)
  }
  return level
}

/**
 * One key count on a fresh store: the background is stored before keyshift
 * starts, so its first round as leader reads every key (as after any restart)
 * before the rounds are measured.
 */
async function level(keys: number, hooks: WebhookReceiver, secret: string): Promise<Level> {
  const k = await kafkaSection(BROKERS, `bench-alert-${keys}`)
  // Default settings: only what must be said (where events come from, where alerts go).
  const dataDir = tempDataDir(`bench-alert-${keys}`)
  const input = webhookDaemonInput('bench-alert-latency', dataDir, k, { url: hooks.url, secret })
  const t = Date.now()
  const seed = await createApp(parseConfig(input, 'test'), { logger: silentLogger() })
  try {
    await addBackgroundKeys(seed, 0, keys)
  } finally {
    await seed.stop()
  }
  const loaded = Date.now() - t
  const ks = await startKeyshift(input)
  const live = liveBackground(ks.app, keys)
  try {
    const deadline = Date.now() + 60_000
    while (!ks.alerting.leadership.isLeader()) {
      if (Date.now() > deadline) throw new Error('keyshift did not become leader within 60 s')
      await new Promise((r) => setTimeout(r, 50))
    }
    const settled = await settle(ks, keys)
    process.stdout.write(
      `${keys} keys: background stored in ${fmt(loaded)}; as leader, the first rounds (every key read) took ${fmt(settled)}\n`,
    )
    return await measure(ks, hooks, k.topic, keys)
  } finally {
    await live.stop()
    await ks.stop()
    rmSync(dataDir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  let startedBroker = false
  if (!(await serving(BROKERS))) {
    if (process.env.KEYSHIFT_BENCH_BROKERS) throw new Error(`no Kafka broker serves on ${BROKERS}`)
    process.stdout.write('Starting the local test broker (scripts/kafka.sh start)…\n')
    execFileSync('bash', ['scripts/kafka.sh', 'start'], { cwd: REPO_ROOT, stdio: 'inherit' })
    startedBroker = true
  }
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const hooks = await startWebhookReceiver({ secret })
  const d = parseConfig({}, 'test')
  process.stdout.write(
    `keyshift at defaults: ingest batch_max_wait_ms ${d.ingest.batch_max_wait_ms}, evaluation_interval_ms ` +
      `${d.analysis.evaluation_interval_ms}, group_wait_ms ${d.alerting.group_wait_ms}; keys ${KEY_COUNTS.join(', ')} ` +
      `(${CLIENTS} clients each, once a minute, ${HISTORY_MIN} min of history); ${ROUNDS} rounds per key count\n`,
  )
  const levels: Level[] = []
  try {
    for (const keys of KEY_COUNTS) levels.push(await level(keys, hooks, secret))
  } finally {
    await hooks.close()
    if (startedBroker)
      execFileSync('bash', ['scripts/kafka.sh', 'stop'], { cwd: REPO_ROOT, stdio: 'inherit' })
  }
  const base = quantile(
    [...levels[0]!.first].sort((a, b) => a - b),
    0.95,
  )
  process.stdout.write('\nproduce → verified webhook (first notification), per key count\n')
  for (const l of levels) {
    const f = [...l.first].sort((a, b) => a - b)
    const p95 = quantile(f, 0.95)
    const dur = [...l.rounds.map((r) => r.durationMs)].sort((a, b) => a - b)
    const touched = [...l.rounds.map((r) => r.keysTouched)].sort((a, b) => a - b)
    process.stdout.write(
      `  ${String(l.keys).padStart(6)} keys: p50 ${fmt(quantile(f, 0.5))}  p95 ${fmt(p95)}  max ${fmt(f.at(-1)!)}  ` +
        `(${(p95 / base).toFixed(2)}× the ${levels[0]!.keys}-key p95); evaluation rounds ${l.rounds.length}: ` +
        `duration p50 ${quantile(dur, 0.5).toFixed(0)} ms p95 ${quantile(dur, 0.95).toFixed(0)} ms, keys read p50 ` +
        `${quantile(touched, 0.5)} p95 ${quantile(touched, 0.95)}\n`,
    )
  }
  const last = levels.at(-1)!
  const lastP95 = quantile(
    [...last.first].sort((a, b) => a - b),
    0.95,
  )
  process.stdout.write(
    `target: p95 at ${last.keys} keys under ${fmt(TARGET_P95_MS)} and at most ${TARGET_RATIO}× the ` +
      `${levels[0]!.keys}-key p95 — ${lastP95 <= TARGET_P95_MS && lastP95 <= TARGET_RATIO * base ? 'met' : 'NOT met'}\n` +
      `reference: a Grafana-managed rule evaluated every ${fmt(GRAFANA_EVAL_INTERVAL_MS)} notices a failure ` +
      `0–${fmt(GRAFANA_EVAL_INTERVAL_MS)} after it is queryable (mean ${fmt(GRAFANA_EVAL_INTERVAL_MS / 2)}), before ` +
      `ingestion, query time and its notification policy's group_wait (30 s by default).\n`,
  )
}

await main()
