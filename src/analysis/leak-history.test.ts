import { describe, expect, it } from 'vitest'
import { keyVersion } from './fixtures.ts'
import { leakHistories, leakHistory } from './leak-history.ts'
import { DAY_MS, HOUR_MS } from './types.ts'

const NOW = Date.UTC(2025, 0, 10, 12, 0) // 2025-01-10T12:00Z
const DEPRECATED = NOW - 2 * DAY_MS // 2025-01-08T12:00Z
const v1 = keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: DEPRECATED })
const WINDOW = NOW - 7 * DAY_MS // 2025-01-03T12:00Z

describe('leakHistory', () => {
  it.each([
    {
      name: 'history from 30 d ago, read from 7 d ago: 5 d before the deprecation',
      keyFrom: NOW - 30 * DAY_MS,
      want: {
        historyFrom: WINDOW,
        judged: true,
        reason:
          'new clients and addresses on v1 are judged against 5 d of stored history before v1 was deprecated at ' +
          '2025-01-08T12:00:00.000Z (from 2025-01-03T12:00:00.000Z (analysis.history_ms))',
      },
    },
    {
      name: 'installed 1 d ago, mid-rotation',
      keyFrom: NOW - DAY_MS,
      want: {
        historyFrom: NOW - DAY_MS,
        judged: false,
        reason:
          'the stored history of acme starts at 2025-01-09T12:00:00.000Z, after v1 was deprecated at ' +
          '2025-01-08T12:00:00.000Z: keyshift cannot tell who used v1 before, so possible_leak is not raised',
      },
    },
    {
      name: 'installed 6 h before the deprecation',
      keyFrom: DEPRECATED - 6 * HOUR_MS,
      want: {
        historyFrom: DEPRECATED - 6 * HOUR_MS,
        judged: false,
        reason:
          'only 6 h of history of acme is stored before v1 was deprecated at 2025-01-08T12:00:00.000Z ' +
          '(from 2025-01-08T06:00:00.000Z); possible_leak needs 24 h (possible_leak_min_history_ms), so it is not raised',
      },
    },
    {
      name: 'installed exactly 24 h before the deprecation',
      keyFrom: DEPRECATED - DAY_MS,
      want: { historyFrom: DEPRECATED - DAY_MS, judged: true },
    },
    {
      name: 'nothing stored for the key',
      keyFrom: null,
      want: {
        historyFrom: null,
        judged: false,
        reason: 'no event of acme is stored, so nobody is known to have used v1 before it was deprecated',
      },
    },
  ])('$name', ({ keyFrom, want }) => {
    expect(leakHistory('acme', v1, keyFrom, WINDOW, DAY_MS)).toMatchObject({
      version: 'v1',
      cutoff: DEPRECATED,
      cutoffEvent: 'deprecated',
      ...want,
    })
  })

  it('takes the earlier of deprecation and deactivation as the cutoff', () => {
    const v = keyVersion('v1', { state: 'deactivated', deactivatedAt: DEPRECATED })
    expect(leakHistory('acme', v, NOW - 30 * DAY_MS, WINDOW, DAY_MS)).toMatchObject({
      cutoff: DEPRECATED,
      cutoffEvent: 'deactivated',
      judged: true,
    })
  })

  it('judges a version whose whole life is stored, however short', () => {
    const v = keyVersion('v3', {
      createdAt: DEPRECATED - HOUR_MS,
      state: 'deprecated',
      deprecatedAt: DEPRECATED,
    })
    expect(leakHistory('acme', v, DEPRECATED - 2 * HOUR_MS, WINDOW, DAY_MS)?.judged).toBe(true)
    expect(leakHistory('acme', v, DEPRECATED - HOUR_MS / 2, WINDOW, DAY_MS)?.judged).toBe(false)
  })

  it('lists only retired versions of the key', () => {
    const versions = [
      v1,
      keyVersion('v2', { createdAt: 1, activatedAt: 1 }),
      { ...v1, keyId: 'other' },
      keyVersion('v0', { state: 'deactivated', deprecatedAt: null, deactivatedAt: null }),
    ]
    expect(leakHistories('acme', versions, NOW - DAY_MS, WINDOW, DAY_MS).map((h) => h.version)).toEqual([
      'v1',
    ])
  })
})
