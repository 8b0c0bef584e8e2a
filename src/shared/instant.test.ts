import { describe, expect, it } from 'vitest'
import { instantParamSchema, instantSchema, instantToMs, MAX_INSTANT_MS } from './instant.ts'

describe('instants at the edges', () => {
  it('ends at the store’s last instant, 2299-12-31T23:59:59.999Z', () => {
    expect(new Date(MAX_INSTANT_MS).toISOString()).toBe('2299-12-31T23:59:59.999Z')
  })

  it.each([
    [0, true],
    [MAX_INSTANT_MS, true],
    [MAX_INSTANT_MS + 1, false],
    [9_007_199_254_740_991, false],
    [1e300, false],
    [-1, false],
    [1.5, false],
    ['2299-12-31T23:59:59.999Z', true],
    ['2300-01-01T00:00:00Z', false],
    ['2300-01-01T00:30:00+01:00', true],
    ['9999-12-31T23:59:59Z', false],
    ['2026-11-28', false],
  ])('%j accepted: %s', (value, ok) => {
    expect(instantSchema.safeParse(value).success).toBe(ok)
  })

  it.each([
    ['1796642051524', 1_796_642_051_524],
    [String(MAX_INSTANT_MS), MAX_INSTANT_MS],
    ['2026-11-28T15:00:00+02:00', Date.UTC(2026, 10, 28, 13)],
  ])('reads the query value %s as %d ms', (text, ms) => {
    expect(instantToMs(instantParamSchema.parse(text))).toBe(ms)
  })

  it('refuses a query value past the store’s range, naming the limit', () => {
    const r = instantParamSchema.safeParse('99999999999999999999')
    expect(r.success).toBe(false)
    expect(JSON.stringify(r.error?.issues)).toContain('must be before 2300-01-01T00:00:00Z')
  })
})
