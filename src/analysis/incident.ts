// The live picture of an incident (a leaked key version): which known users
// (from the snapshot taken when it was opened) are still on the version, which
// sources outside the snapshot use it, what they reached, whether a gateway
// still accepts it after deactivation, the playbook checklist and the
// incident-rules readiness verdict. Pure: rows in, view out, "now" a parameter.
import { z } from 'zod'
import { type Incident, type KnownUser, knownUserId } from '../domain/incident.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import type { RuleOutcome } from './readiness.ts'
import { MINUTE_MS } from './types.ts'
import { findVersion, newerVersions } from './versions.ts'

/**
 * Incident settings, durations in milliseconds. Defaults:
 * - `settle_ms` 60 s: a known user counts as moved once it used a newer version
 *   after its last use of the leaked one, and has not used the leaked one for this long.
 * - `quiet_window_ms` 15 min: the checklist's "no unknown source" step needs this
 *   long without one; an unknown source's alert stays open while it was seen within it.
 * - `share_window_ms` 5 min: the window of the leaked version's share of the key's traffic.
 * - `reminder_interval_ms` 15 min: owners are reminded this often while their clients are on it.
 * - `snapshot_history_ms` 7 d: how far before the incident the known-user snapshot looks.
 * - `max_ingest_lag_ms` 5 min: data further behind makes the verdict unknown.
 */
export const incidentSettingsSchema = z.strictObject({
  settle_ms: z.number().int().nonnegative().default(MINUTE_MS),
  quiet_window_ms: z
    .number()
    .int()
    .positive()
    .default(15 * MINUTE_MS),
  share_window_ms: z
    .number()
    .int()
    .positive()
    .default(5 * MINUTE_MS),
  reminder_interval_ms: z
    .number()
    .int()
    .min(MINUTE_MS, 'must be at least 60000 ms (one minute)')
    .default(15 * MINUTE_MS),
  snapshot_history_ms: z
    .number()
    .int()
    .positive()
    .default(7 * 86_400_000),
  max_ingest_lag_ms: z
    .number()
    .int()
    .nonnegative()
    .default(5 * MINUTE_MS),
})
export type IncidentSettings = z.output<typeof incidentSettingsSchema>
export const DEFAULT_INCIDENT_SETTINGS: IncidentSettings = Object.freeze(incidentSettingsSchema.parse({}))

/**
 * Uses of one key since the incident opened, per (version, client, source
 * address, user agent, gateway), read from the raw events.
 */
export interface IncidentUsage {
  version: string
  clientId: string
  sourceAddress: string
  userAgent: string
  gateway: string
  requests: number
  /** Successful (accepted) requests. */
  accepted: number
  firstSeen: number
  lastSeen: number
  /** Requests within the share window (see `shareFrom`). */
  recentRequests: number
  /** Accepted and rejected requests at or after the version's deactivation (0 when not deactivated). */
  acceptedAfterDeactivation: number
  rejectedAfterDeactivation: number
  /** Bounded samples. */
  routes: string[]
  reasons: string[]
}

export type KnownUserState = 'moved' | 'on_version' | 'silent'

export interface KnownUserView {
  id: string
  clientId: string
  sourceAddress: string
  userAgent: string
  /** Gateways the user reached before the incident. */
  gateways: string[]
  /** Requests on the leaked version in the snapshot window. */
  requestsBefore: number
  lastSeenBefore: number
  state: KnownUserState
  /** Requests on the leaked version since opening. */
  requestsSince: number
  lastLeakedUse: number | null
  firstNewerUse: number | null
  lastNewerUse: number | null
  /** When it moved: its last use of the leaked version, or its first newer use when it made none. */
  movedAt: number | null
  /** Rejected requests on the leaked version after deactivation: this user breaks. */
  rejectedAfterDeactivation: number
  /** Listed in the accepted breakage. */
  breakageAccepted: boolean
}

export interface UnknownSource {
  sourceAddress: string
  userAgents: string[]
  gateways: string[]
  clients: string[]
  routes: string[]
  reasons: string[]
  requests: number
  accepted: number
  rejected: number
  acceptedAfterDeactivation: number
  firstSeen: number
  lastSeen: number
}

export type ChecklistState = 'done' | 'pending' | 'failed' | 'unknown'
export const CHECKLIST_STEPS = [
  'new_version_active_everywhere',
  'known_users_moved',
  'old_version_deactivated',
  'no_accepted_use_after_deactivation',
  'no_unknown_source_recently',
] as const
export type ChecklistStep = (typeof CHECKLIST_STEPS)[number]

export interface ChecklistItem {
  id: ChecklistStep
  state: ChecklistState
  detail: string
}

export const INCIDENT_RULE_IDS = [
  'snapshot_has_users',
  'newer_version_active',
  'known_users_moved',
  'data_fresh',
] as const
export type IncidentRuleId = (typeof INCIDENT_RULE_IDS)[number]

export interface IncidentRuleResult {
  id: IncidentRuleId
  outcome: RuleOutcome
  detail: string
  numbers: Record<string, number | null>
}

export interface IncidentReadiness {
  keyId: string
  version: string
  verdict: 'ready' | 'not_ready' | 'unknown'
  rules: IncidentRuleResult[]
  incidentId: string
}

export interface IncidentView {
  incident: Omit<Incident, 'events'>
  now: number
  sinceOpenMs: number
  /** The leaked version in the registry (null when unknown) and the newer versions. */
  versionState: string | null
  deactivatedAt: number | null
  newerVersions: { version: string; state: string }[]
  knownUsers: KnownUserView[]
  knownUsersOnVersion: number
  knownUsersMoved: number
  unknownSources: UnknownSource[]
  /** Uses of the leaked version from known addresses by a (client, user agent) not in the snapshot. */
  unmatchedFromKnownSources: {
    clientId: string
    sourceAddress: string
    userAgent: string
    requests: number
  }[]
  /** Routes the leaked version was accepted on since opening, by anyone. */
  routesReached: string[]
  /** Scopes granted to the version (events carry no scope): what an accepted use can reach. */
  scopes: string[]
  share: { from: number; to: number; requests: number; totalRequests: number; share: number }
  afterDeactivation: {
    acceptedByGateway: { gateway: string; requests: number; sources: string[] }[]
    /** Known users whose requests are now rejected: who breaks. */
    breaking: { id: string; clientId: string; sourceAddress: string; rejected: number }[]
  }
  checklist: ChecklistItem[]
  readiness: IncidentReadiness
}

export interface IncidentViewInput {
  incident: Incident
  knownUsers: readonly KnownUser[]
  /** Uses of the incident's key since it opened (every version). */
  usage: readonly IncidentUsage[]
  versions: readonly KeyVersion[]
  /** Start of the share window the store used for `recentRequests`. */
  shareFrom: number
  ingestLagMs: number | null
  now: number
  settings?: IncidentSettings
}

const uniq = (xs: Iterable<string>) => [...new Set(xs)].filter((x) => x !== '').sort()
const maxOrNull = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => Math.max(a, b)))
const minOrNull = (xs: number[]) => (xs.length === 0 ? null : xs.reduce((a, b) => Math.min(a, b)))
/** At most `n` names in a sentence, then how many more. */
export function nameList(xs: readonly string[], n = 10): string {
  return xs.length > n ? `${xs.slice(0, n).join(', ')} (+${xs.length - n} more)` : xs.join(', ')
}
const sum = <T>(rows: readonly T[], f: (r: T) => number) => rows.reduce((s, r) => s + f(r), 0)
const minutes = (ms: number) => `${Math.round(ms / MINUTE_MS)} min`

/** Known users merged per (client, source address, user agent), with their gateways. */
export function mergeKnownUsers(
  users: readonly KnownUser[],
): Map<string, KnownUser & { gateways: string[] }> {
  const out = new Map<string, KnownUser & { gateways: string[] }>()
  for (const u of users) {
    const id = knownUserId(u)
    const m = out.get(id)
    if (!m) {
      out.set(id, { ...u, gateways: uniq([u.gateway]) })
      continue
    }
    m.requests += u.requests
    m.firstSeen = Math.min(m.firstSeen, u.firstSeen)
    m.lastSeen = Math.max(m.lastSeen, u.lastSeen)
    m.gateways = uniq([...m.gateways, u.gateway])
  }
  return out
}

export function analyseIncident(input: IncidentViewInput): IncidentView {
  const s = input.settings ?? DEFAULT_INCIDENT_SETTINGS
  const { incident: inc, now } = input
  const asked = findVersion(input.versions, inc.keyId, inc.version)
  const newer = asked ? newerVersions(input.versions, asked) : []
  const newerLabels = new Set(newer.map((v) => v.version))
  const leaked = input.usage.filter((u) => u.version === inc.version)
  const onNewer = input.usage.filter((u) => newerLabels.has(u.version))
  const accepted = new Set(inc.acceptedBreakage?.users ?? [])

  const merged = mergeKnownUsers(input.knownUsers)
  const knownAddresses = new Set(input.knownUsers.map((u) => u.sourceAddress))
  const knownUsers: KnownUserView[] = []
  // Indexes, so the view stays linear in rows and known users.
  const leakedById = groupRows(leaked, knownUserId)
  const newerByClient = groupRows(onNewer, clientAtSource)
  for (const [id, u] of merged) {
    const old = leakedById.get(id) ?? []
    const fresh = newerByClient.get(clientAtSource(u)) ?? []
    const lastLeakedUse = maxOrNull(old.map((r) => r.lastSeen))
    const firstNewerUse = minOrNull(fresh.map((r) => r.firstSeen))
    const lastNewerUse = maxOrNull(fresh.map((r) => r.lastSeen))
    const moved =
      lastNewerUse !== null &&
      (lastLeakedUse === null || (lastLeakedUse < lastNewerUse && now - lastLeakedUse >= s.settle_ms))
    knownUsers.push({
      id,
      clientId: u.clientId,
      sourceAddress: u.sourceAddress,
      userAgent: u.userAgent,
      gateways: u.gateways,
      requestsBefore: u.requests,
      lastSeenBefore: u.lastSeen,
      state: moved ? 'moved' : lastLeakedUse !== null ? 'on_version' : 'silent',
      requestsSince: sum(old, (r) => r.requests),
      lastLeakedUse,
      firstNewerUse,
      lastNewerUse,
      movedAt: moved ? (lastLeakedUse ?? firstNewerUse) : null,
      rejectedAfterDeactivation: sum(old, (r) => r.rejectedAfterDeactivation),
      breakageAccepted: accepted.has(id),
    })
  }
  knownUsers.sort(
    (a, b) => stateRank(a.state) - stateRank(b.state) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  )

  const knownIds = new Set(merged.keys())
  const bySource = new Map<string, IncidentUsage[]>()
  const unmatched = new Map<
    string,
    { clientId: string; sourceAddress: string; userAgent: string; requests: number }
  >()
  for (const r of leaked) {
    if (!knownAddresses.has(r.sourceAddress)) {
      const list = bySource.get(r.sourceAddress)
      if (list) list.push(r)
      else bySource.set(r.sourceAddress, [r])
    } else if (!knownIds.has(knownUserId(r))) {
      const id = knownUserId(r)
      const m = unmatched.get(id) ?? {
        clientId: r.clientId,
        sourceAddress: r.sourceAddress,
        userAgent: r.userAgent,
        requests: 0,
      }
      m.requests += r.requests
      unmatched.set(id, m)
    }
  }
  const unknownSources: UnknownSource[] = [...bySource].map(([sourceAddress, rows]) => ({
    sourceAddress,
    userAgents: uniq(rows.map((r) => r.userAgent)),
    gateways: uniq(rows.map((r) => r.gateway)),
    clients: uniq(rows.map((r) => r.clientId)),
    routes: uniq(rows.flatMap((r) => r.routes)),
    reasons: uniq(rows.flatMap((r) => r.reasons).filter((x) => x !== 'none')),
    requests: sum(rows, (r) => r.requests),
    accepted: sum(rows, (r) => r.accepted),
    rejected: sum(rows, (r) => r.requests - r.accepted),
    acceptedAfterDeactivation: sum(rows, (r) => r.acceptedAfterDeactivation),
    firstSeen: minOrNull(rows.map((r) => r.firstSeen))!,
    lastSeen: maxOrNull(rows.map((r) => r.lastSeen))!,
  }))
  unknownSources.sort((a, b) => b.lastSeen - a.lastSeen || (a.sourceAddress < b.sourceAddress ? -1 : 1))

  const gateways = new Map<string, { requests: number; sources: Set<string> }>()
  for (const r of leaked) {
    if (r.acceptedAfterDeactivation === 0) continue
    const g = gateways.get(r.gateway) ?? { requests: 0, sources: new Set<string>() }
    g.requests += r.acceptedAfterDeactivation
    g.sources.add(r.sourceAddress)
    gateways.set(r.gateway, g)
  }
  const acceptedByGateway = [...gateways]
    .map(([gateway, g]) => ({ gateway, requests: g.requests, sources: uniq(g.sources) }))
    .sort((a, b) => (a.gateway < b.gateway ? -1 : 1))
  const breaking = knownUsers
    .filter((u) => u.rejectedAfterDeactivation > 0)
    .map((u) => ({
      id: u.id,
      clientId: u.clientId,
      sourceAddress: u.sourceAddress,
      rejected: u.rejectedAfterDeactivation,
    }))

  const shareRequests = sum(leaked, (r) => r.recentRequests)
  const shareTotal = sum(input.usage, (r) => r.recentRequests)
  const inc0 = { ...inc } as Partial<Incident>
  delete inc0.events
  const readiness = incidentReadiness(inc, knownUsers, newer, input.ingestLagMs, s)
  const view: IncidentView = {
    incident: inc0 as Omit<Incident, 'events'>,
    now,
    sinceOpenMs: Math.max(0, now - inc.openedAt),
    versionState: asked?.state ?? null,
    deactivatedAt: asked?.state === 'deactivated' ? asked.deactivatedAt : null,
    newerVersions: newer.map((v) => ({ version: v.version, state: v.state })),
    knownUsers,
    knownUsersOnVersion: knownUsers.filter((u) => u.state !== 'moved').length,
    knownUsersMoved: knownUsers.filter((u) => u.state === 'moved').length,
    unknownSources,
    unmatchedFromKnownSources: [...unmatched.values()].sort((a, b) => b.requests - a.requests),
    routesReached: uniq(leaked.filter((r) => r.accepted > 0).flatMap((r) => r.routes)),
    scopes: [...(asked?.scopes ?? [])],
    share: {
      from: input.shareFrom,
      to: now,
      requests: shareRequests,
      totalRequests: shareTotal,
      share: shareTotal === 0 ? 0 : shareRequests / shareTotal,
    },
    afterDeactivation: { acceptedByGateway, breaking },
    checklist: [],
    readiness,
  }
  view.checklist = checklist(view, input, onNewer, s)
  return view
}

const clientAtSource = (r: { clientId: string; sourceAddress: string }) => `${r.clientId}|${r.sourceAddress}`

function groupRows<T>(rows: readonly T[], key: (r: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>()
  for (const r of rows) {
    const k = key(r)
    const list = out.get(k)
    if (list) list.push(r)
    else out.set(k, [r])
  }
  return out
}

function stateRank(s: KnownUserState): number {
  return s === 'on_version' ? 0 : s === 'silent' ? 1 : 2
}

function checklist(
  v: IncidentView,
  input: IncidentViewInput,
  onNewer: readonly IncidentUsage[],
  s: IncidentSettings,
): ChecklistItem[] {
  const { now } = input
  const out: ChecklistItem[] = []
  // 1. The new version is active and accepted on every gateway that carried the leaked one.
  const active = v.newerVersions.filter((n) => n.state === 'active').map((n) => n.version)
  const carried = uniq(input.knownUsers.map((u) => u.gateway))
  const acceptedOn = new Set(
    onNewer.filter((r) => r.accepted > 0 && active.includes(r.version)).map((r) => r.gateway),
  )
  const missing = carried.filter((g) => !acceptedOn.has(g))
  if (active.length === 0) {
    out.push({
      id: 'new_version_active_everywhere',
      state: 'pending',
      detail: `no version newer than ${v.incident.version} is active yet`,
    })
  } else if (carried.length === 0) {
    out.push({
      id: 'new_version_active_everywhere',
      state: 'unknown',
      detail: `${active.join(', ')} active; no gateway carried ${v.incident.version} before the incident, so none to check`,
    })
  } else {
    out.push({
      id: 'new_version_active_everywhere',
      state: missing.length === 0 ? 'done' : 'pending',
      detail:
        missing.length === 0
          ? `${active.join(', ')} accepted on every gateway that carried ${v.incident.version} (${carried.join(', ')})`
          : `${active.join(', ')} not yet accepted on ${missing.join(', ')} since opening`,
    })
  }
  // 2. Known users moved.
  const left = v.knownUsers.filter((u) => u.state !== 'moved')
  const unaccepted = left.filter((u) => !u.breakageAccepted)
  out.push({
    id: 'known_users_moved',
    state:
      v.knownUsers.length === 0
        ? 'unknown'
        : left.length === 0
          ? 'done'
          : unaccepted.length === 0
            ? 'done'
            : 'pending',
    detail:
      v.knownUsers.length === 0
        ? 'no known user: the snapshot before the incident is empty'
        : left.length === 0
          ? `all ${v.knownUsers.length} known user(s) moved`
          : unaccepted.length === 0
            ? `${v.knownUsersMoved} of ${v.knownUsers.length} moved; breakage of the other ${left.length} accepted`
            : `${left.length} of ${v.knownUsers.length} not moved: ${nameList(left.map((u) => u.clientId || u.sourceAddress))}`,
  })
  // 3. Old version deactivated.
  out.push({
    id: 'old_version_deactivated',
    state: v.deactivatedAt !== null ? 'done' : 'pending',
    detail:
      v.deactivatedAt !== null
        ? `${v.incident.version} deactivated at ${new Date(v.deactivatedAt).toISOString()}`
        : `${v.incident.version} is ${v.versionState ?? 'not in the registry'}`,
  })
  // 4. No accepted use after deactivation on any gateway.
  const acc = v.afterDeactivation.acceptedByGateway
  out.push({
    id: 'no_accepted_use_after_deactivation',
    state: v.deactivatedAt === null ? 'pending' : acc.length === 0 ? 'done' : 'failed',
    detail:
      v.deactivatedAt === null
        ? 'waits for the deactivation'
        : acc.length === 0
          ? 'every use since deactivation was rejected'
          : `still accepted on ${acc.map((g) => `${g.gateway} (${g.requests})`).join(', ')}`,
  })
  // 5. No unknown source recently.
  const since = now - s.quiet_window_ms
  const recent = v.unknownSources.filter((u) => u.lastSeen >= since)
  const sinceOpen = now - v.incident.openedAt
  out.push({
    id: 'no_unknown_source_recently',
    state: recent.length > 0 ? 'failed' : sinceOpen < s.quiet_window_ms ? 'pending' : 'done',
    detail:
      recent.length > 0
        ? `${recent.length} unknown source(s) in the last ${minutes(s.quiet_window_ms)}: ${nameList(recent.map((u) => u.sourceAddress))}`
        : sinceOpen < s.quiet_window_ms
          ? `none so far; open for ${minutes(sinceOpen)} of the ${minutes(s.quiet_window_ms)} needed`
          : `none in the last ${minutes(s.quiet_window_ms)}`,
  })
  return out
}

/**
 * The gate under incident rules: no minimum overlap, no traffic threshold.
 * Ready when every known user moved (or its breakage was accepted), a newer
 * version is active and the data is fresh; `unknown` while the snapshot is
 * empty (nothing shows who would break) or the data is stale.
 */
export function incidentReadiness(
  inc: Incident,
  knownUsers: readonly KnownUserView[],
  newer: readonly Pick<KeyVersion, 'version' | 'state'>[],
  ingestLagMs: number | null,
  s: IncidentSettings,
): IncidentReadiness {
  const rules: IncidentRuleResult[] = []
  if (inc.snapshot === null || knownUsers.length === 0) {
    rules.push({
      id: 'snapshot_has_users',
      outcome: 'unknown',
      detail:
        inc.snapshot === null
          ? 'the known-user snapshot has not been taken yet'
          : `no use of ${inc.version} is stored in the ${Math.round((inc.snapshot.to - inc.snapshot.from) / 86_400_000)} d before the incident, so nothing shows who would break`,
      numbers: { knownUsers: 0 },
    })
  } else {
    rules.push({
      id: 'snapshot_has_users',
      outcome: 'pass',
      detail: `${knownUsers.length} known user(s) in the snapshot`,
      numbers: { knownUsers: knownUsers.length },
    })
  }
  const active = newer.filter((v) => v.state === 'active').map((v) => v.version)
  rules.push({
    id: 'newer_version_active',
    outcome: active.length > 0 ? 'pass' : 'fail',
    detail:
      active.length > 0
        ? `newer active version(s): ${active.join(', ')}`
        : `no version newer than ${inc.version} is active; clients would have nothing to move to`,
    numbers: { newerActiveVersions: active.length },
  })
  const left = knownUsers.filter((u) => u.state !== 'moved')
  const blocking = left.filter((u) => !u.breakageAccepted)
  const who = (xs: readonly KnownUserView[]) =>
    xs
      .map((u) => `${u.clientId || '(no client)'}@${u.sourceAddress || '(no address)'} (${u.state})`)
      .join(', ')
  rules.push({
    id: 'known_users_moved',
    outcome: knownUsers.length === 0 ? 'unknown' : blocking.length === 0 ? 'pass' : 'fail',
    detail:
      knownUsers.length === 0
        ? 'no known user to check'
        : left.length === 0
          ? `all ${knownUsers.length} known user(s) moved to a newer version`
          : blocking.length === 0
            ? `${left.length} not moved, breakage accepted by ${inc.acceptedBreakage?.by} ("${inc.acceptedBreakage?.why}"): ${who(left)}`
            : `${blocking.length} known user(s) still to move: ${who(blocking)}`,
    numbers: {
      knownUsers: knownUsers.length,
      notMoved: left.length,
      accepted: left.length - blocking.length,
    },
  })
  rules.push(
    ingestLagMs === null || !Number.isFinite(ingestLagMs)
      ? { id: 'data_fresh', outcome: 'unknown', detail: 'ingestion lag is unknown', numbers: {} }
      : {
          id: 'data_fresh',
          outcome: ingestLagMs <= s.max_ingest_lag_ms ? 'pass' : 'fail',
          detail: `ingestion is ${Math.round(ingestLagMs / 1000)} s behind (maximum ${Math.round(s.max_ingest_lag_ms / 1000)} s)`,
          numbers: { ingestLagMs, maxIngestLagMs: s.max_ingest_lag_ms },
        },
  )
  const fresh = rules.find((r) => r.id === 'data_fresh')!.outcome === 'pass'
  const verdict =
    !fresh || rules.some((r) => r.outcome === 'unknown')
      ? 'unknown'
      : rules.some((r) => r.outcome === 'fail')
        ? 'not_ready'
        : 'ready'
  return { keyId: inc.keyId, version: inc.version, verdict, rules, incidentId: inc.id }
}
