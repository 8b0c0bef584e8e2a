// Event time parsing. Gateways log time as ISO 8601 (Envoy, Traefik, Tyk, NGINX
// $time_iso8601), Apache/NGINX common log format (AWS $context.requestTime, NGINX
// $time_local), or epoch numbers in s/ms/µs/ns, sometimes as strings.

import { DecodeError } from '../../domain/errors.ts'

export const TIME_FORMATS = ['auto', 'iso8601', 'epoch_s', 'epoch_ms', 'epoch_us', 'epoch_ns'] as const
export type TimeFormat = (typeof TIME_FORMATS)[number]

const MS_PER_UNIT: Record<Exclude<TimeFormat, 'auto' | 'iso8601'>, number> = {
  epoch_s: 1000,
  epoch_ms: 1,
  epoch_us: 1e-3,
  epoch_ns: 1e-6,
}

const ISO_RE =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s?(?:([Zz])|([+-])(\d{2}):?(\d{2})?)?$/
const CLF_RE =
  /^(\d{1,2})\/([A-Za-z]{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s+([+-])(\d{2}):?(\d{2})$/
const NUMERIC_RE = /^-?\d{1,20}(?:\.\d{1,12})?$/
const MONTHS: Record<string, number> = {
  jan: 0,
  feb: 1,
  mar: 2,
  apr: 3,
  may: 4,
  jun: 5,
  jul: 6,
  aug: 7,
  sep: 8,
  oct: 9,
  nov: 10,
  dec: 11,
}

function badTime(message: string): DecodeError {
  return new DecodeError('bad_time', message)
}

function civilToEpochMs(
  year: number,
  month0: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  fraction: string | undefined,
  offsetMinutes: number,
): number | undefined {
  if (month0 < 0 || month0 > 11 || day < 1 || hour > 23 || minute > 59 || second > 60) return undefined
  const daysInMonth = new Date(Date.UTC(year, month0 + 1, 0)).getUTCDate()
  if (day > daysInMonth) return undefined
  const ms = fraction === undefined ? 0 : Number(fraction.slice(0, 3).padEnd(3, '0'))
  return Date.UTC(year, month0, day, hour, minute, second, ms) - offsetMinutes * 60_000
}

function offset(
  sign: string | undefined,
  hh: string | undefined,
  mm: string | undefined,
): number | undefined {
  if (sign === undefined) return 0
  const h = Number(hh)
  const m = mm === undefined ? 0 : Number(mm)
  if (h > 23 || m > 59) return undefined
  return (sign === '-' ? -1 : 1) * (h * 60 + m)
}

/** ISO 8601 date-time (`T` or space, optional seconds and fraction); no offset means UTC. */
export function parseIso8601(s: string): number | undefined {
  const m = ISO_RE.exec(s)
  if (m === null) return undefined
  const off = m[8] !== undefined ? 0 : offset(m[9], m[10], m[11])
  if (off === undefined) return undefined
  return civilToEpochMs(
    Number(m[1]),
    Number(m[2]) - 1,
    Number(m[3]),
    Number(m[4]),
    Number(m[5]),
    m[6] === undefined ? 0 : Number(m[6]),
    m[7],
    off,
  )
}

/** Apache/NGINX common log format time: `10/Oct/2000:13:55:36 -0700`. */
export function parseClfTime(s: string): number | undefined {
  const m = CLF_RE.exec(s)
  if (m === null) return undefined
  const month0 = MONTHS[m[2]!.toLowerCase()]
  const off = offset(m[8], m[9], m[10])
  if (month0 === undefined || off === undefined) return undefined
  return civilToEpochMs(
    Number(m[3]),
    month0,
    Number(m[1]),
    Number(m[4]),
    Number(m[5]),
    Number(m[6]),
    m[7],
    off,
  )
}

/** Epoch milliseconds for an epoch number whose unit is guessed from its magnitude. */
function autoEpochMs(n: number): number {
  const a = Math.abs(n)
  // < 1e11: seconds (up to year 5138); < 1e14: ms; < 1e17: µs; else ns.
  const factor = a < 1e11 ? 1000 : a < 1e14 ? 1 : a < 1e17 ? 1e-3 : 1e-6
  return n * factor
}

// Truncate to the millisecond; the small epsilon absorbs binary rounding of decimal
// fractions (1700000000.123 * 1000 = 1700000000122.9998).
function toMs(x: number): number {
  return Math.floor(x + 1e-3)
}

/**
 * Parses an event time into epoch milliseconds (UTC, truncated to the ms).
 * Throws `DecodeError('bad_type')` for non-string non-number values and
 * `DecodeError('bad_time')` for values that do not parse in `format`. Error
 * messages never echo the value.
 */
export function parseEventTime(value: unknown, format: TimeFormat = 'auto'): number {
  if (typeof value !== 'string' && typeof value !== 'number') {
    throw new DecodeError('bad_type', `time must be a string or a number, got ${describeType(value)}`)
  }
  if (typeof value === 'number' && !Number.isFinite(value)) throw badTime('time is not a finite number')
  if (format === 'iso8601') {
    const ms = typeof value === 'string' ? parseIso8601(value.trim()) : undefined
    if (ms === undefined) throw badTime('time is not an ISO 8601 date-time (time_format iso8601)')
    return ms
  }
  let n: number | undefined
  if (typeof value === 'number') n = value
  else {
    const s = value.trim()
    if (NUMERIC_RE.test(s)) n = Number(s)
    else if (format === 'auto') {
      const ms = parseIso8601(s) ?? parseClfTime(s)
      if (ms === undefined) throw badTime('time is neither ISO 8601, common log format, nor an epoch number')
      return ms
    }
  }
  if (n === undefined) throw badTime(`time is not an epoch number (time_format ${format})`)
  return toMs(format === 'auto' ? autoEpochMs(n) : n * MS_PER_UNIT[format])
}

export function describeType(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'array'
  return typeof v
}
