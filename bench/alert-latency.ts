// bench:alert-latency — how long from failing auth events being produced to
// Kafka until the alert is at the receiver, at default settings. keyshift runs
// in-process (Kafka source → embedded store → evaluation → alert pipeline →
// outbox → signed webhook) with a Standard Webhooks receiver on loopback. Each
// round rotates a fresh key too early (v1 deactivated while a client still uses
// it) and produces a burst of rejections; the clock runs from the produce call
// to the first verified webhook about that key. Prints p50/p95/max and compares
// them with a Grafana-managed alert rule evaluated every 10 s.
//   npm run bench:alert-latency      (KEYSHIFT_BENCH_ROUNDS, default 25; KEYSHIFT_BENCH_BROKERS)
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import {
  deactivateTooEarly,
  kafkaSection,
  MAPPING_DECODER,
  startKeyshift,
  tempDataDir,
} from '../test/integration/alerting-harness.ts'
import { startWebhookReceiver } from '../test/kit/webhook-receiver.ts'
import { REPO_ROOT } from '../test/support/daemon.ts'
import { fmt, quantile, serving } from './latency.ts'

const ROUNDS = Number(process.env.KEYSHIFT_BENCH_ROUNDS ?? 25)
const BROKERS = process.env.KEYSHIFT_BENCH_BROKERS ?? '127.0.0.1:29092'
const GRAFANA_EVAL_INTERVAL_MS = 10_000
const TARGET_P95_MS = 5_000

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
  const k = await kafkaSection(BROKERS, 'bench-alert')
  // Default settings: only what must be said (where events come from, where alerts go).
  const ks = await startKeyshift({
    instance: 'bench-alert-latency',
    data_dir: tempDataDir('bench-alert'),
    log: { level: 'warn' },
    http: { enabled: false },
    kafka: k.kafka,
    sources: [{ type: 'kafka', topic: k.topic, decoder: MAPPING_DECODER }],
    alerting: {
      receivers: { hooks: { type: 'webhook', url: hooks.url, secret } },
      default_receivers: ['hooks'],
      leadership: { topic: k.leaderTopic },
    },
  })
  const d = ks.config
  process.stdout.write(
    `keyshift at defaults: ingest batch_max_wait_ms ${d.ingest.batch_max_wait_ms}, evaluation_interval_ms ` +
      `${d.analysis.evaluation_interval_ms}, group_wait_ms ${d.alerting.group_wait_ms}; ${ROUNDS} rounds\n`,
  )
  const deadline = Date.now() + 60_000
  while (!ks.alerting.leadership.isLeader()) {
    if (Date.now() > deadline) throw new Error('keyshift did not become leader within 60 s')
    await new Promise((r) => setTimeout(r, 50))
  }

  const first: number[] = []
  const both: number[] = []
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const key = `bench-${round}-${randomBytes(3).toString('hex')}`
      const about = () => hooks.deliveries.filter((x) => (x.payload as { subject?: string }).subject === key)
      const { producedAt } = await deactivateTooEarly(ks, BROKERS, k.topic, key, { failures: 20 })
      let firstAt = 0
      const limit = Date.now() + 60_000
      while (about().length < 2) {
        if (firstAt === 0 && about().length > 0) firstAt = Date.now()
        if (Date.now() > limit) throw new Error(`round ${round}: no alert for ${key} within 60 s`)
        await new Promise((r) => setTimeout(r, 2))
      }
      const bothAt = Date.now()
      if (firstAt === 0) firstAt = bothAt
      first.push(firstAt - producedAt)
      both.push(bothAt - producedAt)
      process.stdout.write(
        `round ${String(round).padStart(2)}: first alert ${fmt(firstAt - producedAt)}, both (alert.firing + rollback.advised) ${fmt(bothAt - producedAt)}\n`,
      )
    }
  } finally {
    const metrics = await ks.app.metrics.getSingleMetricAsString('keyshift_evaluation_duration_seconds')
    await ks.stop()
    await hooks.close()
    if (startedBroker)
      execFileSync('bash', ['scripts/kafka.sh', 'stop'], { cwd: REPO_ROOT, stdio: 'inherit' })
    const sum = /keyshift_evaluation_duration_seconds_sum (\S+)/.exec(metrics)
    const count = /keyshift_evaluation_duration_seconds_count (\S+)/.exec(metrics)
    if (sum && count && Number(count[1]) > 0) {
      process.stdout.write(
        `evaluations: ${count[1]}, mean duration ${((Number(sum[1]) / Number(count[1])) * 1000).toFixed(0)} ms\n`,
      )
    }
  }

  const f = [...first].sort((a, b) => a - b)
  const b = [...both].sort((a, b2) => a - b2)
  const p95 = quantile(f, 0.95)
  process.stdout.write(
    `\nproduce → receiver, ${f.length} rounds\n` +
      `  first notification: p50 ${fmt(quantile(f, 0.5))}  p95 ${fmt(p95)}  max ${fmt(f.at(-1)!)}\n` +
      `  both notifications: p50 ${fmt(quantile(b, 0.5))}  p95 ${fmt(quantile(b, 0.95))}  max ${fmt(b.at(-1)!)}\n` +
      `target: p95 under ${fmt(TARGET_P95_MS)} — ${p95 <= TARGET_P95_MS ? 'met' : 'NOT met'}\n` +
      `reference: a Grafana-managed rule evaluated every ${fmt(GRAFANA_EVAL_INTERVAL_MS)} notices a failure ` +
      `0–${fmt(GRAFANA_EVAL_INTERVAL_MS)} after it is queryable (mean ${fmt(GRAFANA_EVAL_INTERVAL_MS / 2)}), before ` +
      `ingestion, query time and its notification policy's group_wait (30 s by default); keyshift's p95 is ` +
      `${(GRAFANA_EVAL_INTERVAL_MS / p95).toFixed(1)}× shorter than that evaluation interval alone.\n`,
  )
}

await main()
