// The one duration grammar keyshift reads everywhere: CLI flags (--lookback,
// --for), HTTP query parameters (?lookback=), silence bodies and the
// configuration's `*_ms` fields. One or more `<integer><unit>` parts, units
// ms, s, m, h, d, w: `500ms`, `90s`, `15m`, `1h30m`, `24h`, `7d`.
import { z } from 'zod'
import { ValidationError } from '../domain/errors.ts'

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
}

export const DURATION_HINT = 'write e.g. 500ms, 90s, 15m, 1h30m, 24h or 7d'

/** Milliseconds, or undefined when `text` is not in the grammar. */
export function tryParseDuration(text: string): number | undefined {
  const t = text.trim()
  const parts = [...t.matchAll(/(\d+)(ms|s|m|h|d|w)/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== t) return undefined
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * (UNIT_MS[p[2]!] ?? 0), 0)
  return Number.isSafeInteger(ms) ? ms : undefined
}

/** Milliseconds; throws ValidationError naming `what` (a flag, a field) and the grammar. */
export function parseDuration(text: string, what = 'duration'): number {
  const ms = tryParseDuration(text)
  if (ms === undefined) throw new ValidationError(`${what}: "${text}" is not a duration; ${DURATION_HINT}`)
  return ms
}

/** A zod string in the grammar, parsed to milliseconds. */
export const durationSchema = z
  .string()
  .max(64)
  .transform((s, ctx) => {
    const ms = tryParseDuration(s)
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${s}" is not a duration; ${DURATION_HINT}` })
      return z.NEVER
    }
    return ms
  })

/** A duration above 0 and at most `maxMs` (written back as e.g. `3650d` in the message). */
export function durationUpTo(maxMs: number) {
  return durationSchema.refine(
    (ms) => ms > 0 && ms <= maxMs,
    `must be more than 0 and at most ${formatDurationMs(maxMs)}`,
  )
}

/** Milliseconds as a human writes them back: `1h30m`, `7d`, `250ms`, `0s`. */
export function formatDurationMs(ms: number): string {
  if (ms === 0) return '0s'
  let rest = ms
  let out = ''
  for (const [unit, size] of [
    ['d', UNIT_MS.d!],
    ['h', UNIT_MS.h!],
    ['m', UNIT_MS.m!],
    ['s', UNIT_MS.s!],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size)
    if (n > 0) out += `${n}${unit}`
    rest -= n * size
  }
  return out
}
