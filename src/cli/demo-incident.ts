// `keyshift demo --story incident`: the emergency story (src/scenario/incident-scenario.ts)
// end to end on one machine. The leaked version's history goes through the file
// source into the embedded store; the incident opens at the leak (snapshot of
// the known users); the 25 minutes after it (emergency v2, clients moving, an
// attacker's source, deactivation while one gateway still accepts v1) are
// written to the log at the pace of --duration. Alerts go to a local signed
// webhook sink and the console; the status page shows the banner. Ends with the
// live view, the gate under incident rules and the report.
import { randomBytes } from 'node:crypto'
import { appendFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createApp } from '../app.ts'
import { parseConfig } from '../config/load.ts'
import { type ReceivedEvent, startWebhookSink } from '../demo/webhook-sink.ts'
import { reportMarkdown } from '../incident/report-markdown.ts'
import { formatLine } from '../scenario/formats.ts'
import { buildScenario, lifecycleYaml } from '../scenario/generator.ts'
import { INCIDENT_STORY, incidentScenario } from '../scenario/incident-scenario.ts'
import { mkdirPrivate } from '../shared/private-files.ts'
import { createLogger } from '../telemetry/logger.ts'
import { renderView } from './incident.ts'

export interface IncidentDemoOpts {
  dataDir: string
  port: string
  duration: string
  keepRunning?: boolean
}

const out = (s: string) => process.stdout.write(`${s}\n`)

export async function runIncidentDemo(o: IncidentDemoOpts): Promise<void> {
  const durationMs = Number(o.duration) * 1000
  if (!(durationMs >= 0)) throw new Error(`--duration: expected seconds ≥ 0, got "${o.duration}"`)
  const t0 = Date.now()
  const since = () => `+${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(8)
  const dir = resolve(o.dataDir)
  rmSync(dir, { recursive: true, force: true })
  mkdirPrivate(dir)
  const S = INCIDENT_STORY
  // The story ends now: the leak was 25 minutes ago, the history 3 hours before it.
  const story = incidentScenario({ leakAt: t0 - S.endAfterMs, historyHours: 3 })
  const scenario = buildScenario(story.spec)
  const leakAt = story.beats.leakAt
  const before = [...scenario.events({ to: leakAt })]
  const after = [...scenario.events({ from: leakAt })]
  const line = (e: (typeof before)[number]) => `${formatLine('envoy', e, scenario.materialOf(e))}\n`
  const registryFile = join(dir, 'keys.yaml')
  writeFileSync(registryFile, lifecycleYaml(scenario.lifecycle))
  const log = join(dir, 'gateway.log')
  writeFileSync(log, before.map(line).join(''))

  const received: ReceivedEvent[] = []
  const secret = `whsec_${randomBytes(32).toString('base64')}`
  const sink = await startWebhookSink(secret, (e) => {
    received.push(e)
    for (const a of e.data.alerts ?? [])
      out(`  ${since()}  ALERT ${e.type.replace('dev.keyshift.', '')}  [${a.severity}] ${a.title}`)
  })
  const app = await createApp(
    parseConfig({
      instance: 'demo-incident',
      data_dir: dir,
      log: { level: 'warn' },
      http: { port: Number(o.port) },
      secrets: { pepper: randomBytes(24).toString('base64url') },
      registry: { files: [registryFile] },
      sources: [{ type: 'file', path: log, poll_interval_ms: 100, decoder: { preset: 'envoy' } }],
      ingest: { batch_max_wait_ms: 250, heartbeat_interval_ms: 1000 },
      alerting: {
        receivers: { 'demo-webhook': { type: 'webhook', url: sink.url, secret } },
        default_receivers: ['demo-webhook'],
        group_wait_ms: 500,
      },
    }),
    { logger: createLogger({ level: 'warn' }) },
  )
  try {
    await app.start()
    out(`keyshift demo (incident) — status page ${app.url()}/  (API ${app.url()}/api/v1/incidents)`)
    out(`  store: embedded ClickHouse in ${join(dir, 'chdb')}; logs: ${log}`)
    const ingested = async () => {
      const m = await app.metrics.getSingleMetric('keyshift_events_ingested_total')?.get()
      return (m?.values ?? []).reduce((s, v) => s + v.value, 0)
    }
    const waitIngested = async (n: number) => {
      const limit = Date.now() + 300_000
      while ((await ingested()) < n) {
        if (Date.now() > limit) throw new Error(`only ${await ingested()} of ${n} events stored after 5 min`)
        await new Promise((r) => setTimeout(r, 250))
      }
    }
    out(`  ${since()}  ${before.length} log lines of ${S.keyId} ${S.leaked}'s last 3 h before the leak`)
    await waitIngested(before.length)

    const opened = await app.incidents.open(
      {
        keyId: S.keyId,
        version: S.leaked,
        reason: 'leaked',
        note: 'found in a public repository',
        actor: 'demo',
        time: leakAt,
      },
      'demo',
      Date.now(),
    )
    const inc = opened.incident
    out(
      `  ${since()}  incident ${inc.id} opened on ${S.keyId} ${S.leaked}: ${inc.snapshot?.users ?? 0} known users in the snapshot`,
    )
    out(
      `  ${since()}  replaying the 25 minutes after the leak in ${o.duration} s: v2 at +2 min, clients move, an attacker from +6 min, v1 off at +15 min`,
    )
    const span = story.beats.end - leakAt
    const replayFrom = Date.now()
    let i = 0
    while (i < after.length) {
      const due = leakAt + ((Date.now() - replayFrom) / Math.max(durationMs, 1)) * span
      let chunk = ''
      while (i < after.length && (durationMs === 0 || after[i]!.time <= due)) chunk += line(after[i++]!)
      if (chunk) appendFileSync(log, chunk)
      if (i < after.length) await new Promise((r) => setTimeout(r, 250))
    }
    await waitIngested(before.length + after.length)
    // A few evaluation rounds, so the last pages are out before the summary.
    await new Promise((r) => setTimeout(r, 3 * app.config.analysis.evaluation_interval_ms + 1000))

    const now = Date.now()
    out('')
    out(renderView(await app.incidents.view(inc.id, now)))
    out(reportMarkdown(await app.incidents.report(inc.id, now)))
    out(`alerts received by the webhook sink: ${received.length} notification(s), signatures verified`)
    if (o.keepRunning) {
      out(`\nstatus page (incident banner): ${app.url()}/ — Ctrl-C to stop`)
      await new Promise<void>((r) => process.once('SIGINT', () => r()))
    }
  } finally {
    await app.stop()
    await sink.close()
  }
}
