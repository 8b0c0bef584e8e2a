// Stage 6 — repeat: decides which groups are notified now. News goes out once
// the group's timing allows (group_wait for a new group, group_interval after
// the last notification); a group whose firing alerts are unchanged is sent
// again after `repeat_interval`, so a standing problem is not forgotten. Also
// says when the next decision falls due, so the caller can wake up then. Pure.
import type { Decision, DedupedGroup } from './types.ts'

export interface RepeatResult {
  decisions: Decision[]
  /** Earliest future time a group will need a notification, or null. */
  nextWakeAt: number | null
}

export function decideNotifications(groups: readonly DedupedGroup[], now: number): RepeatResult {
  const decisions: Decision[] = []
  let nextWakeAt: number | null = null
  const wakeAt = (t: number) => {
    if (nextWakeAt === null || t < nextWakeAt) nextWakeAt = t
  }
  for (const g of groups) {
    if (g.firing.length === 0 && g.resolved.length === 0) continue
    if (g.changed) {
      if (now >= g.dueAt)
        decisions.push({ group: g, reason: g.state.lastNotifiedAt === null ? 'new' : 'changed' })
      else wakeAt(g.dueAt)
      continue
    }
    if (g.firing.length === 0 || g.state.lastNotifiedAt === null) continue
    const repeatAt = g.state.lastNotifiedAt + g.route.repeatIntervalMs
    if (now >= repeatAt) decisions.push({ group: g, reason: 'repeat' })
    else wakeAt(repeatAt)
  }
  return { decisions, nextWakeAt }
}
