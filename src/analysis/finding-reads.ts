// Which stored rows a key's findings need, from its registered versions alone:
// most keys (every version active, none near expiry) need only their failure
// minutes, so an evaluation round need not read a day of traffic and a week of
// client usage for them. Kept beside the detectors it mirrors (findings.ts).
import type { KeyVersion } from '../domain/key-version.ts'
import type { FindingSettings } from './findings.ts'
import { isAccepted } from './versions.ts'

export interface FindingReads {
  /** Per-minute traffic per version (migration_stalled, expiring_with_traffic). */
  traffic: boolean
  /** Client usage, recent and historical, and the key's stored history (failures_after_deactivation, possible_leak, expiring_with_traffic). */
  usage: boolean
}

/**
 * What `evaluateKeyFindings` reads for a key with these versions at `now`.
 * traffic: an accepted version expiring within the migration_stalled or
 * expiring_with_traffic window (those detectors skip every other version).
 * usage: a deprecated or deactivated version (possible_leak,
 * failures_after_deactivation), or traffic (expiring_with_traffic lists clients).
 * Failure minutes are always read (failure_spike, new_version_failing, …).
 */
export function findingReads(
  keyVersions: readonly KeyVersion[],
  now: number,
  s: Pick<FindingSettings, 'stall_expiry_within_ms' | 'expiring_within_ms'>,
): FindingReads {
  const within = Math.max(s.stall_expiry_within_ms, s.expiring_within_ms)
  const traffic = keyVersions.some(
    (v) => isAccepted(v) && v.expiresAt !== null && v.expiresAt > now && v.expiresAt <= now + within,
  )
  const retired = keyVersions.some((v) => v.state === 'deprecated' || v.state === 'deactivated')
  return { traffic, usage: traffic || retired }
}
