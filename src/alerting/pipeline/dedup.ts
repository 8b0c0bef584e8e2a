// Stage 5 — dedup: compares each group with its notification log (what the
// receiver was last told) and says whether there is news: an alert episode the
// receiver has not seen firing, or a resolution of one it has. A group whose
// firing set was already notified is not news, however often it is evaluated.
// Signal channels (rollback, readiness) never notify resolutions. Pure.
import type { Channel, DedupedGroup, Group } from './types.ts'

/** Channels whose resolutions are notified (`alert.resolved`); signals are edges and are not. */
export function sendsResolved(channel: Channel): boolean {
  return channel === 'alert'
}

export function dedupGroups(groups: readonly Group[], silencedFiring: ReadonlySet<string>): DedupedGroup[] {
  return groups.map((g) => {
    const told = new Set(g.state.firing)
    const firing = g.alerts.filter((a) => a.alert.status === 'firing')
    const resolved = sendsResolved(g.channel)
      ? g.alerts.filter((a) => a.alert.status === 'resolved' && told.has(a.episodeKey))
      : []
    // Still firing but silenced since the last notification: remembered, so their
    // resolution is notified later, but not re-announced.
    const held = g.state.firing.filter((k) => silencedFiring.has(k))
    const changed = firing.some((a) => !told.has(a.episodeKey)) || resolved.length > 0
    return { ...g, firing, resolved, held, changed }
  })
}
