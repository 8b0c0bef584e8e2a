// Which keys one evaluation round must re-read, as pure functions of what the
// store recorded since the last round (key touches), the registry and the
// clock. Everything else keeps its findings from the round that last read it:
// a key's findings change only through its own events, its registry versions,
// or time crossing one of its thresholds (see `timeDueKeys`); findings that
// are open are re-read every round as their windows slide. No I/O, no clock.
import type { FindingSettings } from '../analysis/findings.ts'
import { compareVersions, isAccepted, newestActiveVersion } from '../analysis/versions.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import { groupBy } from '../shared/group-by.ts'

/** What one stored insert did to one key (store table `auth_key_touches`). */
export interface KeyTouch {
  /** Store time of the insert (ingested_at), epoch ms. */
  at: number
  keyId: string
  /** Events of the key in the insert that were not successes. */
  failures: number
  /** Version labels of those events, at most `TOUCH_VERSIONS_MAX` (more: treat as any). */
  versions: string[]
  /** Unique per stored row: tells apart two inserts of one key in one millisecond. */
  id: string
}

export type PlanSettings = Pick<
  FindingSettings,
  | 'stall_expiry_within_ms'
  | 'expiring_within_ms'
  | 'critical_within_ms'
  | 'deactivation_grace_ms'
  | 'failure_window_ms'
>

/**
 * Whether a touch can change its key's findings, given the key's registered
 * versions at `now`. Only successes on the newest active version of a key
 * with no version near expiry cannot: no detector creates a finding from them
 * (rejections, retired or unknown versions, unregistered versions and expiring
 * versions' traffic shares all can). Keys with no registered version have only
 * failure-driven findings (failure_spike). `versionsMax`: a touch listing that
 * many versions may have had more, so it counts.
 *
 * Limit: new_version_failing also needs a success elsewhere; a success that
 * alone completes it is seen at the failing gateway's next rejection (it keeps
 * failing) or by the sweep.
 */
export function touchMatters(
  touch: Pick<KeyTouch, 'failures' | 'versions'>,
  keyVersions: readonly KeyVersion[],
  now: number,
  s: PlanSettings,
  versionsMax: number,
): boolean {
  if (touch.failures > 0) return true
  if (keyVersions.length === 0) return false
  if (touch.versions.length >= versionsMax) return true
  const newest = newestActiveVersion(keyVersions, keyVersions[0]!.keyId)
  if (newest === null || touch.versions.some((v) => v !== newest.version)) return true
  return keyVersions.some((v) => nearExpiry(v, now, s))
}

/** Accepted and expiring within the window of migration_stalled or expiring_with_traffic. */
function nearExpiry(v: KeyVersion, now: number, s: PlanSettings): boolean {
  const within = Math.max(s.stall_expiry_within_ms, s.expiring_within_ms)
  return isAccepted(v) && v.expiresAt !== null && v.expiresAt > now && v.expiresAt - now <= within
}

/**
 * The times at which a version's findings can change with no new event: its
 * expiry thresholds (migration_stalled and expiring_with_traffic start, turn
 * critical, stop at expiry) and the end of its deactivation grace and failure
 * window.
 */
export function versionThresholds(v: KeyVersion, s: PlanSettings): number[] {
  const out: number[] = []
  if (v.expiresAt !== null) {
    out.push(
      v.expiresAt - s.stall_expiry_within_ms,
      v.expiresAt - s.expiring_within_ms,
      v.expiresAt - s.critical_within_ms,
      v.expiresAt,
    )
  }
  if (v.deactivatedAt !== null) {
    out.push(v.deactivatedAt + s.deactivation_grace_ms, v.deactivatedAt + s.failure_window_ms)
  }
  return out
}

/** Keys with a version threshold in (from, to]: time alone may change their findings. */
export function timeDueKeys(
  versions: readonly KeyVersion[],
  from: number,
  to: number,
  s: PlanSettings,
): Set<string> {
  const out = new Set<string>()
  for (const v of versions) {
    if (versionThresholds(v, s).some((t) => t > from && t <= to)) out.add(v.keyId)
  }
  return out
}

/** One string per key standing for all its registered versions (compared between rounds). */
export function registryFingerprints(versions: readonly KeyVersion[]): Map<string, string> {
  const out = new Map<string, string>()
  for (const [k, vs] of versionsByKey(versions)) out.set(k, JSON.stringify(vs))
  return out
}

/** Keys whose fingerprint differs between `before` and `after` (added, changed, removed). */
export function changedKeys(
  before: ReadonlyMap<string, string>,
  after: ReadonlyMap<string, string>,
): Set<string> {
  const out = new Set<string>()
  for (const [k, f] of after) if (before.get(k) !== f) out.add(k)
  for (const k of before.keys()) if (!after.has(k)) out.add(k)
  return out
}

/**
 * How many keys of `total` the safety-net sweep re-reads after `elapsedMs`, so
 * that every key is re-read at least once per `periodMs`: at least one while
 * any key exists, at most all of them.
 */
export function sweepCount(total: number, elapsedMs: number, periodMs: number): number {
  if (total === 0) return 0
  return Math.min(total, Math.max(1, Math.ceil((total * Math.max(0, elapsedMs)) / periodMs)))
}

/** `count` keys of the sorted `keys` from `cursor` on, wrapping around; and the next cursor. */
export function sweepSlice(
  keys: readonly string[],
  cursor: number,
  count: number,
): { keys: string[]; cursor: number } {
  if (keys.length === 0) return { keys: [], cursor: 0 }
  const start = cursor % keys.length
  const n = Math.min(count, keys.length)
  const out: string[] = []
  for (let i = 0; i < n; i++) out.push(keys[(start + i) % keys.length]!)
  return { keys: out, cursor: (start + n) % keys.length }
}

/** Touches not seen before (by id), and the keys of those that matter (`touchMatters`). */
export function newTouches(
  touches: readonly KeyTouch[],
  seen: ReadonlySet<string>,
  versionsOf: (keyId: string) => readonly KeyVersion[],
  now: number,
  s: PlanSettings,
  versionsMax: number,
): { fresh: KeyTouch[]; keys: Set<string> } {
  const fresh = touches.filter((t) => !seen.has(t.id))
  const keys = new Set<string>()
  for (const t of fresh) {
    if (!keys.has(t.keyId) && touchMatters(t, versionsOf(t.keyId), now, s, versionsMax)) keys.add(t.keyId)
  }
  return { fresh, keys }
}

/** Registered versions grouped by key, oldest first (as `versionsOfKey`). */
export function versionsByKey(versions: readonly KeyVersion[]): Map<string, KeyVersion[]> {
  const out = groupBy(versions, (v) => v.keyId)
  for (const vs of out.values()) vs.sort(compareVersions)
  return out
}
