// `keyshift detect`: scores a CSV series `timestamp,value` (e.g. failures per
// minute) with the streaming spike detector, line by line, and writes each row back
// with its anomaly score as soon as it is read. Works on a pipe of any length in
// constant memory; the daemon uses the same detector on its failure series.
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { z } from 'zod'
import {
  SPIKE_SENSITIVITIES,
  type SpikeSensitivity,
  type SpikeSettings,
  StreamingDetector,
  spikeSettings,
} from '../analysis/spikes.ts'
import { MINUTE_MS, SECOND_MS } from '../analysis/types.ts'
import { KeyshiftError, ValidationError } from '../domain/errors.ts'

/** A command-line option of `detect`, independent of the CLI library that registers it. */
export interface DetectOptionSpec {
  flags: string
  /** Property of `DetectOptions` the option sets. */
  name: keyof DetectOptions
  description: string
  default: string
  choices?: readonly string[]
}

export const DETECT_OPTIONS: readonly DetectOptionSpec[] = [
  {
    flags: '--sensitivity <level>',
    name: 'sensitivity',
    description:
      'how readily a row is scored as a spike: low (p ≤ 1e-6, ≥ 10 failures, 3× baseline), ' +
      'medium (p ≤ 1e-4, ≥ 5, 2×) or high (p ≤ 1e-3, ≥ 3, 1.5×)',
    default: 'medium',
    choices: SPIKE_SENSITIVITIES,
  },
  {
    flags: '--window-minutes <n>',
    name: 'windowMinutes',
    description: 'values are summed over the window of this many minutes ending at each row',
    default: '5',
  },
  {
    flags: '--step-seconds <n>',
    name: 'stepSeconds',
    description: 'resolution of the series: rows in the same step add up; must divide a day and the window',
    default: '60',
  },
]

/** Options as a CLI library hands them over (strings or numbers); unknown options are rejected. */
export const detectOptionsSchema = z.strictObject({
  sensitivity: z.enum(SPIKE_SENSITIVITIES).default('medium'),
  windowMinutes: z.coerce.number().int().min(1).max(1440).default(5),
  stepSeconds: z.coerce.number().int().min(1).max(86_400).default(60),
})
export type DetectOptions = z.input<typeof detectOptionsSchema>

/** Validates options into detector settings; the error names the flag and what it accepts. */
export function detectSettings(options: DetectOptions = {}): SpikeSettings {
  const r = detectOptionsSchema.safeParse(options)
  if (!r.success) {
    const flag = (path: PropertyKey[]) =>
      DETECT_OPTIONS.find((o) => o.name === path[0])?.flags.split(' ')[0] ?? String(path[0] ?? 'options')
    throw new ValidationError(r.error.issues.map((i) => `${flag(i.path)}: ${i.message}`).join('; '))
  }
  const o: { sensitivity: SpikeSensitivity; windowMinutes: number; stepSeconds: number } = r.data
  const step = o.stepSeconds * SECOND_MS
  const window = o.windowMinutes * MINUTE_MS
  if (86_400_000 % step !== 0) throw new ValidationError('--step-seconds: must divide a day (86400 s)')
  if (window % step !== 0) throw new ValidationError('--window-minutes: must be a whole number of steps')
  return spikeSettings({ sensitivity: o.sensitivity, step_ms: step, window_ms: window })
}

export interface DetectIo {
  /** Where line errors go (default: process.stderr). */
  errors?: NodeJS.WritableStream
}

export interface DetectResult {
  /** Data rows read and written (bad ones included). */
  rows: number
  badLines: number
  /** 0 when every row was scored, 1 when any line was bad. */
  exitCode: 0 | 1
}

export const DETECT_HEADER = 'timestamp,value,anomaly_score'

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/
const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i

/**
 * Parses a timestamp: ISO 8601 (a date-time without offset is UTC) or epoch
 * seconds / milliseconds (values below 1e11 are seconds, i.e. up to year 5138).
 * Returns epoch ms, or null when the text is none of these.
 */
export function parseTimestamp(text: string): number | null {
  if (NUMBER.test(text)) {
    const n = Number(text)
    if (!Number.isFinite(n)) return null
    return Math.round(Math.abs(n) < 1e11 ? n * 1000 : n)
  }
  const m = ISO.exec(text)
  if (!m) return null
  const [, y, mo, d, hh, , , zone] = m
  const dayOk = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d))).getUTCDate() === Number(d)
  if (!dayOk || Number(mo) < 1 || Number(mo) > 12) return null
  let iso = text.replace(' ', 'T')
  if (hh !== undefined && zone === undefined) iso += 'Z'
  else if (zone !== undefined && /^[+-]\d{4}$/.test(zone)) iso = `${iso.slice(0, -2)}:${iso.slice(-2)}`
  const t = Date.parse(iso)
  return Number.isNaN(t) ? null : t
}

function parseValue(text: string): number | null {
  if (!NUMBER.test(text)) return null
  const n = Number(text)
  return Number.isFinite(n) && n >= 0 ? n : null
}

const unquote = (s: string) =>
  s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).trim() : s

/**
 * Reads `timestamp,value` lines from `input` and writes `timestamp,value,anomaly_score`
 * to `output`: a header, then one row per data row, written as soon as its line is
 * read (the input is never buffered whole). The first line is skipped as a header
 * when neither field parses; blank lines are skipped. Timestamps and values are
 * echoed as given; the score has 4 decimals (see `SpikeScore.score`: ≥ 0.5 is a spike).
 *
 * A bad line (wrong field count, bad timestamp or value, timestamp earlier than the
 * previous row's step) is reported on `errors` with its line number and written
 * with an empty score, so rows out still match rows in; the result's `exitCode` is
 * then 1. The bad row does not enter the detector's history.
 */
export async function runDetect(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  opts: DetectOptions & DetectIo = {},
): Promise<DetectResult> {
  const { errors = process.stderr, ...options } = opts
  const detector = new StreamingDetector(detectSettings(options))
  const write = async (text: string) => {
    if (!output.write(text)) await once(output, 'drain')
  }
  await write(`${DETECT_HEADER}\n`)

  let lineNo = 0
  let rows = 0
  let badLines = 0
  let seenContent = false
  const lines = createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })
  for await (const line of lines) {
    lineNo++
    const trimmed = line.trim()
    if (trimmed === '') continue
    const raw = trimmed.split(',').map((f) => f.trim())
    const fields = raw.map(unquote)
    const ts = fields[0] === undefined ? null : parseTimestamp(fields[0])
    const value = fields[1] === undefined ? null : parseValue(fields[1])
    const first = !seenContent
    seenContent = true
    if (first && raw.length === 2 && ts === null && value === null) continue // header

    rows++
    let problem: string | null = null
    let score = ''
    if (raw.length !== 2) problem = `expected 2 fields (timestamp,value), found ${raw.length}`
    else if (ts === null)
      problem = `timestamp "${fields[0]}" is neither ISO 8601 nor epoch seconds/milliseconds`
    else if (value === null) problem = `value "${fields[1]}" is not a number ≥ 0`
    else {
      try {
        score = detector.push(ts, value).score.toFixed(4)
      } catch (err) {
        if (!(err instanceof KeyshiftError)) throw err
        problem = err.message
      }
    }
    if (problem !== null) {
      badLines++
      errors.write(`keyshift detect: line ${lineNo}: ${problem}; row written without a score\n`)
    }
    await write(`${raw[0] ?? ''},${raw[1] ?? ''},${score}\n`)
  }
  return { rows, badLines, exitCode: badLines > 0 ? 1 : 0 }
}
