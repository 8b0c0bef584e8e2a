// The incident monitor with an in-memory double of the incident service:
// which alerts open incidents raise, and when owners are emailed.
import { describe, expect, it } from 'vitest'
import type { EmailMessage } from '../alerting/notifiers/email-message.ts'
import type { DeliveryResult } from '../alerting/notifiers/notifier.ts'
import { analyseIncident, DEFAULT_INCIDENT_SETTINGS, type IncidentUsage } from '../analysis/incident.ts'
import {
  foldIncidents,
  type Incident,
  type IncidentEvent,
  type KnownUser,
  type OwnerNotice,
} from '../domain/incident.ts'
import { type KeyVersion, newKeyVersion } from '../domain/key-version.ts'
import { IncidentMonitor } from './incident-monitor.ts'
import { withoutIncidentRollbacks } from './incident-observations.ts'

const MIN = 60_000
const OPEN = Date.UTC(2026, 11, 7, 10, 0, 0)

const ev = (over: Partial<IncidentEvent> & Pick<IncidentEvent, 'action' | 'time'>): IncidentEvent => ({
  eventId: `${over.action}:${over.time}`,
  incidentId: 'inc_1',
  keyId: 'acme',
  version: 'v1',
  actor: 'sec',
  note: '',
  detail: {},
  origin: 'test',
  ...over,
})

const known: KnownUser[] = [
  {
    clientId: 'web',
    sourceAddress: '10.0.0.1',
    userAgent: 'web/1',
    gateway: 'gw-a',
    requests: 5,
    firstSeen: OPEN - MIN,
    lastSeen: OPEN - 1,
  },
]
const versions = (owners: string[]): KeyVersion[] => [
  { ...newKeyVersion('acme', 'v1', 'active'), createdAt: 1, activatedAt: 1, owners },
  { ...newKeyVersion('acme', 'v2', 'active'), createdAt: OPEN, activatedAt: OPEN },
]
const attacker: IncidentUsage = {
  version: 'v1',
  clientId: 'web',
  sourceAddress: '203.0.113.9',
  userAgent: 'curl/8',
  gateway: 'gw-c',
  requests: 3,
  accepted: 3,
  firstSeen: OPEN + MIN,
  lastSeen: OPEN + 2 * MIN,
  recentRequests: 3,
  acceptedAfterDeactivation: 0,
  rejectedAfterDeactivation: 0,
  routes: ['/export'],
  reasons: ['none'],
}

/** An in-memory incident service: one incident whose recorded notices are kept. */
function double(opts: { owners: string[]; usage?: () => IncidentUsage[] }) {
  const events: IncidentEvent[] = [
    ev({ action: 'open', time: OPEN, reason: 'leaked' }),
    ev({ action: 'snapshot', time: OPEN, detail: { snapshotId: 's', from: 0, to: OPEN, users: 1 } }),
  ]
  const recorded: OwnerNotice[] = []
  const current = (): Incident => foldIncidents(events).get('inc_1')!
  const service = {
    settings: DEFAULT_INCIDENT_SETTINGS,
    list: async () => [current()],
    ensureSnapshot: async (i: Incident) => i,
    view: async (i: Incident | string, now: number) =>
      analyseIncident({
        incident: typeof i === 'string' ? current() : i,
        knownUsers: known,
        usage: opts.usage?.() ?? [],
        versions: versions(opts.owners),
        shareFrom: now,
        ingestLagMs: 0,
        now,
      }),
    recordNotice: async (_i: Pick<Incident, 'id'>, n: OwnerNotice) => {
      recorded.push(n)
      events.push(
        ev({
          eventId: `n${recorded.length}`,
          action: 'owners_notified',
          time: n.at,
          detail: { kind: n.kind, recipients: n.recipients, clients: n.clients, skipped: n.skipped },
        }),
      )
    },
  }
  return { service, recorded }
}

const logger = { info: () => {}, warn: () => {} }

function mailer(results: DeliveryResult[] = []) {
  const sent: EmailMessage[] = []
  return {
    sent,
    send: async (m: EmailMessage): Promise<DeliveryResult> => {
      sent.push(m)
      return results.shift() ?? { ok: true }
    },
  }
}

async function tick(m: IncidentMonitor, now: number) {
  await m.observe(now)
  return m.notify(now)
}

describe('IncidentMonitor owner notices', () => {
  it('emails the owners at once, then every reminder interval while their clients are on the version', async () => {
    const { service, recorded } = double({ owners: ['team@example.com', 'not a mailbox'] })
    const mail = mailer()
    const m = new IncidentMonitor({
      service,
      versions: () => versions(['team@example.com']),
      send: mail.send,
      logger,
    })
    expect(await tick(m, OPEN + 1_000)).toBe(1)
    expect(await tick(m, OPEN + 2_000)).toBe(0)
    // 15 minutes after the first notice: a reminder.
    expect(await tick(m, OPEN + 1_000 + 15 * MIN - 1)).toBe(0)
    expect(await tick(m, OPEN + 1_000 + 15 * MIN)).toBe(1)
    expect(mail.sent.map((x) => [x.to, x.subject])).toEqual([
      [['team@example.com'], '[keyshift] URGENT: acme v1 is leaked; move your clients now'],
      [['team@example.com'], '[keyshift] Reminder: 1 client use(s) still on leaked acme v1'],
    ])
    expect(recorded.map((n) => [n.kind, n.at, n.clients, n.skipped])).toEqual([
      ['opened', OPEN + 1_000, ['web'], ''],
      ['reminder', OPEN + 1_000 + 15 * MIN, ['web'], ''],
    ])
  })

  it('records a skipped notice once when no email receiver is configured, and sends no reminders', async () => {
    const { service, recorded } = double({ owners: ['team@example.com'] })
    const m = new IncidentMonitor({ service, versions: () => versions(['team@example.com']), logger })
    await tick(m, OPEN + 1_000)
    await tick(m, OPEN + 60 * MIN)
    expect(recorded.map((n) => [n.kind, n.recipients, n.skipped])).toEqual([
      ['opened', ['team@example.com'], 'no email receiver is configured'],
    ])
  })

  it('does not record a failed send, and tries again after 30 s', async () => {
    const { service, recorded } = double({ owners: ['team@example.com'] })
    const mail = mailer([{ ok: false, retry: true, error: 'smtp down' }])
    const m = new IncidentMonitor({
      service,
      versions: () => versions(['team@example.com']),
      send: mail.send,
      logger,
    })
    await tick(m, OPEN)
    await tick(m, OPEN + 29_999)
    expect([mail.sent.length, recorded.length]).toEqual([1, 0])
    await tick(m, OPEN + 30_000)
    expect([mail.sent.length, recorded.map((n) => n.kind)]).toEqual([2, ['opened']])
  })
})

describe('IncidentMonitor observations', () => {
  it('raises the incident page, one alert per unknown source, and drops rollback advice for the leaked version', async () => {
    const { service } = double({ owners: [], usage: () => [attacker] })
    const m = new IncidentMonitor({ service, versions: () => versions([]), logger })
    const { observations, views } = await m.observe(OPEN + 3 * MIN)
    expect(
      observations.map((o) => [o.alert.id, o.alert.severity, o.alert.labels.source ?? '', o.startedAt]),
    ).toEqual([
      ['incident_open:acme:v1:incident=inc_1', 'critical', '', OPEN],
      ['incident_unknown_source:acme:v1:source=203.0.113.9', 'critical', '203.0.113.9', OPEN + MIN],
    ])
    expect(observations[1]!.alert.evidence).toMatchObject({
      routes: ['/export'],
      userAgents: ['curl/8'],
      accepted: 3,
    })
    const rollback = {
      channel: 'rollback' as const,
      alert: { ...observations[0]!.alert, keyId: 'acme', version: 'v1' },
    }
    const other = {
      channel: 'rollback' as const,
      alert: { ...observations[0]!.alert, keyId: 'acme', version: 'v0' },
    }
    expect(withoutIncidentRollbacks([rollback, other], views)).toEqual([other])
    // The finding's own alert says "reactivate v1": dropped for the leaked version too.
    const advice = (version: string) => ({
      channel: 'alert' as const,
      alert: {
        ...observations[0]!.alert,
        type: 'failures_after_deactivation' as const,
        keyId: 'acme',
        version,
      },
    })
    const page = observations[1]!
    expect(withoutIncidentRollbacks([advice('v1'), advice('v0'), page], views)).toEqual([advice('v0'), page])
  })

  it('stops paging for a source quiet for longer than the quiet window', async () => {
    const { service } = double({ owners: [], usage: () => [attacker] })
    const m = new IncidentMonitor({ service, versions: () => versions([]), logger })
    const quiet = OPEN + 2 * MIN + DEFAULT_INCIDENT_SETTINGS.quiet_window_ms + 1
    const { observations } = await m.observe(quiet)
    expect(observations.map((o) => o.alert.type)).toEqual(['incident_open'])
  })
})
