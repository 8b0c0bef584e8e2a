// Structured JSON logs: a sentence in `msg`, details as fields. Secret-bearing
// fields are redacted by path; values shaped like key material never reach a
// log line because the ingest path fingerprints them before anything else.
import { type Logger, pino } from 'pino'

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

export function createLogger(
  opts: { level?: string; name?: string; destination?: NodeJS.WritableStream } = {},
): Logger {
  return pino(
    {
      name: opts.name ?? 'keyshift',
      level: opts.level ?? 'info',
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    (opts.destination as pino.DestinationStream | undefined) ?? pino.destination({ fd: 2, sync: false }),
  )
}

/** A logger that drops everything, for tests and one-shot CLI commands. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' })
}
