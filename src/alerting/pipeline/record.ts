// Stage 7 — record: turns each decision into a notification in the durable
// outbox and advances the group's notification log. The notification id is
// derived from (receiver, group, change sequence, what changed), so two
// instances that take the same decision from the same stored state produce
// the same id: the outbox keeps one entry and receivers deduplicate on the
// `webhook-id`. Building is pure; `writeOutbox` is the one write.
import { createHash } from 'node:crypto'
import type { Notification, NotificationKind } from '../../domain/alert.ts'
import type { Channel, Decision, GroupState, LiveAlert, OutboxEntry } from './types.ts'

/** Hex digest of a string; injected so tests can pin ids. */
export type Hash = (text: string) => string

export const sha256Hex: Hash = (text) => createHash('sha256').update(text).digest('hex')

/** The kind of a notification about a group of one channel. */
export function notificationKind(channel: Channel, firing: readonly LiveAlert[]): NotificationKind {
  switch (channel) {
    case 'alert':
      return firing.length > 0 ? 'alert.firing' : 'alert.resolved'
    case 'rollback':
      return 'rollback.advised'
    case 'readiness':
      return firing.some((a) => a.alert.type === 'deactivation_not_ready')
        ? 'deactivation.not_ready'
        : 'deactivation.ready'
  }
}

/**
 * `ntf_` + 32 hex characters of hash(receiver, groupKey, seq, content), where
 * content lists the firing and resolved alert episodes.
 */
export function notificationId(
  hash: Hash,
  receiver: string,
  groupKey: string,
  seq: number,
  firing: readonly string[],
  resolved: readonly string[],
): string {
  const content = [...firing.map((k) => `F ${k}`), ...resolved.map((k) => `R ${k}`)].sort().join('\n')
  return `ntf_${hash(`${receiver}\n${groupKey}\n${seq}\n${content}`).slice(0, 32)}`
}

export interface RecordOptions {
  hash: Hash
  dashboardUrl?: string | undefined
}

export interface RecordResult {
  entries: OutboxEntry[]
  /** Notification logs after these notifications. */
  groupStates: GroupState[]
}

export function recordDecisions(
  decisions: readonly Decision[],
  now: number,
  opts: RecordOptions,
): RecordResult {
  const entries: OutboxEntry[] = []
  const groupStates: GroupState[] = []
  for (const { group: g } of decisions) {
    const seq = g.state.seq + 1
    const firingKeys = g.firing.map((a) => a.episodeKey)
    const id = notificationId(
      opts.hash,
      g.receiver,
      g.groupKey,
      seq,
      firingKeys,
      g.resolved.map((a) => a.episodeKey),
    )
    const kind = notificationKind(g.channel, g.firing)
    const notification: Notification = {
      id,
      kind,
      receiver: g.receiver,
      alerts: [...g.firing, ...g.resolved].map((a) => a.alert),
      groupKey: g.groupKey,
      createdAt: now,
    }
    if (opts.dashboardUrl !== undefined) notification.dashboardUrl = opts.dashboardUrl
    entries.push({
      id,
      receiver: g.receiver,
      kind,
      groupKey: g.groupKey,
      notification,
      createdAt: now,
      state: 'pending',
      attempts: 0,
      nextAttemptAt: now,
      lastError: '',
      firstFailureAt: null,
      updatedAt: now,
      ver: 0,
    })
    groupStates.push({
      ...g.state,
      lastNotifiedAt: now,
      firing: [...new Set([...firingKeys, ...g.held])].sort(),
      seq,
    })
  }
  return { entries, groupStates }
}

/** The outbox port `writeOutbox` needs. */
export interface OutboxWriter {
  /** Ids among `ids` already in the outbox (in any state). */
  existingOutboxIds(ids: readonly string[]): Promise<Set<string>>
  insertOutbox(entries: readonly OutboxEntry[]): Promise<void>
}

/**
 * Writes new entries; entries whose id is already in the outbox (another instance,
 * or this one before a crash, decided the same notification) are skipped.
 * Resolves with the entries actually written: only those go to the delivery worker.
 */
export async function writeOutbox(
  store: OutboxWriter,
  entries: readonly OutboxEntry[],
): Promise<OutboxEntry[]> {
  if (entries.length === 0) return []
  const existing = await store.existingOutboxIds(entries.map((e) => e.id))
  const fresh = entries.filter((e) => !existing.has(e.id))
  if (fresh.length > 0) await store.insertOutbox(fresh)
  return fresh
}
