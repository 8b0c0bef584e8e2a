// `keyshift decode --preset P [-c file] [file]`: runs gateway log lines through the
// same decoder as ingest and prints, per line, the canonical event(s) it becomes,
// or why it would be skipped or dead-lettered. For checking a gateway's output
// before wiring it up; nothing is stored. Exit code 1 when a line was dead-lettered.
import { randomBytes } from 'node:crypto'
import { createReadStream, existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Readable } from 'node:stream'
import type { Command } from 'commander'
import { createApp, resolvePepper } from '../app.ts'
import type { Config, DecoderConfig } from '../config/schema.ts'
import { DecodeError } from '../domain/errors.ts'
import { createDecoder, type DecodedRecord } from '../ingest/decode/decoder.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { type Line, LineSplitter } from '../ingest/sources/line-splitter.ts'
import { hostStdin } from '../shared/host-stdin.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { configFrom, offlineConfig, withConfigOption } from './common.ts'
import { decoderForPreset, PRESET_CHOICES } from './source-decoder.ts'

interface DecodeOpts {
  config?: string
  preset: string
  gateway?: string
  resolve?: boolean
}

type DecodeLine = (line: Line, lineNo: number) => DecodedRecord

/** Totals over a run, printed last (to stderr, so stdout stays one JSON value per line). */
export interface DecodeTotals {
  lines: number
  events: number
  skipped: number
  deadLettered: number
}

/**
 * What one input line became, as the JSON lines `decode` prints: one `{line, event}`
 * per canonical event, one `{line, skipped}` for requests skipped as routing noise,
 * one `{line, deadLetter, detail}` when the line (or part of a batch) is dead-lettered.
 */
export function describeLine(lineNo: number, r: DecodedRecord): string[] {
  const out = r.events.map((event) => JSON.stringify({ line: lineNo, event }))
  if (r.skipped > 0)
    out.push(JSON.stringify({ line: lineNo, skipped: 'not_auth_traffic', requests: r.skipped }))
  if (r.rejected !== undefined) {
    out.push(JSON.stringify({ line: lineNo, deadLetter: r.rejected.reason, detail: r.rejected.message }))
  }
  return out
}

export function addToTotals(t: DecodeTotals, r: DecodedRecord): void {
  t.lines++
  t.events += r.events.length
  t.skipped += r.skipped
  if (r.rejected !== undefined) t.deadLettered++
}

/** Decodes one line as the pipeline would: a line longer than the line limit is `too_large`. */
function lineDecoder(decodeAll: (bytes: Buffer, eventId: string) => DecodedRecord): DecodeLine {
  return (line, n) =>
    line.oversized
      ? {
          events: [],
          skipped: 0,
          rejected: new DecodeError('too_large', 'line exceeds the maximum line length'),
        }
      : decodeAll(line.value, `decode:${n}`)
}

/**
 * A decoder with no store: no key is registered, so versions stay `unknown` unless
 * the record names them, and a rejected key reads as `unknown_key` (`--resolve`
 * uses the store's registry instead).
 */
function offlineDecoder(config: Config, d: DecoderConfig): { decode: DecodeLine; note?: string } {
  const stored = config.secrets.pepper !== undefined || existsSync(join(resolve(config.data_dir), 'pepper'))
  // Without a configured pepper, a throwaway one: fingerprints are still keyed, but
  // will not match the ones a daemon stores (and no pepper file is created).
  const pepper = stored ? resolvePepper(config) : randomBytes(32).toString('base64url')
  const decoder = createDecoder({
    preset: d.preset,
    mapping: d.mapping,
    secretPaths: [...config.secrets.fields, ...d.secret_fields],
    fingerprint: createFingerprinter(pepper),
    resolveFingerprint: () => undefined,
    defaultGateway: d.default_gateway ?? d.preset,
    maxRecordBytes: d.max_record_bytes,
    maxFutureSkewMs: d.max_future_skew_ms,
  })
  return {
    decode: lineDecoder((bytes, id) => decoder.decodeAll(bytes, { now: Date.now(), fallbackEventId: id })),
    note: stored
      ? undefined
      : 'no pepper configured: fingerprints use a throwaway pepper and match nothing stored',
  }
}

async function* lines(input: Readable): AsyncGenerator<Line> {
  const splitter = new LineSplitter()
  for await (const chunk of input) yield* splitter.push(chunk as Buffer)
  yield* splitter.flush()
}

export function registerDecodeCommand(program: Command): void {
  withConfigOption(program.command('decode'))
    .description(
      "decode gateway log lines (a file, or stdin) and print each line's canonical events, " +
        'or why it is skipped or dead-lettered; stores nothing',
    )
    .argument('[file]', 'log file; default stdin')
    .requiredOption('-p, --preset <name>', `gateway preset: ${PRESET_CHOICES} (a mapping comes from -c)`)
    .option('-g, --gateway <name>', 'gateway name for records that do not carry one')
    .option('--resolve', "resolve fingerprints to key versions with the store's key registry")
    .action(async (file: string | undefined, opts: DecodeOpts) => {
      const config = configFrom(opts)
      const d = decoderForPreset(config, opts.preset, opts.gateway)
      let decode: DecodeLine
      let stop = async () => {}
      if (opts.resolve) {
        const app = await createApp(offlineConfig(config), { logger: silentLogger() })
        app.registerDecoder('decode', d)
        const decoder = app.decoderFor('decode')
        decode = lineDecoder((bytes, id) =>
          decoder.decodeAll(bytes, { now: Date.now(), fallbackEventId: id }),
        )
        stop = () => app.stop()
      } else {
        const offline = offlineDecoder(config, d)
        decode = offline.decode
        if (offline.note) process.stderr.write(`keyshift decode: ${offline.note}\n`)
      }
      const input = file === undefined ? hostStdin() : createReadStream(resolve(file))
      const totals: DecodeTotals = { lines: 0, events: 0, skipped: 0, deadLettered: 0 }
      try {
        let n = 0
        for await (const line of lines(input)) {
          n++
          // Blank lines carry no event (the line sources skip them too).
          if (line.value.length === 0 && !line.oversized) continue
          const r = decode(line, n)
          addToTotals(totals, r)
          const out = describeLine(n, r)
          if (!process.stdout.write(`${out.join('\n')}\n`)) {
            await new Promise((ok) => process.stdout.once('drain', ok))
          }
        }
      } finally {
        await stop()
      }
      process.stderr.write(
        `keyshift decode: ${totals.lines} lines: ${totals.events} events, ` +
          `${totals.skipped} skipped (not_auth_traffic), ${totals.deadLettered} dead-lettered\n`,
      )
      if (totals.deadLettered > 0) process.exitCode = 1
    })
}
