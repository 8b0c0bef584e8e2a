// bench:incident-latency — how long from a leaked key version's first use by
// an unknown source until the critical page is at the receiver, at default
// settings. keyshift runs in-process (Kafka source → embedded store →
// evaluation → incident view → alert pipeline → outbox → signed webhook) with
// a Standard Webhooks receiver on loopback. Each round: a fresh key whose v1
// has history from one known client, an incident opened on it, then a burst
// from a source outside the snapshot; the clock runs from the produce call to
// the first verified webhook carrying incident_unknown_source for that key.
// Each round also runs the planned-rotation alert path (a version deactivated
// too early, as bench:alert-latency does) as the baseline measured in the same
// run, and prints the ratio.
//   npm run bench:incident-latency   (KEYSHIFT_BENCH_ROUNDS, default 20; KEYSHIFT_BENCH_BROKERS)
import { randomBytes } from 'node:crypto'
import {
  deactivateTooEarly,
  gatewayRecord,
  kafkaSection,
  lifecycle,
  startKeyshift,
  tempDataDir,
  waitForStored,
  webhookDaemonInput,
} from '../test/integration/alerting-harness.ts'
import { produceMessages } from '../test/integration/kafka-helpers.ts'
import { startWebhookReceiver } from '../test/kit/webhook-receiver.ts'
import { fmt, quantile, serving } from './latency.ts'

const ROUNDS = Number(process.env.KEYSHIFT_BENCH_ROUNDS ?? 20)
const BROKERS =
  process.env.KEYSHIFT_BENCH_BROKERS ?? `127.0.0.1:${process.env.KEYSHIFT_KAFKA_PORT ?? '29092'}`
const TARGET_P95_MS = 5_000
const DAY = 86_400_000

/** A gateway record from `address` (gatewayRecord's shape, another source). */
function from(address: string, ua: string, r: Parameters<typeof gatewayRecord>[0]): string {
  const doc = JSON.parse(gatewayRecord(r)) as Record<string, unknown>
  return JSON.stringify({ ...doc, source_address: address, user_agent: ua, route: '/v1/export' })
}

async function main(): Promise<void> {
  if (!(await serving(BROKERS))) throw new Error(`no Kafka broker serves on ${BROKERS} (npm run kafka:start)`)
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const hooks = await startWebhookReceiver({ secret })
  const k = await kafkaSection(BROKERS, 'bench-incident')
  const ks = await startKeyshift(
    webhookDaemonInput('bench-incident-latency', tempDataDir('bench-incident'), k, {
      url: hooks.url,
      secret,
    }),
  )
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
  const app = ks.app
  const incident: number[] = []
  const baseline: number[] = []
  const waitFor = async (what: string, pred: () => boolean) => {
    const limit = Date.now() + 60_000
    while (!pred()) {
      if (Date.now() > limit) throw new Error(`no ${what} within 60 s`)
      await new Promise((r) => setTimeout(r, 2))
    }
    return Date.now()
  }
  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const key = `leak-${round}-${randomBytes(3).toString('hex')}`
      const now = Date.now()
      await lifecycle(app, key, 'v1', 'activate', now - 30 * DAY)
      await lifecycle(app, key, 'v2', 'activate', now - 60_000)
      // History: the known client (203.0.113.7, acme-mobile/4.2) used v1 before the leak.
      await produceMessages(
        BROKERS,
        k.topic,
        Array.from({ length: 5 }, (_, i) => ({
          value: gatewayRecord({ keyId: key, version: 'v1', status: 200, time: now - 300_000 + i * 1_000 }),
        })),
      )
      await waitForStored(app, key, 5)
      await app.incidents.open(
        { keyId: key, version: 'v1', reason: 'leaked', note: '', actor: 'bench', time: now - 1_000 },
        'bench',
        now,
      )
      // The opening's own page goes out first; the clock is for the unknown source.
      const pagesAbout = (type: string) =>
        hooks.deliveries.filter((x) =>
          ((x.payload as { data?: { alerts?: { keyId: string; type: string }[] } }).data?.alerts ?? []).some(
            (a) => a.keyId === key && a.type === type,
          ),
        )
      await waitFor('incident_open page', () => pagesAbout('incident_open').length > 0)
      const attacker = `198.51.100.${round}`
      const producedAt = Date.now()
      await produceMessages(
        BROKERS,
        k.topic,
        Array.from({ length: 10 }, () => ({
          value: from(attacker, 'python-requests/2.31.0', {
            keyId: key,
            version: 'v1',
            status: 200,
            time: producedAt,
          }),
        })),
      )
      const pagedAt = await waitFor(
        'incident_unknown_source page',
        () => pagesAbout('incident_unknown_source').length > 0,
      )
      incident.push(pagedAt - producedAt)
      await app.incidents.close(
        (await app.incidents.openFor(key, 'v1'))!.id,
        { actor: 'bench', note: '' },
        'bench',
        Date.now(),
      )

      const base = `base-${round}-${randomBytes(3).toString('hex')}`
      const about = () => hooks.deliveries.filter((x) => (x.payload as { subject?: string }).subject === base)
      const { producedAt: p2 } = await deactivateTooEarly(ks, BROKERS, k.topic, base, { failures: 10 })
      const firstAt = await waitFor('baseline alert', () => about().length > 0)
      baseline.push(firstAt - p2)
      process.stdout.write(
        `round ${String(round).padStart(2)}: unknown source → page ${fmt(pagedAt - producedAt)}; planned-rotation alert ${fmt(firstAt - p2)}\n`,
      )
    }
  } finally {
    await ks.stop()
    await hooks.close()
  }
  const f = [...incident].sort((a, b) => a - b)
  const b = [...baseline].sort((a, b2) => a - b2)
  const p95 = quantile(f, 0.95)
  process.stdout.write(
    `\nfirst use by an unknown source → critical page at the receiver, ${f.length} rounds\n` +
      `  incident page:                p50 ${fmt(quantile(f, 0.5))}  p95 ${fmt(p95)}  max ${fmt(f.at(-1)!)}\n` +
      `  baseline (planned rotation):  p50 ${fmt(quantile(b, 0.5))}  p95 ${fmt(quantile(b, 0.95))}  max ${fmt(b.at(-1)!)}\n` +
      `  ratio incident/baseline: p50 ${(quantile(f, 0.5) / quantile(b, 0.5)).toFixed(2)}  p95 ${(p95 / quantile(b, 0.95)).toFixed(2)}\n` +
      `target: p95 under ${fmt(TARGET_P95_MS)} — ${p95 <= TARGET_P95_MS ? 'met' : 'NOT met'}\n`,
  )
}

await main()
process.exit(0)
