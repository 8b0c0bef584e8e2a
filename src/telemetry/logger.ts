// Structured JSON logs: a sentence in `msg`, details as fields. Secret-bearing
// fields are redacted by path, and every finished line goes through the same
// scrubber as gateway logs before it is written (the log edge of issue 14): a
// value that came from anywhere (config, an error message, a client) and looks
// like key material leaves as its fingerprint.
import { randomBytes } from 'node:crypto'
import { type Logger, pino } from 'pino'
import { createFingerprinter, type Fingerprinter } from '../ingest/secrets/fingerprint.ts'
import { createInputScrubber } from '../ingest/secrets/input-scrubber.ts'
import { scrubText } from '../ingest/secrets/scrub.ts'

export type { Logger }

const REDACT_PATHS = [
  '*.password',
  '*.secret',
  '*.token',
  '*.authorization',
  '*.pepper',
  '*.webhook_url',
  'password',
  'secret',
  'token',
  'authorization',
  'pepper',
  'req.headers.authorization',
]

interface LineScrubber {
  fingerprint: Fingerprinter
}
const lineScrubbers = new WeakMap<Logger, LineScrubber>()

/**
 * Scrubs one finished JSON log line. Text scrubbing keeps the JSON valid in all but
 * contrived cases (a credential value ending in an escaped quote); when it does not,
 * the line is parsed and scrubbed as a document instead.
 */
export function scrubLogLine(line: string, fingerprint: Fingerprinter): string {
  const out = scrubText(line, fingerprint)
  if (out === line) return line
  try {
    JSON.parse(out)
    return out
  } catch {
    try {
      return `${JSON.stringify(createInputScrubber(fingerprint)(JSON.parse(line)))}\n`
    } catch {
      return out
    }
  }
}

export function createLogger(
  opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  // Until the app knows its pepper, lines are scrubbed under a random one: the
  // fingerprints in early lines cannot be matched, but no key is ever written.
  const scrubber: LineScrubber = { fingerprint: createFingerprinter(randomBytes(32).toString('hex')) }
  const logger = pino(
    {
      name: opts.name ?? 'keyshift',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      hooks: { streamWrite: (line) => scrubLogLine(line, scrubber.fingerprint) },
    },
    (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ fd: 2, sync: false }),
  )
  lineScrubbers.set(logger, scrubber)
  return logger
}

/**
 * From now on, fingerprints in this logger's lines (and its children's) use the
 * app's pepper, so they match the ones in the store. A no-op for loggers not made
 * by `createLogger`.
 */
export function scrubLogsWith(logger: Logger, fingerprint: Fingerprinter): void {
  const s = lineScrubbers.get(logger)
  if (s) s.fingerprint = fingerprint
}

/** A logger that drops everything, for tests and one-shot CLI commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
