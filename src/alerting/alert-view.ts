// Open alerts as the HTTP API and the CLI show them: pending and firing alerts
// from the store (so every instance answers, not only the leader), with the
// silences muting them. Alerts and signals alike; `channel` tells them apart.

import { isSilenceActive, silenceMatches } from './pipeline/silence.ts'
import type { AlertState, Channel, Silence } from './pipeline/types.ts'
import type { AlertPipelineStore } from './pipeline.ts'

export interface AlertView {
  id: string
  channel: Channel
  status: 'pending' | 'firing'
  silenced_by: string[]
  type: string
  severity: string
  key_id: string
  version: string
  scope: string
  labels: Record<string, string>
  title: string
  summary: string
  evidence: Record<string, unknown>
  starts_at: string
  pending_since: string
  fired_at: string | null
  last_seen: string
}

const iso = (t: number) => new Date(t).toISOString()

export function toAlertView(s: AlertState, silences: readonly Silence[], now: number): AlertView {
  const a = s.alert
  const live = { ...a, status: 'firing' as const, startsAt: s.startsAt, updatedAt: s.lastSeen }
  return {
    id: a.id,
    channel: s.channel,
    status: s.phase === 'firing' ? 'firing' : 'pending',
    silenced_by: silences.filter((x) => isSilenceActive(x, now) && silenceMatches(x, live)).map((x) => x.id),
    type: a.type,
    severity: a.severity,
    key_id: a.keyId,
    version: a.version,
    scope: a.scope,
    labels: a.labels,
    title: a.title,
    summary: a.summary,
    evidence: a.evidence,
    starts_at: iso(s.startsAt),
    pending_since: iso(s.activeSince),
    fired_at: s.firedAt === null ? null : iso(s.firedAt),
    last_seen: iso(s.lastSeen),
  }
}

/** Pending and firing alerts, most severe first, then by id. */
export async function listOpenAlerts(
  store: Pick<AlertPipelineStore, 'loadAlertStates' | 'silences'>,
  now: number,
): Promise<AlertView[]> {
  const [states, silences] = await Promise.all([store.loadAlertStates(now + 1), store.silences(now)])
  const rank: Record<string, number> = { critical: 0, warning: 1, info: 2 }
  return states
    .filter((s) => s.phase !== 'resolved')
    .map((s) => toAlertView(s, silences, now))
    .sort(
      (a, b) => (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    )
}
