// The post-mortem and compliance report of an incident: a timeline of what
// happened (opened, snapshot, owners told, each known user moved, new version
// activated, old one deactivated, first and last unknown use, accepted use
// after deactivation, breakage accepted, gate verdicts, closed), each entry
// with its evidence, built from the incident's recorded steps and its view.
// Pure.
import type { Incident } from '../domain/incident.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import type { ChecklistItem, IncidentView, KnownUserView, UnknownSource } from './incident.ts'
import { findVersion, newerVersions } from './versions.ts'

export const TIMELINE_STEPS = [
  'opened',
  'snapshot_taken',
  'owners_notified',
  'owners_reminded',
  'new_version_activated',
  'known_user_moved',
  'first_unknown_use',
  'last_unknown_use',
  'breakage_accepted',
  'deactivated',
  'accepted_after_deactivation',
  'gate_verdict',
  'closed',
] as const
export type TimelineStep = (typeof TIMELINE_STEPS)[number]

export interface TimelineEntry {
  time: number
  step: TimelineStep
  detail: string
  evidence: Record<string, unknown>
}

export interface IncidentReport {
  incident: Omit<Incident, 'events'>
  generatedAt: number
  summary: {
    state: Incident['state']
    durationMs: number
    knownUsers: number
    knownUsersMoved: number
    unknownSources: number
    unknownRequests: number
    unknownAccepted: number
    deactivatedAt: number | null
    /** Opening to deactivation, ms; null while the version is not deactivated. */
    timeToDeactivateMs: number | null
    verdict: string
  }
  timeline: TimelineEntry[]
  checklist: ChecklistItem[]
  knownUsers: KnownUserView[]
  unknownSources: UnknownSource[]
  routesReached: string[]
}

export interface IncidentReportInput {
  incident: Incident
  view: IncidentView
  versions: readonly KeyVersion[]
  /** Gate verdicts on the version while the incident was open (readiness audit). */
  verdicts: readonly { time: number; verdict: string; askedBy: string; via: string }[]
  now: number
}

const ORDER = new Map(TIMELINE_STEPS.map((s, i) => [s, i]))

export function buildIncidentReport(input: IncidentReportInput): IncidentReport {
  const { incident: inc, view } = input
  const t: TimelineEntry[] = []
  t.push({
    time: inc.openedAt,
    step: 'opened',
    detail: `${inc.keyId} ${inc.version} ${inc.reason}; opened by ${inc.openedBy || 'unknown'}${inc.note ? `: ${inc.note}` : ''}`,
    evidence: { reason: inc.reason, by: inc.openedBy, note: inc.note },
  })
  if (inc.snapshot) {
    t.push({
      time: inc.snapshot.takenAt,
      step: 'snapshot_taken',
      detail: `${inc.snapshot.users} known (client, source, user agent, gateway) use(s) of ${inc.version} before opening`,
      evidence: { ...inc.snapshot },
    })
  }
  for (const n of inc.notices) {
    t.push({
      time: n.at,
      step: n.kind === 'opened' ? 'owners_notified' : 'owners_reminded',
      detail: n.skipped
        ? `owners not emailed: ${n.skipped}`
        : `emailed ${n.recipients.join(', ')} about ${n.clients.length} client(s) still on ${inc.version}`,
      evidence: { recipients: n.recipients, clients: n.clients, skipped: n.skipped },
    })
  }
  const asked = findVersion(input.versions, inc.keyId, inc.version)
  if (asked) {
    for (const v of newerVersions(input.versions, asked)) {
      if (v.activatedAt !== null) {
        t.push({
          time: v.activatedAt,
          step: 'new_version_activated',
          detail: `${v.version} activated (now ${v.state})`,
          evidence: { version: v.version, state: v.state },
        })
      }
    }
  }
  for (const u of view.knownUsers) {
    if (u.state !== 'moved' || u.movedAt === null) continue
    t.push({
      time: u.movedAt,
      step: 'known_user_moved',
      detail: `${u.clientId || '(no client)'} from ${u.sourceAddress || '(no address)'} moved off ${inc.version}`,
      evidence: {
        user: u.id,
        lastLeakedUse: u.lastLeakedUse,
        firstNewerUse: u.firstNewerUse,
        requestsSinceOpening: u.requestsSince,
      },
    })
  }
  const unknown = view.unknownSources
  if (unknown.length > 0) {
    const first = unknown.reduce((a, b) => (b.firstSeen < a.firstSeen ? b : a))
    const last = unknown.reduce((a, b) => (b.lastSeen > a.lastSeen ? b : a))
    t.push({
      time: first.firstSeen,
      step: 'first_unknown_use',
      detail: `first use by a source outside the snapshot: ${first.sourceAddress} (${first.userAgents.join(', ')}) via ${first.gateways.join(', ')}`,
      evidence: { ...first },
    })
    t.push({
      time: last.lastSeen,
      step: 'last_unknown_use',
      detail: `last use by a source outside the snapshot: ${last.sourceAddress}, ${last.accepted} of ${last.requests} request(s) accepted`,
      evidence: { ...last },
    })
  }
  if (inc.acceptedBreakage) {
    const a = inc.acceptedBreakage
    t.push({
      time: a.at,
      step: 'breakage_accepted',
      detail: `${a.by} accepted that ${a.users.length} known user(s) break: ${a.why}`,
      evidence: { ...a },
    })
  }
  if (view.deactivatedAt !== null) {
    t.push({
      time: view.deactivatedAt,
      step: 'deactivated',
      detail: `${inc.version} deactivated`,
      evidence: {
        breaking: view.afterDeactivation.breaking,
        acceptedByGateway: view.afterDeactivation.acceptedByGateway,
      },
    })
    for (const g of view.afterDeactivation.acceptedByGateway) {
      t.push({
        time: view.deactivatedAt,
        step: 'accepted_after_deactivation',
        detail: `${g.gateway} still accepted ${g.requests} request(s) after deactivation`,
        evidence: { ...g },
      })
    }
  }
  for (const v of input.verdicts) {
    t.push({
      time: v.time,
      step: 'gate_verdict',
      detail: `gate answered ${v.verdict} to ${v.askedBy} (${v.via})`,
      evidence: { ...v },
    })
  }
  if (inc.closedAt !== null) {
    t.push({
      time: inc.closedAt,
      step: 'closed',
      detail: `closed by ${inc.closedBy || 'unknown'}${inc.closeNote ? `: ${inc.closeNote}` : ''}`,
      evidence: { by: inc.closedBy, note: inc.closeNote },
    })
  }
  t.sort((a, b) => a.time - b.time || ORDER.get(a.step)! - ORDER.get(b.step)!)
  const { events: _events, ...incident } = inc
  return {
    incident,
    generatedAt: input.now,
    summary: {
      state: inc.state,
      durationMs: (inc.closedAt ?? input.now) - inc.openedAt,
      knownUsers: view.knownUsers.length,
      knownUsersMoved: view.knownUsersMoved,
      unknownSources: unknown.length,
      unknownRequests: unknown.reduce((s, u) => s + u.requests, 0),
      unknownAccepted: unknown.reduce((s, u) => s + u.accepted, 0),
      deactivatedAt: view.deactivatedAt,
      timeToDeactivateMs: view.deactivatedAt === null ? null : view.deactivatedAt - inc.openedAt,
      verdict: view.readiness.verdict,
    },
    timeline: t,
    checklist: view.checklist,
    knownUsers: view.knownUsers,
    unknownSources: unknown,
    routesReached: view.routesReached,
  }
}
