// The data that flows through the alert path, stage to stage. Everything here is
// plain data: the stages are pure functions over it, and the store persists it
// (alert states, group states, silences, outbox entries) so that a restart or a
// new leader continues where the last one stopped.
import type { Alert, AlertType, Notification, NotificationKind } from '../../domain/alert.ts'
import type { ResolvedRoute } from '../config.ts'

/**
 * Which notification family an alert belongs to. `alert`: findings and
 * self-monitoring (`alert.firing` / `alert.resolved`). `rollback`: the
 * `rollback.advised` signal raised by a failures_after_deactivation finding.
 * `readiness`: `deactivation.ready` / `deactivation.not_ready` signals.
 * Signals are edges: only their firing is notified, never their resolution.
 */
export const CHANNELS = ['alert', 'rollback', 'readiness'] as const
export type Channel = (typeof CHANNELS)[number]

/** An alert's content without its lifecycle fields, as an evaluation observes it. */
export type AlertContent = Omit<Alert, 'status' | 'startsAt' | 'endsAt' | 'updatedAt'>

/** One condition seen by one evaluation. */
export interface Observation {
  channel: Channel
  alert: AlertContent
  /** When the condition started according to the data (a finding's first failure), if known. */
  startedAt?: number
}

export type Phase = 'pending' | 'firing' | 'resolved'

/** The lifecycle of one alert (per channel), persisted between evaluations. */
export interface AlertState {
  /** `${channel}|${alert.id}`. */
  key: string
  channel: Channel
  phase: Phase
  /** Content as last observed. */
  alert: AlertContent
  /** Evaluation time the current episode was first observed (pending since). */
  activeSince: number
  /** When the condition started (data time when known, else activeSince). */
  startsAt: number
  firedAt: number | null
  /** Evaluation time of the last observation. */
  lastSeen: number
  resolvedAt: number | null
  /** Incremented each time the alert starts firing; identifies the episode in group states. */
  episode: number
  /** Store row version; bumped on every write. */
  ver: number
}

/** An alert with its lifecycle, as it goes to silencing, routing and grouping. */
export interface LiveAlert {
  key: string
  channel: Channel
  /** `${key}#${episode}`: what notification logs remember. */
  episodeKey: string
  alert: Alert
}

/** A silence: alerts matching every given matcher are not notified between startsAt and endsAt. */
export interface SilenceMatchers {
  /** Alert types (globs). */
  type?: string[]
  /** Key ids (globs, e.g. acme-*). */
  key?: string[]
  version?: string[]
  scope?: string[]
  /** Every listed label must match (values are globs). */
  labels?: Record<string, string>
}

export interface Silence {
  id: string
  matchers: SilenceMatchers
  startsAt: number
  endsAt: number
  createdBy: string
  comment: string
  createdAt: number
  updatedAt: number
  ver: number
}

/** A live alert sent to one receiver through one route. */
export interface Routed {
  live: LiveAlert
  receiver: string
  route: ResolvedRoute
}

/** Notification log of one (receiver, group): Alertmanager's nflog entry. */
export interface GroupState {
  receiver: string
  groupKey: string
  channel: Channel
  /** When the group last became non-empty (group_wait counts from here); null while empty. */
  bornAt: number | null
  lastNotifiedAt: number | null
  /** Episode keys notified as firing by the last notification. */
  firing: string[]
  /** Notifications sent so far; part of the next notification's id. */
  seq: number
  ver: number
}

/** The alerts of one (receiver, group) at this evaluation, with its timing. */
export interface Group {
  receiver: string
  groupKey: string
  channel: Channel
  route: ResolvedRoute
  /** Firing and resolved alerts routed to the group, firing first, in a stable order. */
  alerts: LiveAlert[]
  state: GroupState
  /** Earliest time a notification about a change may go out. */
  dueAt: number
}

/** A group after dedup: which of its alerts a notification would carry, and whether that is news. */
export interface DedupedGroup extends Group {
  firing: LiveAlert[]
  /** Resolved alerts the receiver was told were firing (and, for signal channels, none). */
  resolved: LiveAlert[]
  /** Episode keys still firing but silenced, that the last notification reported firing. */
  held: string[]
  /** The receiver has not been told about this firing set or these resolutions yet. */
  changed: boolean
}

export type SendReason = 'new' | 'changed' | 'repeat'

/** A decision to notify one receiver about one group. */
export interface Decision {
  group: DedupedGroup
  reason: SendReason
}

export const OUTBOX_STATES = ['pending', 'delivered', 'failed', 'expired'] as const
export type OutboxState = (typeof OUTBOX_STATES)[number]

/** A notification in the durable outbox, with its delivery progress. */
export interface OutboxEntry {
  id: string
  receiver: string
  kind: NotificationKind
  groupKey: string
  notification: Notification
  createdAt: number
  state: OutboxState
  attempts: number
  nextAttemptAt: number
  lastError: string
  firstFailureAt: number | null
  updatedAt: number
  /** Store row version: `attempts * 10`, `+ 9` once final, so a late re-insert never wins. */
  ver: number
}

/** Pending → firing delay per alert type and channel; resolve delay per channel. */
export interface StateSettings {
  forMs(type: AlertType, channel: Channel): number
  resolveAfterMs(channel: Channel): number
  /** How long resolved alerts stay in memory for their resolved notifications. */
  resolvedRetentionMs: number
}

export function alertKey(channel: Channel, alertId: string): string {
  return `${channel}|${alertId}`
}

export function episodeKey(s: Pick<AlertState, 'key' | 'episode'>): string {
  return `${s.key}#${s.episode}`
}

/**
 * The Alert a state stands for now; null while pending and for alerts dropped
 * while pending (they never fired, so there is nothing to resolve).
 */
export function liveAlert(s: AlertState): LiveAlert | null {
  if (s.phase === 'pending' || s.firedAt === null) return null
  const alert: Alert = {
    ...s.alert,
    status: s.phase === 'resolved' ? 'resolved' : 'firing',
    startsAt: s.startsAt,
    updatedAt: s.lastSeen,
  }
  if (s.phase === 'resolved' && s.resolvedAt !== null) alert.endsAt = s.resolvedAt
  return { key: s.key, channel: s.channel, episodeKey: episodeKey(s), alert }
}
