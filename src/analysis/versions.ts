// Orders a key's versions from oldest to newest, which every analysis needs to
// tell the "old" version from the "newer" ones. A version is newer when it was
// created later; equal or missing creation times fall back to a natural label
// order (v2 < v10).
import type { KeyVersion } from '../domain/key-version.ts'

/** Natural order of version labels: digit runs compare as numbers (`v2` < `v10`), the rest by code unit. */
export function compareVersionLabels(a: string, b: string): number {
  const ta = a.match(/\d+|\D+/g) ?? []
  const tb = b.match(/\d+|\D+/g) ?? []
  for (let i = 0; i < Math.min(ta.length, tb.length); i++) {
    const x = ta[i]!
    const y = tb[i]!
    const xd = /^\d/.test(x)
    const yd = /^\d/.test(y)
    if (xd && yd) {
      const d = Number(x) - Number(y)
      if (d !== 0) return d
      if (x.length !== y.length) return x.length - y.length
    } else if (x !== y) {
      return x < y ? -1 : 1
    }
  }
  return ta.length - tb.length
}

function createdOrder(v: KeyVersion): number {
  return v.createdAt ?? v.activatedAt ?? Number.POSITIVE_INFINITY
}

/** Oldest first: by creation time (activation when unknown), then label. */
export function compareVersions(a: KeyVersion, b: KeyVersion): number {
  const ca = createdOrder(a)
  const cb = createdOrder(b)
  if (ca !== cb) return ca < cb ? -1 : 1
  return compareVersionLabels(a.version, b.version)
}

/** The versions of `keyId`, oldest first. */
export function versionsOfKey(versions: readonly KeyVersion[], keyId: string): KeyVersion[] {
  return versions.filter((v) => v.keyId === keyId).sort(compareVersions)
}

/** The registry entry of (keyId, version), or null when the registry does not know it. */
export function findVersion(
  versions: readonly KeyVersion[],
  keyId: string,
  version: string,
): KeyVersion | null {
  return versions.find((v) => v.keyId === keyId && v.version === version) ?? null
}

/** Versions of the same key that are newer than `of`, oldest first. */
export function newerVersions(versions: readonly KeyVersion[], of: KeyVersion): KeyVersion[] {
  return versionsOfKey(versions, of.keyId).filter(
    (v) => v.version !== of.version && compareVersions(v, of) > 0,
  )
}

/** The newest version of `keyId` whose state is `active`, or null. */
export function newestActiveVersion(versions: readonly KeyVersion[], keyId: string): KeyVersion | null {
  const active = versionsOfKey(versions, keyId).filter((v) => v.state === 'active')
  return active[active.length - 1] ?? null
}

/** Gateways still accept a version in these states. */
export function isAccepted(v: KeyVersion): boolean {
  return v.state === 'active' || v.state === 'deprecated'
}
