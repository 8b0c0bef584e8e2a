// An incident: one key version believed leaked, handled as an emergency
// rotation. It is an append-only log of incident events (opened, breakage
// accepted, owners notified, closed), folded into the incident's current view,
// plus the snapshot of the version's known users taken when it was opened.

export const INCIDENT_REASONS = ['leaked', 'suspected', 'compromised'] as const
export type IncidentReason = (typeof INCIDENT_REASONS)[number]

export const INCIDENT_ACTIONS = ['open', 'snapshot', 'accept_breakage', 'owners_notified', 'close'] as const
export type IncidentAction = (typeof INCIDENT_ACTIONS)[number]

export type IncidentState = 'open' | 'closed'

/** One recorded step of an incident. Free text (note, actor) is scrubbed before it is built. */
export interface IncidentEvent {
  /** Idempotency id: a redelivered or repeated event is stored once. */
  eventId: string
  incidentId: string
  action: IncidentAction
  /** Epoch ms when the step happened. */
  time: number
  keyId: string
  version: string
  actor: string
  note: string
  /** Set on `open`. */
  reason?: IncidentReason
  /** Step details: accepted users, notice recipients, snapshot size. JSON-serialisable. */
  detail: Record<string, unknown>
  /** Where the event came from: cli, api, kafka, evaluation. */
  origin: string
}

/** A (client, source address, user agent, gateway) that used the version before the incident. */
export interface KnownUser {
  clientId: string
  sourceAddress: string
  userAgent: string
  gateway: string
  requests: number
  firstSeen: number
  lastSeen: number
}

export interface AcceptedBreakage {
  by: string
  why: string
  at: number
  /** Identities (`knownUserId`) of the known users accepted to break. */
  users: string[]
}

export interface OwnerNotice {
  at: number
  kind: 'opened' | 'reminder'
  recipients: string[]
  clients: string[]
  /** '' when sent; else why not (no owner mailbox, no email receiver, send failed). */
  skipped: string
}

export interface Incident {
  id: string
  keyId: string
  version: string
  reason: IncidentReason
  note: string
  state: IncidentState
  openedAt: number
  openedBy: string
  closedAt: number | null
  closedBy: string | null
  closeNote: string
  /** Snapshot taken (its window and size), null until it is. */
  snapshot: { id: string; from: number; to: number; users: number; takenAt: number } | null
  acceptedBreakage: AcceptedBreakage | null
  notices: OwnerNotice[]
  /** Every recorded step, oldest first. */
  events: IncidentEvent[]
}

/**
 * The identity of a known user: (client, source address, user agent). The
 * gateway is not part of it: a client behind a load balancer reaches several
 * gateways and is still one user. Stored in accepted-breakage lists.
 */
export function knownUserId(u: Pick<KnownUser, 'clientId' | 'sourceAddress' | 'userAgent'>): string {
  return [u.clientId, u.sourceAddress, u.userAgent].join('|')
}

const ACTION_ORDER: Record<IncidentAction, number> = {
  open: 0,
  snapshot: 1,
  accept_breakage: 2,
  owners_notified: 3,
  close: 4,
}

const str = (v: unknown) => (typeof v === 'string' ? v : '')
const strs = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/**
 * Folds incident events (any order, duplicates allowed) into incidents by id.
 * Events of an incident whose `open` is missing are ignored; the first `open`
 * and the first `close` win, the last `accept_breakage` wins.
 */
export function foldIncidents(events: readonly IncidentEvent[]): Map<string, Incident> {
  const byId = new Map<string, IncidentEvent>()
  for (const e of events) if (!byId.has(e.eventId)) byId.set(e.eventId, e)
  const sorted = [...byId.values()].sort(
    (a, b) =>
      a.time - b.time ||
      ACTION_ORDER[a.action] - ACTION_ORDER[b.action] ||
      (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0),
  )
  const out = new Map<string, Incident>()
  for (const e of sorted.filter((x) => x.action === 'open')) {
    if (out.has(e.incidentId)) continue
    out.set(e.incidentId, {
      id: e.incidentId,
      keyId: e.keyId,
      version: e.version,
      reason: e.reason ?? 'leaked',
      note: e.note,
      state: 'open',
      openedAt: e.time,
      openedBy: e.actor,
      closedAt: null,
      closedBy: null,
      closeNote: '',
      snapshot: null,
      acceptedBreakage: null,
      notices: [],
      events: [],
    })
  }
  for (const e of sorted) {
    const inc = out.get(e.incidentId)
    if (!inc) continue
    inc.events.push(e)
    switch (e.action) {
      case 'snapshot':
        inc.snapshot ??= {
          id: str(e.detail.snapshotId),
          from: num(e.detail.from),
          to: num(e.detail.to),
          users: num(e.detail.users),
          takenAt: e.time,
        }
        break
      case 'accept_breakage':
        inc.acceptedBreakage = { by: e.actor, why: e.note, at: e.time, users: strs(e.detail.users) }
        break
      case 'owners_notified':
        inc.notices.push({
          at: e.time,
          kind: e.detail.kind === 'reminder' ? 'reminder' : 'opened',
          recipients: strs(e.detail.recipients),
          clients: strs(e.detail.clients),
          skipped: str(e.detail.skipped),
        })
        break
      case 'close':
        if (inc.state === 'open') {
          inc.state = 'closed'
          inc.closedAt = e.time
          inc.closedBy = e.actor
          inc.closeNote = e.note
        }
        break
      case 'open':
        break
    }
  }
  return out
}
