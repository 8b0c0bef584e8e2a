// `keyshift demo` (npm run demo): a rotation story end to end on one machine,
// nothing installed but Node.js. Generated gateway logs (Envoy JSON) for
// several keys go through the file source into the embedded store; analysis
// raises findings; alerts go to a local signed-webhook sink and the console;
// the status page is served. Ends with a summary of what was detected and when.
import { randomBytes } from 'node:crypto'
import { createWriteStream, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createApp } from '../app.ts'
import { parseConfig } from '../config/load.ts'
import { type ReceivedEvent, startWebhookSink } from '../demo/webhook-sink.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { runLive, storyLifecycleYaml, writeBackfill } from '../scenario/simulator.ts'
import { mkdirPrivate } from '../shared/private-files.ts'
import { createLogger } from '../telemetry/logger.ts'
import { runIncidentDemo } from './demo-incident.ts'

interface DemoOpts {
  dataDir: string
  port: string
  events: string
  duration: string
  keepRunning?: boolean
  story: string
}

const out = (s: string) => process.stdout.write(`${s}\n`)
const since = (t0: number) => `+${((Date.now() - t0) / 1000).toFixed(1)}s`

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a key-rotation story end to end on embedded defaults (no Kafka, no ClickHouse server)')
    .option('--data-dir <dir>', 'where the demo keeps its store and logs (wiped first)', '.data/demo')
    .option('--port <port>', 'HTTP port of the status page and API', '8080')
    .option('--events <n>', 'events of history to backfill (the last 48 h of the story)', '60000')
    .option('--duration <s>', 'seconds of live traffic after the backfill', '30')
    .option('--keep-running', 'keep serving the status page after the summary, until Ctrl-C')
    .option('--story <name>', 'rotation (a planned rotation) or incident (a leaked key version)', 'rotation')
    .action(async (o: DemoOpts) => {
      if (o.story === 'incident') return runIncidentDemo(o)
      if (o.story !== 'rotation') throw new Error(`--story: expected rotation or incident, got "${o.story}"`)
      const t0 = Date.now()
      const dir = resolve(o.dataDir)
      rmSync(dir, { recursive: true, force: true })
      // 0700 like every keyshift data path (the demo's store holds a pepper too).
      mkdirPrivate(dir)
      const pepper = randomBytes(24).toString('base64url')
      const fingerprint = createFingerprinter(pepper)
      const end = Date.now()
      const story = { end, hours: 48, seed: 7, keys: 8, fingerprint }
      const registryFile = join(dir, 'keys.yaml')
      writeFileSync(registryFile, storyLifecycleYaml(story))
      const log = join(dir, 'gateway.log')
      writeFileSync(log, '')

      const received: ReceivedEvent[] = []
      const secret = `whsec_${randomBytes(32).toString('base64')}`
      const sink = await startWebhookSink(secret, (e) => {
        received.push(e)
        for (const a of e.data.alerts ?? []) {
          out(
            `  ${since(t0).padStart(7)}  ALERT ${e.type.replace('dev.keyshift.', '')}  [${a.severity}] ${a.title}`,
          )
        }
      })

      const config = parseConfig({
        instance: 'demo',
        data_dir: dir,
        log: { level: 'warn' },
        http: { port: Number(o.port) },
        secrets: { pepper },
        registry: { files: [registryFile] },
        sources: [{ type: 'file', path: log, poll_interval_ms: 100, decoder: { preset: 'envoy' } }],
        ingest: { batch_max_wait_ms: 250, heartbeat_interval_ms: 1000 },
        alerting: {
          receivers: { 'demo-webhook': { type: 'webhook', url: sink.url, secret } },
          default_receivers: ['demo-webhook'],
          group_wait_ms: 500,
        },
      })
      const app = await createApp(config, { logger: createLogger({ level: 'warn' }) })
      await app.start()
      out(`keyshift demo — status page ${app.url()}/  (API ${app.url()}/api/v1/keys)`)
      out(`  store: embedded ClickHouse in ${join(dir, 'chdb')}; logs: ${log}`)
      out(
        `  ${since(t0).padStart(7)}  writing ${o.events} gateway log lines (48 h of history, 8 keys, 3 gateways)`,
      )

      const ingested = async () => {
        const m = await app.metrics.getSingleMetric('keyshift_events_ingested_total')?.get()
        return (m?.values ?? []).reduce((s, v) => s + v.value, 0)
      }
      const file = createWriteStream(log, { flags: 'a' })
      const back = await writeBackfill(file, { ...story, preset: 'envoy', count: Number(o.events) })
      let last = -1
      for (;;) {
        const n = await ingested()
        if (n !== last) out(`  ${since(t0).padStart(7)}  ingested ${n} / ${back.written} events`)
        last = n
        if (n >= back.written) break
        await new Promise((r) => setTimeout(r, 1000))
      }
      out(
        `  ${since(t0).padStart(7)}  history stored; live traffic for ${o.duration} s (the story's clock runs 60× faster)`,
      )
      const written = await runLive(file, {
        ...story,
        preset: 'envoy',
        rate: 100,
        speedup: 60,
        durationMs: Number(o.duration) * 1000,
        onProgress: () => {},
      })
      await new Promise<void>((r) => file.end(r))
      // The summary reports on an evaluation of everything written, and on the alerts
      // it sent: wait for each step (not a fixed pause, which a loaded machine outruns).
      const gauge = async (name: string) => {
        const m = await app.metrics.getSingleMetric(name)?.get()
        return (m?.values ?? []).reduce((s, v) => s + v.value, 0)
      }
      const rounds = async () => {
        const m = await app.metrics.getSingleMetric('keyshift_evaluation_duration_seconds')?.get()
        return (
          m?.values.find(
            (v) => (v as { metricName?: string }).metricName === 'keyshift_evaluation_duration_seconds_count',
          )?.value ?? 0
        )
      }
      const until = async (what: string, done: () => Promise<boolean>, timeoutMs = 120_000) => {
        const deadline = Date.now() + timeoutMs
        while (!(await done())) {
          if (Date.now() > deadline) {
            out(`  ${since(t0).padStart(7)}  gave up waiting for ${what} after ${timeoutMs / 1000} s`)
            return
          }
          await new Promise((r) => setTimeout(r, 200))
        }
      }
      await until('the live traffic to be stored', async () => (await ingested()) >= back.written + written)
      // Two full rounds after the last batch: the first may have started before it landed.
      const before = await rounds()
      await until('two evaluation rounds', async () => (await rounds()) >= before + 2)
      await until('the alert outbox to drain', async () => (await gauge('keyshift_outbox_pending')) === 0)

      // Summary.
      const now = Date.now()
      const total = await ingested()
      const findings = await app.rotation.findings(now)
      out('')
      out(
        `summary after ${((now - t0) / 1000).toFixed(0)} s: ${total} events stored (${back.written} history + ${written} live)`,
      )
      out('findings:')
      for (const f of findings) out(`  [${f.severity}] ${f.title}`)
      out('readiness of old versions:')
      for (const v of app.keys.versions()) {
        if (v.state !== 'deprecated') continue
        const r = await app.rotation.readiness(
          { keyId: v.keyId, version: v.version, askedBy: 'demo', via: 'cli', audit: false },
          now,
        )
        const failing = r.rules.filter((x) => x.outcome !== 'pass').map((x) => x.id)
        out(`  ${v.keyId} ${v.version}: ${r.verdict}${failing.length ? ` (${failing.join(', ')})` : ''}`)
      }
      out(`alerts received by the webhook sink: ${received.length} notification(s), signatures verified`)
      const first = new Map<string, number>()
      for (const e of received) if (!first.has(e.type)) first.set(e.type, e.receivedAt)
      for (const [type, at] of first)
        out(`  first ${type.replace('dev.keyshift.', '')} at +${((at - t0) / 1000).toFixed(1)}s`)
      if (o.keepRunning) {
        out(`\nstatus page: ${app.url()}/ — Ctrl-C to stop`)
        await new Promise<void>((r) => process.once('SIGINT', () => r()))
      }
      await app.stop()
      await sink.close()
    })
}
