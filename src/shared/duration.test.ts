import { describe, expect, it } from 'vitest'
import { durationSchema, formatDurationMs, parseDuration, tryParseDuration } from './duration.ts'

describe('the duration grammar', () => {
  it.each([
    ['500ms', 500],
    ['90s', 90_000],
    ['15m', 900_000],
    ['1h30m', 5_400_000],
    ['24h', 86_400_000],
    ['7d', 604_800_000],
    ['2w', 1_209_600_000],
    [' 30s ', 30_000],
  ])('reads %s as %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms)
  })

  it.each(['', '15', 'm', '1.5h', '-5m', '15 m', '15min', '1h 30m', 'h1', '99999999999999999d'])(
    'refuses %j, naming what was wrong and the fix',
    (text) => {
      expect(tryParseDuration(text)).toBeUndefined()
      expect(() => parseDuration(text, '--lookback')).toThrow(
        `--lookback: "${text}" is not a duration; write e.g. 500ms, 90s, 15m, 1h30m, 24h or 7d`,
      )
    },
  )

  it('is a zod schema that yields milliseconds or an issue', () => {
    expect(durationSchema.parse('2h')).toBe(7_200_000)
    const r = durationSchema.safeParse('soon')
    expect(r.success).toBe(false)
    expect(r.error?.issues[0]?.message).toBe(
      '"soon" is not a duration; write e.g. 500ms, 90s, 15m, 1h30m, 24h or 7d',
    )
  })

  it.each([
    [0, '0s'],
    [250, '250ms'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [604_800_000, '7d'],
    [90_061_001, '1d1h1m1s1ms'],
  ])('writes %i ms back as %s, which reads back the same', (ms, text) => {
    expect(formatDurationMs(ms)).toBe(text)
    expect(parseDuration(text)).toBe(ms)
  })
})
