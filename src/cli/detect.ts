// `keyshift detect`: scores a `timestamp,value` CSV series from a stream with a
// streaming detector and writes `timestamp,value,anomaly_score` for every row, in
// order, as its input chunk is read. Works on a pipe of any length in bounded
// memory. Imports nothing heavy (no CLI library, no schema library): it starts in
// a fraction of the daemon's time; the Poisson model is loaded only when asked for.
import { StringDecoder } from 'node:string_decoder'
import { SeasonalEnsembleDetector } from '../analysis/anomaly/seasonal-ensemble.ts'
import type { PointDetector } from '../analysis/anomaly/types.ts'
import { KeyshiftError, ValidationError } from '../domain/errors.ts'

export const DETECT_MODELS = ['general', 'counts'] as const
export type DetectModel = (typeof DETECT_MODELS)[number]
const SENSITIVITIES = ['low', 'medium', 'high'] as const

/** A command-line option of `detect`, independent of the CLI library that shows it. */
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
    flags: '--model <name>',
    name: 'model',
    description:
      'general: any numeric series (seasonal robust ensemble, calibrated score: 0.3 ≈ 1 in 1 000, 0.5 ≈ 1 in 100 000); ' +
      'counts: the Poisson failure-spike model for event counts (≥ 0.5 is a spike)',
    default: 'general',
    choices: DETECT_MODELS,
  },
  {
    flags: '--sensitivity <level>',
    name: 'sensitivity',
    description:
      'counts model only: low (p ≤ 1e-6, ≥ 10 failures, 3× baseline), medium (p ≤ 1e-4, ≥ 5, 2×) or high (p ≤ 1e-3, ≥ 3, 1.5×)',
    default: 'medium',
    choices: SENSITIVITIES,
  },
  {
    flags: '--window-minutes <n>',
    name: 'windowMinutes',
    description:
      'counts model only: values are summed over the window of this many minutes ending at each row',
    default: '5',
  },
  {
    flags: '--step-seconds <n>',
    name: 'stepSeconds',
    description:
      'counts model only: resolution of the series; rows in the same step add up; must divide a day and the window',
    default: '60',
  },
]

/** Options as a command line hands them over (strings or numbers). */
export interface DetectOptions {
  model?: string
  sensitivity?: string
  windowMinutes?: string | number
  stepSeconds?: string | number
}

const flagOf = (name: keyof DetectOptions) => DETECT_OPTIONS.find((o) => o.name === name)!.flags.split(' ')[0]

function intOption(name: keyof DetectOptions, given: string | number | undefined, dflt: number, max: number) {
  if (given === undefined) return dflt
  const n = typeof given === 'number' ? given : /^\s*\d+\s*$/.test(given) ? Number(given) : Number.NaN
  if (!(Number.isInteger(n) && n >= 1 && n <= max))
    throw new ValidationError(`${flagOf(name)}: expected a whole number from 1 to ${max}, got "${given}"`)
  return n
}

/**
 * Validates options and returns a factory of the chosen detector; the error names
 * the flag and what it accepts. Async because the counts model is loaded lazily.
 */
export async function detectorFor(options: DetectOptions = {}): Promise<() => PointDetector> {
  const known = new Set(DETECT_OPTIONS.map((o) => o.name as string))
  for (const k of Object.keys(options)) {
    if (!known.has(k) && (options as Record<string, unknown>)[k] !== undefined)
      throw new ValidationError(`unknown option "${k}"`)
  }
  const model = options.model ?? 'general'
  if (!(DETECT_MODELS as readonly string[]).includes(model))
    throw new ValidationError(`--model: expected one of ${DETECT_MODELS.join(', ')}, got "${model}"`)
  const sensitivity = options.sensitivity ?? 'medium'
  if (!(SENSITIVITIES as readonly string[]).includes(sensitivity))
    throw new ValidationError(
      `--sensitivity: expected one of ${SENSITIVITIES.join(', ')}, got "${sensitivity}"`,
    )
  const windowMinutes = intOption('windowMinutes', options.windowMinutes, 5, 1440)
  const stepSeconds = intOption('stepSeconds', options.stepSeconds, 60, 86_400)
  if (model === 'general') return () => new SeasonalEnsembleDetector()
  const step = stepSeconds * 1000
  const window = windowMinutes * 60_000
  if (86_400_000 % step !== 0) throw new ValidationError('--step-seconds: must divide a day (86400 s)')
  if (window % step !== 0) throw new ValidationError('--window-minutes: must be a whole number of steps')
  const { CountsDetector } = await import('../analysis/anomaly/counts.ts')
  const { spikeSettings } = await import('../analysis/spikes.ts')
  const settings = spikeSettings({
    sensitivity: sensitivity as (typeof SENSITIVITIES)[number],
    step_ms: step,
    window_ms: window,
  })
  return () => new CountsDetector(settings)
}

export interface DetectIo {
  /** Where row warnings go (default: process.stderr). */
  errors?: NodeJS.WritableStream
}

export interface DetectResult {
  /** Data rows read and written (unusable ones included). */
  rows: number
  /** Rows written with score 0 because they could not be used (each warned about once). */
  badLines: number
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
  return Number.isFinite(n) ? n : null
}

const unquote = (s: string) =>
  s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1).trim() : s

/** Score as written: up to 4 decimals, no trailing zeros beyond one ("0", "0.5", "0.1234"). */
const formatScore = (s: number) => String(Math.round(s * 10_000) / 10_000)

/**
 * Reads `timestamp,value` lines from `input` and writes `timestamp,value,anomaly_score`
 * to `output`: a header, then one row per data row, written once the input chunk
 * holding it has been read (the input is never buffered whole). The first line is
 * skipped as a header when neither field parses; blank lines are skipped.
 * Timestamps and values are echoed as given.
 *
 * A row the detector cannot use (wrong field count, bad timestamp or value, a
 * timestamp earlier than the previous row's, a value the model rejects) is written
 * with score 0, reported once on `errors` with its line number, and does not enter
 * the detector's history. Rejects only when `input` itself fails.
 */
export async function runDetect(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  opts: DetectOptions & DetectIo = {},
): Promise<DetectResult> {
  const { errors = process.stderr, ...options } = opts
  const detector = (await detectorFor(options))()
  const write = (text: string): Promise<void> | null => {
    if (output.write(text)) return null
    return new Promise((resolve) => output.once('drain', () => resolve()))
  }
  await write(`${DETECT_HEADER}\n`)

  let lineNo = 0
  let rows = 0
  let badLines = 0
  let seenContent = false
  let lastTime = Number.NEGATIVE_INFINITY
  let rest = ''

  const handle = (line: string, out: string[]) => {
    lineNo++
    const trimmed = line.endsWith('\r') ? line.slice(0, -1).trim() : line.trim()
    if (trimmed === '') return
    const comma = trimmed.indexOf(',')
    const rawTs = comma < 0 ? trimmed : trimmed.slice(0, comma).trim()
    const rawValue = comma < 0 ? '' : trimmed.slice(comma + 1).trim()
    const extra = rawValue.includes(',')
    const ts = parseTimestamp(unquote(rawTs))
    const value = extra ? null : parseValue(unquote(rawValue))
    const first = !seenContent
    seenContent = true
    if (first && comma >= 0 && !extra && ts === null && value === null) return // header

    rows++
    let problem: string | null = null
    let score = '0'
    if (comma < 0) problem = 'expected 2 fields (timestamp,value), found 1'
    else if (extra) problem = `expected 2 fields (timestamp,value), found ${rawValue.split(',').length + 1}`
    else if (ts === null)
      problem = `timestamp "${unquote(rawTs)}" is neither ISO 8601 nor epoch seconds/milliseconds`
    else if (value === null) problem = `value "${unquote(rawValue)}" is not a number`
    else if (ts < lastTime)
      problem = `timestamp ${new Date(ts).toISOString()} is earlier than the previous row's (${new Date(lastTime).toISOString()})`
    else {
      try {
        score = formatScore(detector.push(ts, value).score)
        lastTime = ts
      } catch (err) {
        if (!(err instanceof KeyshiftError)) throw err
        problem = err.message
      }
    }
    if (problem !== null) {
      badLines++
      errors.write(`keyshift detect: line ${lineNo}: ${problem}; row written with score 0\n`)
    }
    out.push(`${rawTs},${extra ? rawValue.slice(0, rawValue.indexOf(',')) : rawValue},${score}\n`)
  }

  const decoder = new StringDecoder('utf8')
  for await (const chunk of input) {
    const text = rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer))
    const out: string[] = []
    let start = 0
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      handle(text.slice(start, nl), out)
      start = nl + 1
    }
    rest = text.slice(start)
    if (out.length > 0) await write(out.join(''))
  }
  rest += decoder.end()
  if (rest !== '') {
    const out: string[] = []
    handle(rest, out)
    if (out.length > 0) await write(out.join(''))
  }
  return { rows, badLines }
}
