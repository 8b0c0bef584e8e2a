// Stage 4 — group: alerts routed to one receiver are grouped by the route's
// `group_by` fields, so a spike of alerts about one key goes out as one
// notification. A group is born when its first firing alert arrives; its first
// notification waits `group_wait`, later ones (about changes) `group_interval`
// after the previous notification. Signal channels never share a group with
// alerts. Pure.
import type { Alert } from '../../domain/alert.ts'
import type { Channel, Group, GroupState, LiveAlert, Routed } from './types.ts'

/** The value of one `group_by` field on an alert. */
export function groupFieldValue(field: string, a: Alert): string {
  if (field.startsWith('labels.')) return a.labels[field.slice('labels.'.length)] ?? ''
  switch (field) {
    case 'type':
      return a.type
    case 'severity':
      return a.severity
    case 'keyId':
      return a.keyId
    case 'version':
      return a.version
    case 'scope':
      return a.scope
    default:
      return ''
  }
}

const CHANNEL_PREFIX: Record<Channel, string> = { alert: '', rollback: 'rollback:', readiness: 'readiness:' }

/** `type=failures_after_deactivation,keyId=acme-payments`; signals get a `rollback:` / `readiness:` prefix. */
export function groupKeyOf(channel: Channel, groupBy: readonly string[], a: Alert): string {
  return CHANNEL_PREFIX[channel] + groupBy.map((f) => `${f}=${groupFieldValue(f, a)}`).join(',')
}

/** Identity of a group state: one notification log per (receiver, group). */
export function groupId(receiver: string, groupKey: string): string {
  return `${receiver}\u0000${groupKey}`
}

export function emptyGroupState(receiver: string, groupKey: string, channel: Channel): GroupState {
  return { receiver, groupKey, channel, bornAt: null, lastNotifiedAt: null, firing: [], seq: 0, ver: 0 }
}

/** Firing first, then by alert id: notifications list alerts in a stable order. */
function compareLive(a: LiveAlert, b: LiveAlert): number {
  if (a.alert.status !== b.alert.status) return a.alert.status === 'firing' ? -1 : 1
  return a.alert.id < b.alert.id ? -1 : a.alert.id > b.alert.id ? 1 : 0
}

export interface GroupResult {
  groups: Group[]
  /** Group states whose `bornAt` changed (born now, or emptied); to persist even without a notification. */
  touched: GroupState[]
}

export function groupAlerts(
  routed: readonly Routed[],
  states: ReadonlyMap<string, GroupState>,
  now: number,
): GroupResult {
  const byId = new Map<string, { receiver: string; groupKey: string; channel: Channel; items: Routed[] }>()
  for (const r of routed) {
    const extra = r.route.groupByType?.[r.live.alert.type] ?? []
    const fields = extra.length === 0 ? r.route.groupBy : [...new Set([...r.route.groupBy, ...extra])]
    const groupKey = groupKeyOf(r.live.channel, fields, r.live.alert)
    const id = groupId(r.receiver, groupKey)
    let g = byId.get(id)
    if (!g) {
      g = { receiver: r.receiver, groupKey, channel: r.live.channel, items: [] }
      byId.set(id, g)
    }
    // The same alert through two routes to the same receiver and group counts once.
    if (!g.items.some((x) => x.live.key === r.live.key)) g.items.push(r)
  }

  const groups: Group[] = []
  const touched: GroupState[] = []
  for (const [id, g] of byId) {
    const route = g.items[0]!.route
    const alerts = g.items.map((x) => x.live).sort(compareLive)
    const before = states.get(id) ?? emptyGroupState(g.receiver, g.groupKey, g.channel)
    const anyFiring = alerts.some((a) => a.alert.status === 'firing')
    let state = before
    if (anyFiring && before.bornAt === null) state = { ...before, bornAt: now }
    else if (!anyFiring && before.bornAt !== null) state = { ...before, bornAt: null }
    if (state !== before) touched.push(state)
    const fresh =
      state.lastNotifiedAt === null || (state.bornAt !== null && state.lastNotifiedAt < state.bornAt)
    const dueAt = fresh
      ? (state.bornAt ?? now) + route.groupWaitMs
      : (state.lastNotifiedAt ?? now) + route.groupIntervalMs
    groups.push({
      receiver: g.receiver,
      groupKey: g.groupKey,
      channel: g.channel,
      route,
      alerts,
      state,
      dueAt,
    })
  }
  // Groups that had firing alerts and now have none routed (resolved and forgotten, or silenced).
  for (const [id, s] of states) {
    if (!byId.has(id) && s.bornAt !== null) touched.push({ ...s, bornAt: null })
  }
  groups.sort((a, b) => (a.receiver + a.groupKey < b.receiver + b.groupKey ? -1 : 1))
  return { groups, touched }
}
