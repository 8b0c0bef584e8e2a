import { describe, expect, it } from 'vitest'
import { findingReads } from './finding-reads.ts'
import { DEFAULT_FINDING_SETTINGS, evaluateKeyFindings } from './findings.ts'
import { keyVersion } from './fixtures.ts'
import { DAY_MS, MINUTE_MS } from './types.ts'

const s = DEFAULT_FINDING_SETTINGS
const NOW = Date.UTC(2026, 11, 7, 12, 0, 0)

describe('findingReads: what a key’s findings need besides its failure minutes', () => {
  it.each([
    ['only active versions, no expiry', [keyVersion('v1'), keyVersion('v2')], false, false],
    ['no registered version', [], false, false],
    ['a deprecated version', [keyVersion('v1', { state: 'deprecated' }), keyVersion('v2')], false, true],
    ['a deactivated version', [keyVersion('v1', { state: 'deactivated' }), keyVersion('v2')], false, true],
    [
      'an active version expiring in exactly 7 days',
      [keyVersion('v1', { expiresAt: NOW + 7 * DAY_MS })],
      true,
      true,
    ],
    [
      'an active version expiring in 7 days and 1 ms',
      [keyVersion('v1', { expiresAt: NOW + 7 * DAY_MS + 1 })],
      false,
      false,
    ],
    ['a version that expired at now', [keyVersion('v1', { expiresAt: NOW })], false, false],
    [
      'a deactivated version expiring tomorrow (not accepted)',
      [keyVersion('v1', { state: 'deactivated', expiresAt: NOW + DAY_MS })],
      false,
      true,
    ],
  ])('%s → traffic %s, usage %s', (_, versions, traffic, usage) => {
    expect(findingReads(versions, NOW, s)).toEqual({ traffic, usage })
  })

  it('what it skips changes nothing: a key needing neither gets the same findings without those rows', () => {
    const versions = [keyVersion('v1'), keyVersion('v2')]
    expect(findingReads(versions, NOW, s)).toEqual({ traffic: false, usage: false })
    // gw-1 rejects every request on the newest version; gw-2 accepts it: new_version_failing.
    const row = (gateway: string, clientId: string, reason: string, failed: number) => ({
      minute: NOW - MINUTE_MS,
      keyId: 'acme',
      version: 'v2',
      gateway,
      clientId,
      reason,
      requests: 10,
      failures: failed,
    })
    const failures = [row('gw-1', 'c1', 'revoked', 10), row('gw-2', 'c2', 'none', 0)]
    const traffic = [{ minute: NOW - MINUTE_MS, keyId: 'acme', version: 'v1', requests: 50, failures: 0 }]
    const usage = [
      {
        keyId: 'acme',
        version: 'v1',
        clientId: 'c9',
        sourceAddress: '10.0.0.9',
        userAgent: 'x',
        gateway: 'gw-1',
        requests: 5,
        failures: 0,
        routes: [],
        firstSeen: NOW - DAY_MS,
        lastSeen: NOW - MINUTE_MS,
      },
    ]
    const base = { keyId: 'acme', now: NOW, versions, historyFrom: NOW - 7 * DAY_MS, failures }
    const full = evaluateKeyFindings(
      { ...base, traffic, recentUsage: usage, historyUsage: usage, keyHistoryFrom: NOW - 30 * DAY_MS },
      s,
    )
    const lean = evaluateKeyFindings(
      { ...base, traffic: [], recentUsage: [], historyUsage: [], keyHistoryFrom: null },
      s,
    )
    expect(lean).toEqual(full)
    expect(full.map((x) => x.id)).toEqual(['new_version_failing:acme:v2:gateway=gw-1'])
  })
})
