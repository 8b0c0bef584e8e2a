// Whether a key's stored history is long enough to call a client or address
// "new" on a retired version. possible_leak compares who used a version after
// its deprecation with who used it before; keyshift installed mid-rotation has
// seen nobody before, so every straggler would look new. The comparison is
// judged against the history actually stored for the key (its earliest stored
// event), never against `now − history_ms` alone. Pure.
import type { KeyVersion } from '../domain/key-version.ts'

export interface LeakHistory {
  version: string
  /** When the version was deprecated (or deactivated, if earlier or never deprecated). */
  cutoff: number
  cutoffEvent: 'deprecated' | 'deactivated'
  /** Start of the history compared with: the later of the key's earliest stored event and `historyFrom`; null when nothing is stored. */
  historyFrom: number | null
  /** Whether possible_leak is raised for this version at all. */
  judged: boolean
  /** Why, in one sentence (shown in the key's detail). */
  reason: string
}

const iso = (t: number) => new Date(t).toISOString()
const dur = (ms: number) =>
  ms >= 2 * 86_400_000
    ? `${Math.round((ms / 86_400_000) * 10) / 10} d`
    : `${Math.round((ms / 3_600_000) * 10) / 10} h`

/**
 * The judgement for one version, or null when the version is not retired
 * (possible_leak only looks at deprecated and deactivated versions). History
 * suffices when it reaches `minHistoryMs` before the cutoff, or back to the
 * version's creation (every use of the version is then stored, however short
 * its life was).
 */
export function leakHistory(
  keyId: string,
  v: KeyVersion,
  /** Earliest event stored for the key (any version), epoch ms; null when none. */
  keyHistoryFrom: number | null,
  /** The oldest time the history read reaches (`now − analysis.history_ms`). */
  historyFrom: number,
  minHistoryMs: number,
): LeakHistory | null {
  if (v.state !== 'deprecated' && v.state !== 'deactivated') return null
  const cutoffs = [v.deprecatedAt, v.deactivatedAt].filter((t): t is number => t !== null)
  if (cutoffs.length === 0) return null
  const cutoff = Math.min(...cutoffs)
  const cutoffEvent = cutoff === v.deprecatedAt ? 'deprecated' : 'deactivated'
  const base = { version: v.version, cutoff, cutoffEvent } as const
  const what = `${v.version} was ${cutoffEvent} at ${iso(cutoff)}`
  if (keyHistoryFrom === null) {
    return {
      ...base,
      historyFrom: null,
      judged: false,
      reason: `no event of ${keyId} is stored, so nobody is known to have used ${v.version} before it was ${cutoffEvent}`,
    }
  }
  const from = Math.max(historyFrom, keyHistoryFrom)
  const limit = keyHistoryFrom < historyFrom ? ' (analysis.history_ms)' : ''
  const have = cutoff - from
  const born = v.createdAt ?? v.activatedAt
  if (have >= minHistoryMs || (born !== null && from <= born)) {
    return {
      ...base,
      historyFrom: from,
      judged: true,
      reason: `new clients and addresses on ${v.version} are judged against ${dur(Math.max(0, have))} of stored history before ${what} (from ${iso(from)}${limit})`,
    }
  }
  return {
    ...base,
    historyFrom: from,
    judged: false,
    reason:
      have <= 0
        ? `the stored history of ${keyId} starts at ${iso(from)}${limit}, after ${what}: keyshift cannot tell who used ${v.version} before, so possible_leak is not raised`
        : `only ${dur(have)} of history of ${keyId} is stored before ${what} (from ${iso(from)}${limit}); possible_leak needs ${dur(minHistoryMs)} (possible_leak_min_history_ms), so it is not raised`,
  }
}

/** leakHistory for every retired version of the key. */
export function leakHistories(
  keyId: string,
  versions: readonly KeyVersion[],
  keyHistoryFrom: number | null,
  historyFrom: number,
  minHistoryMs: number,
): LeakHistory[] {
  return versions
    .filter((v) => v.keyId === keyId)
    .map((v) => leakHistory(keyId, v, keyHistoryFrom, historyFrom, minHistoryMs))
    .filter((h): h is LeakHistory => h !== null)
}
