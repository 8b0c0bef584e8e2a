// What about a key needs a person, from what the key list already holds (the
// registry, the versions seen in 24 h) and the open alerts: no per-key read, so
// GET /api/v1/keys?order=attention ranks 10 000 keys in one pass and the status
// page shows the keys that need attention first, one page at a time.

import { SEVERITIES, type Severity } from '../domain/alert.ts'
import type { KeyVersion } from '../domain/key-version.ts'

export interface KeyAttention {
  /** The most urgent reason's level; null when nothing about the key needs a person. */
  level: Severity | null
  /** Why, most urgent first (plain sentences). */
  reasons: string[]
}

/** An open alert as GET /api/v1/alerts lists it (only what ranking needs). */
export interface OpenAlertOfKey {
  key_id: string
  version: string
  type: string
  severity: string
  status: 'pending' | 'firing'
  silenced_by: readonly string[]
}

const RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 }

/**
 * The key's attention: a deactivated version that still carried requests in
 * the last 24 h (critical: the gateway still accepts it, or clients keep failing
 * on it); firing, unsilenced alerts about the key (at their severity); a
 * rotation in progress, that is a registered version older than the newest
 * active one and not yet deactivated (info: its readiness is to be checked).
 * `registryVersions` are the key's versions in version order.
 */
export function keyAttention(
  registryVersions: readonly KeyVersion[],
  seenVersions: readonly string[],
  alerts: readonly OpenAlertOfKey[],
): KeyAttention {
  const found: { level: Severity; reason: string }[] = []
  const seen = new Set(seenVersions)
  for (const v of registryVersions) {
    if (v.state === 'deactivated' && seen.has(v.version))
      found.push({
        level: 'critical',
        reason: `${v.version} is deactivated but carried requests in the last 24 h`,
      })
  }
  for (const a of alerts) {
    if (a.status !== 'firing' || a.silenced_by.length > 0) continue
    const level = (SEVERITIES as readonly string[]).includes(a.severity)
      ? (a.severity as Severity)
      : 'warning'
    found.push({
      level,
      reason: `${a.type.replaceAll('_', ' ')}${a.version ? ` on ${a.version}` : ''} firing`,
    })
  }
  let newestActive = -1
  registryVersions.forEach((v, i) => {
    if (v.state === 'active') newestActive = i
  })
  const rotating = registryVersions
    .slice(0, Math.max(newestActive, 0))
    .filter((v) => v.state !== 'deactivated')
    .map((v) => v.version)
  if (rotating.length > 0)
    found.push({ level: 'info', reason: `rotation in progress: ${rotating.join(', ')} not yet deactivated` })
  found.sort((a, b) => RANK[a.level] - RANK[b.level])
  return { level: found[0]?.level ?? null, reasons: found.map((f) => f.reason) }
}

/**
 * Sort key for "needs attention first": critical, warning, info, then nothing,
 * each by key id. Unique per key, so it is also the pagination cursor's key.
 */
export function attentionSortKey(keyId: string, a: KeyAttention): string {
  return `${a.level === null ? 3 : RANK[a.level]}\u0000${keyId}`
}
