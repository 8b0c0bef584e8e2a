import { describe, expect, it } from 'vitest'
import { foldIncidents, type Incident, type IncidentEvent, type KnownUser } from '../domain/incident.ts'
import { type KeyVersion, newKeyVersion } from '../domain/key-version.ts'
import { analyseIncident, DEFAULT_INCIDENT_SETTINGS, type IncidentUsage } from './incident.ts'

const MIN = 60_000
const OPEN = Date.UTC(2026, 11, 7, 10, 0, 0)
const NOW = OPEN + 30 * MIN

function ev(over: Partial<IncidentEvent> & Pick<IncidentEvent, 'action' | 'time'>): IncidentEvent {
  return {
    eventId: `${over.action}:${over.time}`,
    incidentId: 'inc_1',
    keyId: 'acme',
    version: 'v1',
    actor: 'sec',
    note: '',
    detail: {},
    origin: 'test',
    ...over,
  }
}

function incident(extra: IncidentEvent[] = [], snapshotUsers = 3): Incident {
  const events = [
    ev({ action: 'open', time: OPEN, reason: 'leaked', note: 'in a gist' }),
    ev({
      action: 'snapshot',
      time: OPEN + 1,
      detail: { snapshotId: 's1', from: OPEN - 7 * 86_400_000, to: OPEN, users: snapshotUsers },
    }),
    ...extra,
  ]
  return foldIncidents(events).get('inc_1')!
}

const user = (clientId: string, sourceAddress: string, gateway = 'gw-a'): KnownUser => ({
  clientId,
  sourceAddress,
  userAgent: `${clientId}/1`,
  gateway,
  requests: 10,
  firstSeen: OPEN - 60 * MIN,
  lastSeen: OPEN - MIN,
})

const use = (
  over: Partial<IncidentUsage> & Pick<IncidentUsage, 'version' | 'clientId' | 'sourceAddress'>,
): IncidentUsage => ({
  userAgent: `${over.clientId}/1`,
  gateway: 'gw-a',
  requests: 1,
  accepted: 1,
  firstSeen: OPEN + MIN,
  lastSeen: OPEN + MIN,
  recentRequests: 0,
  acceptedAfterDeactivation: 0,
  rejectedAfterDeactivation: 0,
  routes: ['/r'],
  reasons: ['none'],
  ...over,
})

const v1 = (state: KeyVersion['state'] = 'active', deactivatedAt: number | null = null): KeyVersion => ({
  ...newKeyVersion('acme', 'v1', state),
  createdAt: OPEN - 100 * 86_400_000,
  activatedAt: OPEN - 100 * 86_400_000,
  deactivatedAt,
  scopes: ['ledger:read'],
})
const v2: KeyVersion = {
  ...newKeyVersion('acme', 'v2', 'active'),
  createdAt: OPEN + MIN,
  activatedAt: OPEN + MIN,
}

const known = [
  user('web', '10.0.0.1'),
  user('web', '10.0.0.1', 'gw-b'),
  user('batch', '10.0.0.2'),
  user('cron', '10.0.0.3'),
]

describe('analyseIncident: known users', () => {
  // web: last v1 use at +5 min, v2 since +6 min → moved (last v1 25 min ago ≥ settle 1 min), movedAt +5 min.
  // batch: v1 at +29.5 min, v2 at +20 min → on_version (its last v1 use is newer than its last v2 use).
  // cron: nothing since opening → silent.
  const usage = [
    use({ version: 'v1', clientId: 'web', sourceAddress: '10.0.0.1', lastSeen: OPEN + 5 * MIN, requests: 7 }),
    use({
      version: 'v2',
      clientId: 'web',
      sourceAddress: '10.0.0.1',
      gateway: 'gw-b',
      firstSeen: OPEN + 6 * MIN,
      lastSeen: NOW - MIN,
    }),
    use({
      version: 'v1',
      clientId: 'batch',
      sourceAddress: '10.0.0.2',
      lastSeen: NOW - 30_000,
      requests: 3,
      recentRequests: 3,
    }),
    use({
      version: 'v2',
      clientId: 'batch',
      sourceAddress: '10.0.0.2',
      firstSeen: OPEN + 20 * MIN,
      lastSeen: OPEN + 20 * MIN,
      recentRequests: 1,
    }),
  ]
  const view = analyseIncident({
    incident: incident(),
    knownUsers: known,
    usage,
    versions: [v1(), v2],
    shareFrom: NOW - 5 * MIN,
    ingestLagMs: 1_000,
    now: NOW,
  })

  it('merges a user seen on two gateways and states each user', () => {
    expect(view.knownUsers.map((u) => [u.clientId, u.state, u.gateways, u.movedAt, u.requestsSince])).toEqual(
      [
        ['batch', 'on_version', ['gw-a'], null, 3],
        ['cron', 'silent', ['gw-a'], null, 0],
        ['web', 'moved', ['gw-a', 'gw-b'], OPEN + 5 * MIN, 7],
      ],
    )
    expect([view.knownUsersMoved, view.knownUsersOnVersion]).toEqual([1, 2])
  })

  it('computes the share of the key traffic in the window: 3 of 4 recent requests', () => {
    expect(view.share).toEqual({ from: NOW - 5 * MIN, to: NOW, requests: 3, totalRequests: 4, share: 0.75 })
  })

  it('is not ready while known users are left, and names them', () => {
    expect(view.readiness.verdict).toBe('not_ready')
    expect(view.readiness.rules.find((r) => r.id === 'known_users_moved')).toMatchObject({
      outcome: 'fail',
      detail: '2 known user(s) still to move: batch@10.0.0.2 (on_version), cron@10.0.0.3 (silent)',
    })
  })

  it('passes once the breakage of the users left is accepted, and only for them', () => {
    const accepted = incident([
      ev({
        action: 'accept_breakage',
        time: NOW - MIN,
        actor: 'ciso',
        note: 'cron is retired',
        detail: { users: ['batch|10.0.0.2|batch/1', 'cron|10.0.0.3|cron/1'] },
      }),
    ])
    const v = analyseIncident({
      incident: accepted,
      knownUsers: known,
      usage,
      versions: [v1(), v2],
      shareFrom: NOW - 5 * MIN,
      ingestLagMs: 0,
      now: NOW,
    })
    expect(v.readiness.verdict).toBe('ready')
    const partly = incident([
      ev({
        action: 'accept_breakage',
        time: NOW - MIN,
        actor: 'ciso',
        note: 'x',
        detail: { users: ['cron|10.0.0.3|cron/1'] },
      }),
    ])
    const p = analyseIncident({
      incident: partly,
      knownUsers: known,
      usage,
      versions: [v1(), v2],
      shareFrom: NOW - 5 * MIN,
      ingestLagMs: 0,
      now: NOW,
    })
    expect(p.readiness.verdict).toBe('not_ready')
  })

  it('does not count a user as moved within settle_ms of its last leaked use', () => {
    const fresh = [
      use({ version: 'v1', clientId: 'cron', sourceAddress: '10.0.0.3', lastSeen: NOW - 30_000 }),
      use({
        version: 'v2',
        clientId: 'cron',
        sourceAddress: '10.0.0.3',
        firstSeen: NOW - 20_000,
        lastSeen: NOW - 10_000,
      }),
    ]
    const v = analyseIncident({
      incident: incident(),
      knownUsers: known,
      usage: fresh,
      versions: [v1(), v2],
      shareFrom: NOW,
      ingestLagMs: 0,
      now: NOW,
    })
    expect(v.knownUsers.find((u) => u.clientId === 'cron')!.state).toBe('on_version')
    const later = analyseIncident({
      incident: incident(),
      knownUsers: known,
      usage: fresh,
      versions: [v1(), v2],
      shareFrom: NOW,
      ingestLagMs: 0,
      now: NOW + 31_000,
    })
    expect(later.knownUsers.find((u) => u.clientId === 'cron')!.state).toBe('moved')
  })
})

describe('analyseIncident: unknown sources and deactivation', () => {
  const D = OPEN + 15 * MIN
  const usage = [
    use({
      version: 'v1',
      clientId: 'web',
      sourceAddress: '203.0.113.9',
      userAgent: 'curl/8',
      gateway: 'gw-c',
      requests: 5,
      accepted: 4,
      firstSeen: OPEN + 10 * MIN,
      lastSeen: NOW - 2 * MIN,
      routes: ['/export'],
      reasons: ['none', 'revoked'],
      acceptedAfterDeactivation: 2,
      rejectedAfterDeactivation: 1,
    }),
    use({
      version: 'v1',
      clientId: 'web',
      sourceAddress: '203.0.113.9',
      userAgent: 'python/3',
      gateway: 'gw-a',
      requests: 2,
      accepted: 0,
      firstSeen: OPEN + 12 * MIN,
      lastSeen: OPEN + 16 * MIN,
      routes: ['/accounts'],
      reasons: ['revoked'],
      rejectedAfterDeactivation: 2,
    }),
    use({
      version: 'v1',
      clientId: 'batch',
      sourceAddress: '10.0.0.2',
      requests: 4,
      accepted: 0,
      firstSeen: D + MIN,
      lastSeen: D + 2 * MIN,
      reasons: ['revoked'],
      rejectedAfterDeactivation: 4,
    }),
    use({ version: 'v1', clientId: 'other', sourceAddress: '10.0.0.1', requests: 6 }),
  ]
  const view = analyseIncident({
    incident: incident(),
    knownUsers: known,
    usage,
    versions: [v1('deactivated', D), v2],
    shareFrom: NOW - 5 * MIN,
    ingestLagMs: 0,
    now: NOW,
  })

  it('groups uses from outside the snapshot per source address', () => {
    expect(view.unknownSources).toEqual([
      {
        sourceAddress: '203.0.113.9',
        userAgents: ['curl/8', 'python/3'],
        gateways: ['gw-a', 'gw-c'],
        clients: ['web'],
        routes: ['/accounts', '/export'],
        reasons: ['revoked'],
        requests: 7,
        accepted: 4,
        rejected: 3,
        acceptedAfterDeactivation: 2,
        firstSeen: OPEN + 10 * MIN,
        lastSeen: NOW - 2 * MIN,
      },
    ])
    // A known address with a (client, user agent) not in the snapshot is listed, not paged.
    expect(view.unmatchedFromKnownSources).toEqual([
      { clientId: 'other', sourceAddress: '10.0.0.1', userAgent: 'other/1', requests: 6 },
    ])
  })

  it('lists the gateways still accepting after deactivation and the known users who break', () => {
    expect(view.afterDeactivation).toEqual({
      acceptedByGateway: [{ gateway: 'gw-c', requests: 2, sources: ['203.0.113.9'] }],
      breaking: [{ id: 'batch|10.0.0.2|batch/1', clientId: 'batch', sourceAddress: '10.0.0.2', rejected: 4 }],
    })
    expect(view.routesReached).toEqual(['/export', '/r'])
  })

  it('takes each checklist step from the data', () => {
    expect(view.checklist.map((c) => [c.id, c.state])).toEqual([
      // gw-a and gw-b carried v1; nobody used v2 since opening.
      ['new_version_active_everywhere', 'pending'],
      ['known_users_moved', 'pending'],
      ['old_version_deactivated', 'done'],
      ['no_accepted_use_after_deactivation', 'failed'],
      // Last unknown use 2 min ago, inside the 15-minute quiet window.
      ['no_unknown_source_recently', 'failed'],
    ])
  })
})

describe('incident readiness', () => {
  it('is unknown, saying so, while the snapshot is empty', () => {
    const v = analyseIncident({
      incident: incident([], 0),
      knownUsers: [],
      usage: [],
      versions: [v1(), v2],
      shareFrom: NOW,
      ingestLagMs: 0,
      now: NOW,
    })
    expect(v.readiness.verdict).toBe('unknown')
    expect(v.readiness.rules[0]).toEqual({
      id: 'snapshot_has_users',
      outcome: 'unknown',
      detail: 'no use of v1 is stored in the 7 d before the incident, so nothing shows who would break',
      numbers: { knownUsers: 0 },
    })
  })

  it('needs no overlap: ready minutes after v2 appeared, once everyone moved', () => {
    const moved = [
      use({ version: 'v1', clientId: 'web', sourceAddress: '10.0.0.1', lastSeen: OPEN + 2 * MIN }),
      use({
        version: 'v2',
        clientId: 'web',
        sourceAddress: '10.0.0.1',
        firstSeen: OPEN + 3 * MIN,
        lastSeen: OPEN + 4 * MIN,
      }),
    ]
    const v = analyseIncident({
      incident: incident(),
      knownUsers: [user('web', '10.0.0.1')],
      usage: moved,
      versions: [v1(), v2],
      shareFrom: OPEN,
      ingestLagMs: 2_000,
      now: OPEN + 5 * MIN,
    })
    expect(v.readiness.verdict).toBe('ready')
    expect(v.readiness.rules.map((r) => r.outcome)).toEqual(['pass', 'pass', 'pass', 'pass'])
  })

  it('is unknown when the data is stale, not ready without a newer active version', () => {
    const stale = analyseIncident({
      incident: incident(),
      knownUsers: [user('web', '10.0.0.1')],
      usage: [],
      versions: [v1(), v2],
      shareFrom: NOW,
      ingestLagMs: 6 * MIN,
      now: NOW,
    })
    expect(stale.readiness.verdict).toBe('unknown')
    const noV2 = analyseIncident({
      incident: incident(),
      knownUsers: [user('web', '10.0.0.1')],
      usage: [],
      versions: [v1()],
      shareFrom: NOW,
      ingestLagMs: 0,
      now: NOW,
    })
    expect(noV2.readiness.rules.find((r) => r.id === 'newer_version_active')!.outcome).toBe('fail')
    expect(noV2.readiness.verdict).toBe('not_ready')
  })
})

describe('foldIncidents', () => {
  it('keeps the first open and close, the last acceptance, and ignores duplicates and orphans', () => {
    const inc = foldIncidents([
      ev({ action: 'close', time: OPEN + 10 * MIN, actor: 'b', note: 'done' }),
      ev({ action: 'open', time: OPEN, reason: 'suspected', note: 'n' }),
      ev({ action: 'open', time: OPEN, reason: 'suspected', note: 'n' }),
      ev({ action: 'close', time: OPEN + 20 * MIN, actor: 'c' }),
      ev({
        action: 'accept_breakage',
        time: OPEN + 2 * MIN,
        actor: 'x',
        note: 'first',
        detail: { users: ['a'] },
      }),
      ev({
        action: 'accept_breakage',
        time: OPEN + 3 * MIN,
        actor: 'y',
        note: 'second',
        detail: { users: ['b'] },
      }),
      ev({ action: 'close', time: OPEN, incidentId: 'inc_orphan' }),
    ])
    expect([...inc.keys()]).toEqual(['inc_1'])
    const i = inc.get('inc_1')!
    expect([i.state, i.reason, i.closedAt, i.closedBy, i.closeNote]).toEqual([
      'closed',
      'suspected',
      OPEN + 10 * MIN,
      'b',
      'done',
    ])
    expect(i.acceptedBreakage).toEqual({ by: 'y', why: 'second', at: OPEN + 3 * MIN, users: ['b'] })
    expect(i.events).toHaveLength(5)
  })
})

it('uses the documented defaults', () => {
  expect(DEFAULT_INCIDENT_SETTINGS).toEqual({
    settle_ms: 60_000,
    quiet_window_ms: 900_000,
    share_window_ms: 300_000,
    reminder_interval_ms: 900_000,
    snapshot_history_ms: 604_800_000,
    max_ingest_lag_ms: 300_000,
  })
})
