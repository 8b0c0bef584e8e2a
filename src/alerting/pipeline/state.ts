// Stage 1 — state: pending → firing → resolved per alert, from what an
// evaluation observed. An alert fires once it has been observed for `for_ms`
// (pending until then), and resolves once it has not been observed for
// `resolve_after_ms`. Each firing starts a new episode, which is what later
// stages remember, so a re-fire after a resolution is news again. Pure.
import type { AlertContent, AlertState, Observation, StateSettings } from './types.ts'
import { alertKey } from './types.ts'

export interface StateResult {
  /** Every state after this evaluation (resolved ones kept for their resolved notifications). */
  states: Map<string, AlertState>
  /** Keys whose lifecycle changed (new, pending → firing, → resolved, dropped); they must be persisted. */
  changed: Set<string>
}

function sameContent(a: AlertContent, b: AlertContent): boolean {
  return (
    a.severity === b.severity &&
    a.title === b.title &&
    a.summary === b.summary &&
    JSON.stringify(a.labels) === JSON.stringify(b.labels)
  )
}

/**
 * `lastEpisode` tells, for an alert with no state in `prev` (never seen, or
 * forgotten after its retention), the highest episode notification logs still
 * remember, so a new episode is never mistaken for one already notified.
 */
export function advanceStates(
  prev: ReadonlyMap<string, AlertState>,
  observations: readonly Observation[],
  now: number,
  settings: StateSettings,
  lastEpisode: (key: string) => number = () => 0,
): StateResult {
  const states = new Map<string, AlertState>()
  const changed = new Set<string>()
  const seen = new Set<string>()

  for (const o of observations) {
    const key = alertKey(o.channel, o.alert.id)
    if (seen.has(key)) continue // the first observation of an alert wins
    seen.add(key)
    const before = prev.get(key)
    let s: AlertState
    if (before === undefined || before.phase === 'resolved') {
      s = {
        key,
        channel: o.channel,
        phase: 'pending',
        alert: o.alert,
        activeSince: now,
        startsAt: o.startedAt ?? now,
        firedAt: null,
        lastSeen: now,
        resolvedAt: null,
        episode: before?.episode ?? lastEpisode(key),
        ver: before?.ver ?? 0,
      }
      changed.add(key)
    } else {
      s = { ...before, alert: o.alert, lastSeen: now }
      if (!sameContent(before.alert, o.alert)) changed.add(key)
    }
    if (s.phase === 'pending' && now - s.activeSince >= settings.forMs(o.alert.type, o.channel)) {
      s = { ...s, phase: 'firing', firedAt: now, episode: s.episode + 1 }
      changed.add(key)
    }
    states.set(key, s)
  }

  for (const [key, before] of prev) {
    if (seen.has(key)) continue
    if (before.phase === 'pending') {
      // Never fired: dropped without a notification (firedAt stays null).
      states.set(key, { ...before, phase: 'resolved', resolvedAt: now })
      changed.add(key)
    } else if (before.phase === 'firing') {
      if (now - before.lastSeen >= settings.resolveAfterMs(before.channel)) {
        states.set(key, { ...before, phase: 'resolved', resolvedAt: now })
        changed.add(key)
      } else {
        states.set(key, before)
      }
    } else if (before.resolvedAt === null || now - before.resolvedAt < settings.resolvedRetentionMs) {
      states.set(key, before)
    }
    // Resolved longer ago than the retention: forgotten here; the store keeps the row.
  }
  return { states, changed }
}
