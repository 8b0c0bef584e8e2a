// `keyshift replay <file>`: backfill a gateway log file through the same
// decoders and exactly-once pipeline as live ingest. Positions are kept per
// file (by inode), so replaying the same file twice stores nothing twice.
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { resolve } from 'node:path'
import { SingleBar } from 'cli-progress'
import type { Command } from 'commander'
import type { Counter } from 'prom-client'
import { createApp } from '../app.ts'
import { appendLineRecords, type LineRecord, LineSplitter } from '../ingest/sources/line-splitter.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { configFrom, offlineConfig, withConfigOption } from './common.ts'
import { decoderForPreset, PRESET_CHOICES } from './source-decoder.ts'

interface ReplayOpts {
  config?: string
  preset: string
  gateway?: string
  progress: boolean
  json?: boolean
}

export function registerReplayCommand(program: Command): void {
  withConfigOption(program.command('replay'))
    .description('backfill a gateway log file (one JSON record per line) into the store, exactly once')
    .argument('<file>', 'log file to replay')
    .requiredOption(
      '-p, --preset <name>',
      `gateway preset: ${PRESET_CHOICES} (mapping, and a source's other decoder settings, come from -c)`,
    )
    .option('-g, --gateway <name>', 'gateway name for records that do not carry one')
    .option('--no-progress', 'do not draw a progress bar')
    .option('--json', 'print the summary as JSON')
    .action(async (file: string, opts: ReplayOpts) => {
      const path = resolve(file)
      const info = await stat(path)
      const config = configFrom(opts)
      const decoder = decoderForPreset(config, opts.preset, opts.gateway)
      const app = await createApp(offlineConfig(config), { logger: silentLogger() })
      const source = `replay:${path}`
      const partition = Number(info.ino)
      app.registerDecoder(source, decoder)
      const started = performance.now()
      const summary = {
        file: path,
        lines: 0,
        stored: 0,
        deadLettered: 0,
        skipped: 0,
        notAuthTraffic: 0,
        reasons: {} as Record<string, number>,
      }
      try {
        const positions = await app.pipeline.positions(source)
        const resumeAt = positions.find((p) => p.partition === partition)?.nextOffset ?? 0n
        const bar =
          opts.progress && process.stderr.isTTY
            ? new SingleBar({
                format: 'replay [{bar}] {percentage}% | {value}/{total} bytes | {lines} lines',
              })
            : null
        bar?.start(info.size, 0, { lines: 0 })
        const splitter = new LineSplitter()
        let batch: LineRecord[] = []
        const flush = async () => {
          if (batch.length === 0) return
          const records = batch
          batch = []
          await app.pipeline.submit(source, partition, records, JSON.stringify({ path }))
        }
        for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
          const lines: LineRecord[] = []
          appendLineRecords(splitter.push(chunk as Buffer), partition, lines)
          for (const l of lines) {
            summary.lines++
            if (l.offset < resumeAt) summary.skipped++
            else batch.push(l)
          }
          if (batch.length >= app.config.ingest.batch_max_events) await flush()
          bar?.update(splitter.end, { lines: summary.lines })
        }
        const tail: LineRecord[] = []
        appendLineRecords(splitter.flush(), partition, tail)
        for (const l of tail) {
          summary.lines++
          if (l.offset < resumeAt) summary.skipped++
          else batch.push(l)
        }
        await flush()
        await app.pipeline.drain()
        bar?.update(info.size, { lines: summary.lines })
        bar?.stop()
        const metrics = await app.metrics.getSingleMetric('keyshift_events_rejected_total')?.get()
        for (const v of (metrics as Awaited<ReturnType<Counter['get']>> | undefined)?.values ?? []) {
          summary.reasons[String(v.labels.reason)] = v.value
          summary.deadLettered += v.value
        }
        const counter = async (name: string) => {
          const m = (await app.metrics.getSingleMetric(name)?.get()) as
            | Awaited<ReturnType<Counter['get']>>
            | undefined
          return (m?.values ?? []).reduce((n, v) => n + v.value, 0)
        }
        // Events, not lines: a batch line (a JSON array) may hold many.
        summary.stored = await counter('keyshift_events_ingested_total')
        summary.notAuthTraffic = await counter('keyshift_events_skipped_total')
      } finally {
        await app.stop()
      }
      const seconds = (performance.now() - started) / 1000
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ ...summary, seconds: Number(seconds.toFixed(3)) })}\n`)
        return
      }
      process.stdout.write(
        `replayed ${summary.file}\n` +
          `  lines read      ${summary.lines}\n` +
          `  stored          ${summary.stored} events\n` +
          `  already stored  ${summary.skipped} (skipped)\n` +
          `  not auth traffic ${summary.notAuthTraffic} (skipped: no identity, not rejected)\n` +
          `  dead-lettered   ${summary.deadLettered}${
            Object.keys(summary.reasons).length
              ? ` (${Object.entries(summary.reasons)
                  .map(([r, n]) => `${r}: ${n}`)
                  .join(', ')})`
              : ''
          }\n` +
          `  took            ${seconds.toFixed(1)} s (${Math.round(summary.lines / Math.max(seconds, 0.001))} lines/s)\n`,
      )
    })
}
