import { describe, expect, it } from 'vitest'
import {
  DEFAULT_FINDING_SETTINGS,
  deactivatedStillAccepted,
  evaluateKeyFindings,
  expiringWithTraffic,
  type Finding,
  failureSpikes,
  failuresAfterDeactivation,
  findingSettingsSchema,
  type KeyFindingsInput,
  migrationStalled,
  newVersionFailing,
  possibleLeak,
  unknownKeySurges,
} from './findings.ts'
import { failureRow, keyVersion, usage, versionMinute } from './fixtures.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from './types.ts'

const NOW = Date.UTC(2025, 0, 10, 12, 0)
const min = (n: number) => NOW - n * MINUTE_MS // n minutes ago
const S = DEFAULT_FINDING_SETTINGS

function input(over: Partial<KeyFindingsInput>): KeyFindingsInput {
  return {
    keyId: 'acme',
    now: NOW,
    versions: [],
    traffic: [],
    recentUsage: [],
    historyUsage: [],
    historyFrom: NOW - 30 * DAY_MS,
    keyHistoryFrom: NOW - 30 * DAY_MS,
    failures: [],
    ...over,
  }
}

const pick = (fs: Finding[]) => fs.map((f) => [f.id, f.severity])

describe('findingSettingsSchema', () => {
  it('has documented defaults and rejects unknown keys', () => {
    expect(S).toMatchObject({
      failure_window_ms: 900_000,
      rejection_reasons: ['revoked', 'unknown_key', 'expired', 'invalid_signature', 'other'],
      after_deactivation_min_failures: 3,
      deactivation_grace_ms: 300_000,
      still_accepted_min_successes: 1,
      new_version_min_failures: 5,
      new_version_failing_rate: 0.5,
      new_version_min_successes_elsewhere: 1,
      stall_expiry_within_ms: 7 * DAY_MS,
      trend_window_ms: DAY_MS,
      trend_bucket_ms: HOUR_MS,
      trend: { min_points: 6, min_r2: 0.5, min_requests_per_point: 1 },
      expiring_within_ms: 3 * DAY_MS,
      traffic_window_ms: DAY_MS,
      critical_within_ms: DAY_MS,
      max_listed: 20,
    })
    expect(S.unknown_key_spike.sensitivity).toBe('medium')
    expect(
      findingSettingsSchema.parse({ unknown_key_spike: { sensitivity: 'high' } }).unknown_key_spike.alpha,
    ).toBe(1e-3)
    expect(findingSettingsSchema.safeParse({ grace_ms: 1 }).success).toBe(false)
  })
})

describe('failures_after_deactivation', () => {
  const versions = [
    keyVersion('v1', { createdAt: 0, state: 'deactivated', deactivatedAt: min(10) }),
    keyVersion('v2', { createdAt: 1, activatedAt: 1 }),
  ]
  const historyUsage = [
    usage({ clientId: 'c1', requests: 100, firstSeen: NOW - 2 * DAY_MS, lastSeen: min(11) }),
    usage({ clientId: 'c2', requests: 5, failures: 5, firstSeen: NOW - DAY_MS, lastSeen: min(11) }), // never succeeded
  ]
  const rows = [
    failureRow({ minute: min(20), reason: 'revoked', requests: 50, failures: 50 }), // before: not counted
    failureRow({ minute: min(8), reason: 'revoked', requests: 4, failures: 4 }),
    failureRow({ minute: min(5), gateway: 'g2', reason: 'revoked', requests: 2, failures: 2 }),
    failureRow({ minute: min(5), clientId: 'c2', reason: 'revoked', requests: 10, failures: 10 }),
    failureRow({ minute: min(5), reason: 'rate_limited', requests: 9, failures: 9 }), // not a rejection
  ]

  it.each([
    {
      name: 'a previously successful client is rejected → rollback advised',
      failures: rows,
      want: [
        {
          id: 'failures_after_deactivation:acme:v1:*',
          severity: 'critical',
          labels: { gateway: 'g1,g2', client: 'c1' },
          evidence: {
            deactivatedAt: min(10),
            failures: 6,
            affectedClients: 1,
            clients: [{ clientId: 'c1', failures: 6, gateways: ['g1', 'g2'] }],
            gateways: ['g1', 'g2'],
            reasons: { revoked: 6 },
          },
          firstSeen: min(8),
          lastSeen: min(5),
        },
      ],
    },
    { name: 'fewer than 3 rejections', failures: rows.slice(2), want: [] },
  ])('$name', ({ failures, want }) => {
    const got = failuresAfterDeactivation(input({ versions, historyUsage, failures }), S)
    expect(got).toMatchObject(want)
  })
})

describe('new_version_failing', () => {
  const versions = [keyVersion('v1', { createdAt: 0 }), keyVersion('v2', { createdAt: 1, activatedAt: 1 })]
  const v2 = (o: Parameters<typeof failureRow>[0]) => failureRow({ version: 'v2', minute: min(3), ...o })
  it.each([
    {
      name: 'one gateway rejects, another accepts; one client rejected on the working gateway',
      failures: [
        v2({ gateway: 'g1', requests: 50 }),
        v2({ gateway: 'g1', clientId: 'c3', reason: 'invalid_signature', requests: 6, failures: 6 }),
        v2({ gateway: 'g2', reason: 'unknown_key', requests: 8, failures: 8 }),
        v2({ gateway: 'g2', clientId: 'c2', requests: 2 }),
        failureRow({
          version: 'v1',
          gateway: 'g2',
          reason: 'revoked',
          requests: 40,
          failures: 40,
          minute: min(3),
        }),
      ],
      want: [
        {
          id: 'new_version_failing:acme:v2:gateway=g2',
          severity: 'critical',
          evidence: {
            gateway: 'g2',
            requests: 10,
            rejections: 8,
            successes: 2,
            rejectionRate: 0.8,
            clients: ['c1'],
            workingGateways: ['g1'],
          },
        },
        {
          id: 'new_version_failing:acme:v2:client=c3',
          severity: 'warning',
          evidence: { clientId: 'c3', requests: 6, rejections: 6, gateways: ['g1'], workingClients: 1 },
        },
      ],
    },
    {
      name: 'rejected everywhere',
      failures: [
        v2({ gateway: 'g1', reason: 'unknown_key', requests: 5, failures: 5 }),
        v2({ gateway: 'g2', reason: 'unknown_key', requests: 7, failures: 7 }),
      ],
      want: [
        {
          id: 'new_version_failing:acme:v2:*',
          severity: 'critical',
          evidence: { requests: 12, rejections: 12, successes: 0, failingGateways: ['g1', 'g2'] },
        },
      ],
    },
    {
      name: 'four rejections are not enough',
      failures: [
        v2({ gateway: 'g1', requests: 50 }),
        v2({ gateway: 'g2', reason: 'unknown_key', requests: 4, failures: 4 }),
      ],
      want: [],
    },
    {
      name: 'rejections older than the failure window',
      failures: [
        v2({ gateway: 'g1', requests: 50 }),
        v2({ minute: min(16), gateway: 'g2', reason: 'unknown_key', requests: 9, failures: 9 }),
      ],
      want: [],
    },
  ])('$name', ({ failures, want }) => {
    const got = newVersionFailing(input({ versions, failures }), S)
    expect(got).toHaveLength(want.length)
    expect(got).toMatchObject(want)
  })
})

describe('deactivated_still_accepted', () => {
  const versions = [
    keyVersion('v1', { createdAt: 0, state: 'deactivated', deactivatedAt: min(12) }),
    keyVersion('v2', { createdAt: 1 }),
  ]
  it('names each gateway that accepted it after the 5 min grace period', () => {
    const failures = [
      failureRow({ minute: min(10), requests: 30 }), // within the grace period
      failureRow({ minute: min(6), requests: 3 }),
      failureRow({ minute: min(3), gateway: 'g2', clientId: 'c7', requests: 1 }),
      failureRow({ minute: min(3), gateway: 'g3', reason: 'revoked', requests: 4, failures: 4 }),
      failureRow({ minute: min(3), version: 'v2', gateway: 'g3', requests: 40 }),
    ]
    const got = deactivatedStillAccepted(input({ versions, failures }), S)
    expect(got).toMatchObject([
      {
        id: 'deactivated_still_accepted:acme:v1:gateway=g1',
        severity: 'critical',
        evidence: { gateway: 'g1', successes: 3, clients: ['c1'], graceMs: 300_000 },
        firstSeen: min(6),
        lastSeen: min(6),
      },
      { id: 'deactivated_still_accepted:acme:v1:gateway=g2', evidence: { successes: 1, clients: ['c7'] } },
    ])
    expect(got).toHaveLength(2)
  })
})

describe('possible_leak', () => {
  const history = [
    usage({ clientId: 'c1', firstSeen: NOW - 10 * DAY_MS, lastSeen: NOW - 3 * DAY_MS, requests: 500 }),
  ]
  const recent = [
    usage({ clientId: 'c1', firstSeen: min(50), lastSeen: min(1), requests: 20 }),
    usage({
      clientId: 'c1',
      sourceAddress: '203.0.113.7',
      userAgent: 'curl/8',
      firstSeen: min(30),
      lastSeen: min(20),
      requests: 4,
      failures: 1,
      routes: ['/admin'],
    }),
    usage({ clientId: 'c9', firstSeen: min(15), lastSeen: min(14), requests: 2, failures: 2 }),
  ]
  it.each([
    {
      name: 'deprecated version: new address and new client → warnings',
      version: keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: NOW - 2 * DAY_MS }),
      historyFrom: NOW - 30 * DAY_MS,
      want: [
        {
          id: 'possible_leak:acme:v1:address=203.0.113.7',
          severity: 'warning',
          evidence: {
            cutoff: NOW - 2 * DAY_MS,
            cutoffEvent: 'deprecated',
            requests: 4,
            successes: 3,
            failures: 1,
            sourceAddresses: ['203.0.113.7'],
            clients: ['c1'],
            userAgents: ['curl/8'],
            gateways: ['g1'],
            routes: ['/admin'],
          },
          firstSeen: min(30),
          lastSeen: min(20),
        },
        {
          id: 'possible_leak:acme:v1:client=c9',
          severity: 'warning',
          evidence: { requests: 2, successes: 0 },
        },
      ],
    },
    {
      name: 'deactivated version that still succeeded for a newcomer → critical',
      version: keyVersion('v1', {
        createdAt: 0,
        state: 'deactivated',
        deprecatedAt: NOW - 2 * DAY_MS,
        deactivatedAt: NOW - DAY_MS,
      }),
      historyFrom: NOW - 30 * DAY_MS,
      want: [
        { id: 'possible_leak:acme:v1:address=203.0.113.7', severity: 'critical' },
        { id: 'possible_leak:acme:v1:client=c9', severity: 'warning' },
      ],
    },
    {
      name: 'history does not reach back before the deprecation → nothing to compare with',
      version: keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: NOW - 2 * DAY_MS }),
      historyFrom: NOW - DAY_MS,
      want: [],
    },
    {
      name: 'active version → not checked',
      version: keyVersion('v1', { createdAt: 0 }),
      historyFrom: NOW - 30 * DAY_MS,
      want: [],
    },
    {
      // keyshift installed a day ago, v1 deprecated two days ago: the 30-day window
      // reaches back, the stored history does not — every straggler would look new.
      name: 'installed mid-rotation: key history starts after the deprecation → nothing',
      version: keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: NOW - 2 * DAY_MS }),
      historyFrom: NOW - 30 * DAY_MS,
      keyHistoryFrom: NOW - DAY_MS,
      want: [],
    },
    {
      name: 'key history starts 23 h before the deprecation (needs 24 h) → nothing',
      version: keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: NOW - 2 * DAY_MS }),
      historyFrom: NOW - 30 * DAY_MS,
      keyHistoryFrom: NOW - 2 * DAY_MS - 23 * HOUR_MS,
      want: [],
    },
    {
      name: 'key history starts exactly 24 h before the deprecation → judged',
      version: keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: NOW - 2 * DAY_MS }),
      historyFrom: NOW - 30 * DAY_MS,
      keyHistoryFrom: NOW - 3 * DAY_MS,
      want: [
        { id: 'possible_leak:acme:v1:address=203.0.113.7', evidence: { historyFrom: NOW - 3 * DAY_MS } },
        { id: 'possible_leak:acme:v1:client=c9' },
      ],
    },
    {
      name: 'stored for 30 d but the history read reaches 12 h before the deprecation → nothing',
      version: keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: NOW - 2 * DAY_MS }),
      historyFrom: NOW - 2 * DAY_MS - 12 * HOUR_MS,
      keyHistoryFrom: NOW - 30 * DAY_MS,
      want: [],
    },
    {
      // v1 lived 6 h and keyshift saw all of it: every use of v1 is stored.
      name: 'a short-lived version whose whole life is stored → judged',
      version: keyVersion('v1', {
        createdAt: NOW - 2 * DAY_MS - 6 * HOUR_MS,
        state: 'deprecated',
        deprecatedAt: NOW - 2 * DAY_MS,
      }),
      historyFrom: NOW - 30 * DAY_MS,
      keyHistoryFrom: NOW - 2 * DAY_MS - 7 * HOUR_MS,
      want: [{ id: 'possible_leak:acme:v1:address=203.0.113.7' }, { id: 'possible_leak:acme:v1:client=c9' }],
    },
    {
      name: 'nothing stored for the key → nothing',
      version: keyVersion('v1', { createdAt: 0, state: 'deprecated', deprecatedAt: NOW - 2 * DAY_MS }),
      historyFrom: NOW - 30 * DAY_MS,
      keyHistoryFrom: null,
      want: [],
    },
  ])('$name', ({ version, historyFrom, keyHistoryFrom, want }) => {
    const got = possibleLeak(
      input({
        versions: [version],
        historyUsage: history,
        recentUsage: recent,
        historyFrom,
        keyHistoryFrom: keyHistoryFrom === undefined ? NOW - 30 * DAY_MS : keyHistoryFrom,
      }),
      S,
    )
    expect(got).toHaveLength(want.length)
    expect(got).toMatchObject(want)
  })
})

describe('migration_stalled', () => {
  /** 24 hourly minutes-rows ending now: v1 gets `v1(i)` of 100 requests in hour i. */
  const traffic = (v1: (i: number) => number) =>
    Array.from({ length: 24 }, (_, i) => [
      versionMinute(NOW - DAY_MS + i * HOUR_MS, 'v1', v1(i)),
      versionMinute(NOW - DAY_MS + i * HOUR_MS, 'v2', 100 - v1(i)),
    ]).flat()
  const versions = (expiresAt: number) => [
    keyVersion('v1', { createdAt: 0, state: 'deprecated', expiresAt }),
    keyVersion('v2', { createdAt: 1, activatedAt: 1 }),
  ]
  it.each([
    {
      name: 'flat share, expiry in 5 days',
      rows: traffic(() => 50),
      expiresAt: NOW + 5 * DAY_MS,
      want: [['migration_stalled:acme:v1:*', 'warning']],
      reason: 'not_decreasing',
    },
    {
      name: 'flat share, expiry in 12 h → critical',
      rows: traffic(() => 50),
      expiresAt: NOW + 12 * HOUR_MS,
      want: [['migration_stalled:acme:v1:*', 'critical']],
      reason: 'not_decreasing',
    },
    // 50 → 27 by 1/h: last point 23.5 h into the window with 0.27, slope -0.01/h → zero 27 h after it, past a 2-day expiry? no: 27 h < 48 h
    {
      name: 'falling 1 point/h, zero before expiry',
      rows: traffic((i) => 50 - i),
      expiresAt: NOW + 2 * DAY_MS,
      want: [],
      reason: null,
    },
    // falling 0.5 point/h from 50: 38.5% at the last point → 77 h more, after a 2-day expiry
    {
      name: 'falling too slowly for a 2-day expiry',
      rows: traffic((i) => 50 - i / 2),
      expiresAt: NOW + 2 * DAY_MS,
      want: [['migration_stalled:acme:v1:*', 'warning']],
      reason: null,
    },
    {
      name: 'expiry beyond 7 days',
      rows: traffic(() => 50),
      expiresAt: NOW + 8 * DAY_MS,
      want: [],
      reason: null,
    },
    {
      name: 'no traffic on the old version',
      rows: traffic(() => 0),
      expiresAt: NOW + 5 * DAY_MS,
      want: [],
      reason: null,
    },
  ])('$name', ({ rows, expiresAt, want, reason }) => {
    const got = migrationStalled(input({ versions: versions(expiresAt), traffic: rows }), S)
    expect(pick(got)).toEqual(want)
    if (reason !== null) expect(got[0]!.evidence.trend).toMatchObject({ kind: 'none', reason })
  })

  it('reports the estimate when it lands after the expiry', () => {
    const got = migrationStalled(
      input({ versions: versions(NOW + 2 * DAY_MS), traffic: traffic((i) => 50 - i / 2) }),
      S,
    )
    const trend = got[0]!.evidence.trend as { kind: string; etaMs: number; slopePerHour: number }
    expect(trend.kind).toBe('estimate')
    // last midpoint NOW - 30 min with share 0.385; 0.385 / 0.005 per hour = 77 h
    expect(trend.etaMs).toBe(NOW - 30 * MINUTE_MS + 77 * HOUR_MS)
    expect(trend.slopePerHour).toBeCloseTo(-0.005, 12)
    expect(got[0]!.evidence).toMatchObject({ requests: 1062, share: 1062 / 2400 })
  })
})

describe('expiring_with_traffic', () => {
  it.each([
    {
      name: 'expires in 12 h with traffic → critical',
      expiresAt: NOW + 12 * HOUR_MS,
      requests: 10,
      want: [['expiring_with_traffic:acme:v1:*', 'critical']],
    },
    {
      name: 'expires in 2 days with traffic → warning',
      expiresAt: NOW + 2 * DAY_MS,
      requests: 10,
      want: [['expiring_with_traffic:acme:v1:*', 'warning']],
    },
    { name: 'expires in 2 days, no traffic', expiresAt: NOW + 2 * DAY_MS, requests: 0, want: [] },
    { name: 'expires in 4 days', expiresAt: NOW + 4 * DAY_MS, requests: 10, want: [] },
    { name: 'already expired', expiresAt: NOW - 1, requests: 10, want: [] },
  ])('$name', ({ expiresAt, requests, want }) => {
    const got = expiringWithTraffic(
      input({
        versions: [keyVersion('v1', { createdAt: 0, expiresAt })],
        traffic: [versionMinute(NOW - 2 * HOUR_MS, 'v1', requests)],
        recentUsage: [usage({ requests })],
      }),
      S,
    )
    expect(pick(got)).toEqual(want)
    if (want.length > 0) {
      expect(got[0]).toMatchObject({
        evidence: { expiresAt, requests, share: 1, clients: [{ clientId: 'c1', requests }] },
        firstSeen: NOW - 2 * HOUR_MS,
        lastSeen: NOW - 2 * HOUR_MS,
      })
    }
  })
})

describe('evaluateKeyFindings', () => {
  it('runs every detector and sorts critical first, then by id', () => {
    const got = evaluateKeyFindings(
      input({
        versions: [
          keyVersion('v1', { createdAt: 0, state: 'deactivated', deactivatedAt: min(30) }),
          keyVersion('v2', { createdAt: 1, activatedAt: 1, expiresAt: NOW + 2 * DAY_MS }),
        ],
        traffic: [versionMinute(min(60), 'v2', 100)],
        failures: [failureRow({ minute: min(2), gateway: 'g9', requests: 2 })],
      }),
    )
    expect(pick(got)).toEqual([
      ['deactivated_still_accepted:acme:v1:gateway=g9', 'critical'],
      ['expiring_with_traffic:acme:v2:*', 'warning'],
    ])
  })
})

describe('unknown_key_surge', () => {
  const now = NOW
  // 2 hours of one unknown-key failure per 10 min, then 30 per minute in the last two minutes.
  const quiet = Array.from({ length: 12 }, (_, i) =>
    failureRow({
      minute: now - 125 * MINUTE_MS + i * 10 * MINUTE_MS,
      keyId: 'unknown',
      version: 'unknown',
      reason: 'unknown_key',
      requests: 1,
      failures: 1,
    }),
  )
  const burst = [2, 1].map((m) =>
    failureRow({
      minute: min(m),
      keyId: 'unknown',
      version: 'unknown',
      reason: 'unknown_key',
      requests: 30,
      failures: 30,
    }),
  )
  const usageRows = [
    usage({
      keyId: 'unknown',
      version: 'unknown',
      sourceAddress: '198.51.100.1',
      failures: 50,
      requests: 50,
      routes: ['/login'],
    }),
    usage({
      keyId: 'unknown',
      version: 'unknown',
      sourceAddress: '198.51.100.2',
      gateway: 'g2',
      failures: 10,
      requests: 10,
      routes: ['/login', '/pay'],
    }),
    usage({ keyId: 'acme', version: 'v1', sourceAddress: '10.9.9.9', failures: 99, requests: 99 }),
  ]

  it('flags the surge and names addresses, routes and gateways', () => {
    const got = unknownKeySurges({ now, failures: [...quiet, ...burst], usage: usageRows })
    expect(got).toHaveLength(1)
    // Baseline at the last minute: 24 five-minute blocks over the 2 h before the window,
    // 12 holding one failure → median 0.5, capped mean 0.5 per window; observed 60.
    expect(got[0]).toMatchObject({
      id: 'unknown_key_surge:unknown::*',
      severity: 'warning',
      keyId: 'unknown',
      version: '',
      labels: { gateway: 'g1,g2', route: '/login,/pay' },
      evidence: {
        observed: 60,
        expected: 0.5,
        method: 'recent',
        score: 1,
        windowMs: 300_000,
        spikeMinutes: 2,
        sourceAddresses: [
          { address: '198.51.100.1', failures: 50 },
          { address: '198.51.100.2', failures: 10 },
        ],
        routes: [
          { route: '/login', failures: 60 },
          { route: '/pay', failures: 10 },
        ],
        gateways: ['g1', 'g2'],
      },
      firstSeen: min(2),
      lastSeen: min(1),
    })
  })

  it.each([
    { name: 'quiet traffic only', failures: quiet },
    {
      name: 'a surge that ended more than 5 min ago',
      failures: [...quiet, ...burst],
      now: now + 6 * MINUTE_MS,
    },
    {
      name: 'failures of a registered version are not unknown-key failures',
      failures: burst.map((r) => ({ ...r, keyId: 'acme', version: 'v1' })),
    },
  ])('nothing for $name', ({ failures, now: at }) => {
    expect(unknownKeySurges({ now: at ?? now, failures, usage: usageRows })).toEqual([])
  })
})

describe('failure_spike', () => {
  // v2 at g1: 100 successful requests a minute for 70 minutes, one invalid
  // signature every 10 minutes; then 40 a minute from c7 and c8 for 3 minutes.
  const history = Array.from({ length: 67 }, (_, k) => 70 - k).flatMap((n) => [
    failureRow({ minute: min(n), version: 'v2', requests: 100 }),
    ...(n % 10 === 0
      ? [failureRow({ minute: min(n), version: 'v2', reason: 'invalid_signature', requests: 1, failures: 1 })]
      : []),
  ])
  const burst = (version: string, minutes = [3, 2, 1]) =>
    minutes.flatMap((n) => [
      failureRow({ minute: min(n), version, requests: 100 }),
      failureRow({
        minute: min(n),
        version,
        clientId: 'c7',
        reason: 'invalid_signature',
        requests: 30,
        failures: 30,
      }),
      failureRow({
        minute: min(n),
        version,
        clientId: 'c8',
        reason: 'invalid_signature',
        requests: 10,
        failures: 10,
      }),
    ])
  const versions = [keyVersion('v1', { state: 'deprecated' }), keyVersion('v2')]

  it('flags a burst above the recent baseline, per version and gateway, naming reasons and clients', () => {
    const got = failureSpikes(input({ versions, failures: [...history, ...burst('v2')] }), S)
    expect(got.map((f) => [f.id, f.severity, f.labels, f.firstSeen, f.lastSeen])).toEqual([
      ['failure_spike:acme:v2:gateway=g1', 'warning', { gateway: 'g1', client: 'c7,c8' }, min(3), min(1)],
    ])
    const e = got[0]!.evidence
    expect(e).toMatchObject({
      observed: 120,
      method: 'recent',
      windowMs: 300_000,
      failureRate: 120 / 620, // 2 quiet minutes of 100 requests, 3 of 140
      reasons: [{ reason: 'invalid_signature', observed: 120, score: e.score }],
      clients: [
        { clientId: 'c7', failures: 90 },
        { clientId: 'c8', failures: 30 },
      ],
    })
    expect(e.expected as number).toBeCloseTo(0.5, 1)
    expect(e.score as number).toBeGreaterThanOrEqual(0.5)
    expect(got[0]!.summary).toMatch(
      /^120 invalid_signature failure\(s\) in 5 min at g1 against an expected 0\.\d \(recent baseline\)/,
    )
    // The same detector runs with the others: c7 and c8 also fail the newest version c1 succeeds with.
    expect(pick(evaluateKeyFindings(input({ versions, failures: [...history, ...burst('v2')] })))).toEqual([
      ['failure_spike:acme:v2:gateway=g1', 'warning'],
      ['new_version_failing:acme:v2:client=c7', 'warning'],
      ['new_version_failing:acme:v2:client=c8', 'warning'],
    ])
  })

  it('uses the cold-start minimums without an hour of history', () => {
    const got = failureSpikes(input({ versions, failures: burst('v2') }), S)
    expect(got.map((f) => f.id)).toEqual(['failure_spike:acme:v2:gateway=g1'])
    expect(got[0]!.evidence).toMatchObject({ observed: 120, expected: null, method: 'cold_start' })
    expect(got[0]!.summary).toContain('against no usable history yet')
  })

  it('stays quiet on the baseline, on a burst that ended, on deactivated and unknown versions', () => {
    expect(failureSpikes(input({ versions, failures: history }), S)).toEqual([])
    // Ended 7 minutes ago: older than the 5-minute spike window.
    expect(failureSpikes(input({ versions, failures: [...history, ...burst('v2', [9, 8, 7])] }), S)).toEqual(
      [],
    )
    const retired = [keyVersion('v1', { state: 'deactivated', deactivatedAt: min(60) }), keyVersion('v2')]
    expect(failureSpikes(input({ versions: retired, failures: burst('v1') }), S)).toEqual([])
    expect(failureSpikes(input({ versions, failures: burst('unknown') }), S)).toEqual([])
  })
})
