import { describe, expect, it } from 'vitest'
import { DEFAULT_FINDING_SETTINGS } from '../analysis/findings.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from '../analysis/types.ts'
import { type KeyVersion, newKeyVersion } from '../domain/key-version.ts'
import {
  changedKeys,
  type KeyTouch,
  newTouches,
  registryFingerprints,
  sweepCount,
  sweepSlice,
  timeDueKeys,
  touchMatters,
  versionsByKey,
  versionThresholds,
} from './round-plan.ts'

const s = DEFAULT_FINDING_SETTINGS
const NOW = Date.UTC(2026, 11, 7, 12, 0, 0)
const MAX = 32
const v = (keyId: string, version: string, state: KeyVersion['state'], extra: Partial<KeyVersion> = {}) => ({
  ...newKeyVersion(keyId, version, state),
  ...extra,
})
const touch = (keyId: string, versions: string[], failures = 0, id = `${keyId}-${versions}`): KeyTouch => ({
  at: NOW,
  keyId,
  failures,
  versions,
  id,
})

describe('touchMatters: which stored events can change a key’s findings', () => {
  const rotating = [v('k', 'v1', 'deprecated'), v('k', 'v2', 'active')]
  const settled = [v('k', 'v2', 'active')]
  it.each([
    ['a rejection, even on the newest version of a settled key', touch('k', ['v2'], 1), settled, true],
    ['successes on the newest active version of a settled key', touch('k', ['v2']), settled, false],
    ['successes on a deprecated version', touch('k', ['v1', 'v2']), rotating, true],
    ['successes on a version the registry does not know', touch('k', ['v3']), settled, true],
    ['successes on a key with no registered version', touch('k', ['v1']), [], false],
    ['a rejection on a key with no registered version', touch('k', ['v1'], 2), [], true],
    [
      'successes on a key whose every version is retired',
      touch('k', ['v1']),
      [v('k', 'v1', 'deprecated')],
      true,
    ],
    [
      'a touch listing the most versions a row holds (it may have had more)',
      touch(
        'k',
        Array.from({ length: MAX }, () => 'v2'),
      ),
      settled,
      true,
    ],
  ])('%s → %s', (_, t, versions, expected) => {
    expect(touchMatters(t, versions, NOW, s, MAX)).toBe(expected)
  })

  it('successes on the newest version count while another version expires within 7 days (trend, traffic)', () => {
    const expiring = [v('k', 'v1', 'active', { expiresAt: NOW + 7 * DAY_MS }), v('k', 'v2', 'active')]
    const later = [v('k', 'v1', 'active', { expiresAt: NOW + 7 * DAY_MS + 1 }), v('k', 'v2', 'active')]
    const expired = [v('k', 'v1', 'active', { expiresAt: NOW }), v('k', 'v2', 'active')]
    // v2 is the newest active version; v1 is active too but older, so its traffic counts anyway:
    expect(touchMatters(touch('k', ['v2']), expiring, NOW, s, MAX)).toBe(true)
    expect(touchMatters(touch('k', ['v2']), later, NOW, s, MAX)).toBe(false)
    expect(touchMatters(touch('k', ['v2']), expired, NOW, s, MAX)).toBe(false)
  })
})

describe('time-driven thresholds', () => {
  it('lists expiry thresholds (7 d, 3 d, 24 h before, at expiry) and the end of grace and failure window', () => {
    const exp = NOW + 10 * DAY_MS
    const deact = NOW - HOUR_MS
    expect(
      versionThresholds(v('k', 'v1', 'deactivated', { expiresAt: exp, deactivatedAt: deact }), s),
    ).toEqual([
      exp - 7 * DAY_MS,
      exp - 3 * DAY_MS,
      exp - DAY_MS,
      exp,
      deact + 5 * MINUTE_MS,
      deact + 15 * MINUTE_MS,
    ])
    expect(versionThresholds(v('k', 'v1', 'active'), s)).toEqual([])
  })

  it('a key is due when one of its thresholds falls in (from, to]', () => {
    const versions = [
      v('a', 'v1', 'active', { expiresAt: NOW + 3 * DAY_MS }), // 3-day threshold at NOW
      v('b', 'v1', 'active', { expiresAt: NOW + 3 * DAY_MS + 1 }), // at NOW + 1: not yet
      v('c', 'v1', 'deactivated', { deactivatedAt: NOW - 5 * MINUTE_MS - 1000 }), // grace ended at NOW - 1 s
      v('d', 'v1', 'active'),
    ]
    expect([...timeDueKeys(versions, NOW - MINUTE_MS, NOW, s)].sort()).toEqual(['a', 'c'])
    expect([...timeDueKeys(versions, NOW, NOW + 1, s)].sort()).toEqual(['b'])
    expect([...timeDueKeys(versions, NOW, NOW, s)]).toEqual([])
  })
})

describe('registry changes', () => {
  it('names keys added, changed and removed', () => {
    const before = registryFingerprints([
      v('a', 'v1', 'active'),
      v('b', 'v1', 'active'),
      v('c', 'v1', 'active'),
    ])
    const after = registryFingerprints([
      v('a', 'v1', 'active'),
      v('b', 'v1', 'deprecated'),
      v('b', 'v2', 'active'),
      v('d', 'v1', 'active'),
    ])
    expect([...changedKeys(before, after)].sort()).toEqual(['b', 'c', 'd'])
    expect([...changedKeys(after, after)]).toEqual([])
  })

  it('groups versions per key oldest first', () => {
    const byKey = versionsByKey([v('a', 'v2', 'active'), v('b', 'v1', 'active'), v('a', 'v1', 'deprecated')])
    expect([...byKey].map(([k, vs]) => [k, vs.map((x) => x.version)])).toEqual([
      ['a', ['v1', 'v2']],
      ['b', ['v1']],
    ])
  })
})

describe('the safety-net sweep', () => {
  it.each([
    // total, elapsed, period → count
    [10_000, 1_000, 600_000, 17], // ceil(10 000 × 1/600) = ceil(16.67)
    [10_000, 600_000, 600_000, 10_000],
    [10_000, 3_600_000, 600_000, 10_000], // never more than all
    [10, 1_000, 600_000, 1], // at least one
    [0, 1_000, 600_000, 0],
    [10, -5, 600_000, 1],
  ])('%i keys, %i ms since the last round, period %i ms → %i keys', (total, elapsed, period, expected) => {
    expect(sweepCount(total, elapsed, period)).toBe(expected)
  })

  it('walks the keys from the cursor, wrapping around', () => {
    const keys = ['a', 'b', 'c', 'd', 'e']
    expect(sweepSlice(keys, 0, 2)).toEqual({ keys: ['a', 'b'], cursor: 2 })
    expect(sweepSlice(keys, 4, 3)).toEqual({ keys: ['e', 'a', 'b'], cursor: 2 })
    expect(sweepSlice(keys, 7, 1)).toEqual({ keys: ['c'], cursor: 3 })
    expect(sweepSlice(keys, 1, 9)).toEqual({ keys: ['b', 'c', 'd', 'e', 'a'], cursor: 1 })
    expect(sweepSlice([], 3, 2)).toEqual({ keys: [], cursor: 0 })
  })
})

describe('newTouches', () => {
  it('skips touches already acted on and keeps the keys of those that matter', () => {
    const byKey = versionsByKey([v('a', 'v2', 'active'), v('b', 'v2', 'active')])
    const touches = [
      touch('a', ['v2'], 0, 't1'), // newest version, success: does not matter
      touch('b', ['v2'], 1, 't2'), // rejection: matters, but seen already
      touch('c', ['x'], 0, 't3'), // unregistered key, successes: does not matter
      touch('a', ['v1'], 0, 't4'), // unknown version: matters
    ]
    const { fresh, keys } = newTouches(touches, new Set(['t2']), (k) => byKey.get(k) ?? [], NOW, s, MAX)
    expect(fresh.map((t) => t.id)).toEqual(['t1', 't3', 't4'])
    expect([...keys]).toEqual(['a'])
  })
})
