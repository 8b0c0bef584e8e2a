// GET /api/v1/keys at 10 000 keys: every key's 24 h summary and attention is
// built once and kept while nothing it is computed from changes (the minute the
// window ends in, the rollups' stored rows, the registry view, which alerts fire
// unsilenced), so each page costs a page and one wave of small reads (the mark,
// the open alerts), not every key: on the embedded engine reads queue one behind
// the other, so fewer reads per request is what keeps a page fast while the
// evaluation reads too.

import { computeShares, type ShareWindow } from '../analysis/share.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS, type TimeWindow } from '../analysis/types.ts'
import { compareVersions } from '../analysis/versions.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import { groupBy } from '../shared/group-by.ts'
import type { KeySummary } from '../store/clickhouse/analytics-store.ts'
import { attentionSortKey, type KeyAttention, keyAttention, type OpenAlertOfKey } from './key-attention.ts'

export interface KeyListEntry extends KeySummary {
  registered: boolean
  registryVersions: KeyVersion[]
  shares1h: ShareWindow | null
  attention: KeyAttention
}

/** An entry before its 1 h shares are read; `seen`: traffic in the last 24 h. */
export type KeyListBase = Omit<KeyListEntry, 'shares1h'> & { seen: boolean }

/** Requests and failures of one key's version over a window. */
export interface VersionTotal {
  keyId: string
  version: string
  requests: number
  failures: number
}

/** What the key list reads from the store (AnalyticsStore implements it). */
export interface KeyListReads {
  keys(w: TimeWindow): Promise<KeySummary[]>
  versionTotals(w: TimeWindow): Promise<VersionTotal[]>
  /** Changes whenever what `keys()` reads changes (AnalyticsStore.keysMark). */
  keysMark(): Promise<string>
}

/** The registry view the key list reads (KeyRegistry implements it). */
export interface KeyListRegistry {
  versions(): readonly KeyVersion[]
  /** Changes whenever versions() would answer differently. */
  readonly generation: number
}

export type KeyOrder = 'key' | 'attention'

export interface AttentionCounts {
  critical: number
  warning: number
  info: number
}

/** Minute-aligned window end: rollups hold whole minutes, so the current partial minute counts. */
export const windowEnd = (now: number) => Math.floor(now / MINUTE_MS) * MINUTE_MS + MINUTE_MS

/**
 * The 24 h window the list totals: the first whole minute at or after
 * now − 24 h (to the second, as the rollups are read) up to the end of the
 * current minute. Both ends move only at a minute boundary, so the window is
 * also the cache's clock: equal windows read equal rows.
 */
export function keyListWindow(now: number): TimeWindow {
  const fromSec = Math.floor((now - DAY_MS) / 1000)
  return { from: Math.ceil(fromSec / 60) * 60 * 1000, to: windowEnd(now) }
}

/**
 * Every key seen in the window or registered, by key id, with what about it
 * needs a person. `registry` is in any order; each key's versions are sorted
 * oldest first. One pass over the rows: no per-key read.
 */
export function keyListBases(
  seen: readonly KeySummary[],
  registry: readonly KeyVersion[],
  alerts: readonly OpenAlertOfKey[],
): KeyListBase[] {
  const seenOf = new Map(seen.map((k) => [k.keyId, k]))
  const registryOf = groupBy(registry, (v) => v.keyId)
  const alertsOf = groupBy(alerts, (a) => a.key_id)
  const ids = [...new Set([...seenOf.keys(), ...registryOf.keys()])].sort()
  return ids.map((keyId) => {
    const s = seenOf.get(keyId)
    const registryVersions = [...(registryOf.get(keyId) ?? [])].sort(compareVersions)
    return {
      keyId,
      requests: s?.requests ?? 0,
      failures: s?.failures ?? 0,
      versions: s?.versions ?? [],
      lastSeen: s?.lastSeen ?? 0,
      registered: registryVersions.length > 0,
      registryVersions,
      attention: keyAttention(registryVersions, s?.versions ?? [], alertsOf.get(keyId) ?? []),
      seen: s !== undefined,
    }
  })
}

/**
 * What of the open alerts the attention of keys depends on (keyAttention reads
 * only firing, unsilenced alerts, in order): equal texts give equal attention.
 */
export function alertsMark(alerts: readonly OpenAlertOfKey[]): string {
  return JSON.stringify(
    alerts
      .filter((a) => a.status === 'firing' && a.silenced_by.length === 0)
      .map((a) => [a.key_id, a.version, a.type, a.severity]),
  )
}

/** Entries with their sort key, ordered by it. */
export interface Sorted {
  key: string
  entry: KeyListBase
}

/** The list built at one generation: both orders, the counts, and each key's totals of the last hour. */
export interface BuiltKeyList {
  byKey: Sorted[]
  byAttention: Sorted[]
  attention: AttentionCounts
  hourTotals: ReadonlyMap<string, readonly VersionTotal[]>
}

export function buildKeyList(
  bases: readonly KeyListBase[],
  hourTotals: ReadonlyMap<string, readonly VersionTotal[]> = new Map(),
): BuiltKeyList {
  // keyListBases returns keys in code-unit order already: the key order is theirs.
  const byKey = bases.map((entry) => ({ key: entry.keyId, entry }))
  const byAttention = bases
    .map((entry) => ({ key: attentionSortKey(entry.keyId, entry.attention), entry }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  return { byKey, byAttention, attention: countAttention(bases), hourTotals }
}

export function countAttention(entries: Iterable<{ attention: KeyAttention }>): AttentionCounts {
  const out = { critical: 0, warning: 0, info: 0 }
  for (const e of entries) if (e.attention.level !== null) out[e.attention.level]++
  return out
}

/**
 * The page of `sorted` after the sort key `after` (exclusive), `limit` long,
 * and whether more follow: what `paginate` returns, by binary search.
 */
export function pageAfter(
  sorted: readonly Sorted[],
  after: string | undefined,
  limit: number,
): { items: Sorted[]; more: boolean } {
  let lo = 0
  if (after !== undefined) {
    let hi = sorted.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (sorted[mid]!.key <= after) lo = mid + 1
      else hi = mid
    }
  }
  const items = sorted.slice(lo, lo + limit)
  return { items, more: sorted.length - lo > limit }
}

/** The 1 h shares of each entry from the hour's totals by key (null for keys not seen in 24 h). */
export function withShares(
  entries: readonly KeyListBase[],
  totalsOf: ReadonlyMap<string, readonly VersionTotal[]>,
  hour: TimeWindow,
): KeyListEntry[] {
  return entries.map(({ seen, ...e }) => ({
    ...e,
    // Each key's totals count as one row at the window start.
    shares1h: seen
      ? computeShares(
          (totalsOf.get(e.keyId) ?? []).map((t) => ({ ...t, minute: hour.from })),
          hour,
        )
      : null,
  }))
}

/** The hour the 1 h shares cover (their `from` and `to`). */
export const shareHour = (now: number): TimeWindow => ({ from: now - HOUR_MS, to: windowEnd(now) })

/**
 * The minute rows `shareHour(now)` counts, as whole minutes: the last hour of
 * `keyListWindow(now)` (both start at a whole number of minutes before the
 * same second), so one generation holds both.
 */
export const keyListHour = (window: TimeWindow): TimeWindow => ({
  from: window.from + DAY_MS - HOUR_MS,
  to: window.to,
})

/**
 * The key list, kept between requests. `get` answers from the list built last
 * when its generation (window, rollups' mark, registry view, alerts' mark) is
 * the current one, and builds it again otherwise; requests arriving during a
 * build share it.
 */
export class KeyListCache {
  readonly #reads: KeyListReads
  readonly #registry: KeyListRegistry
  #last: { generation: string; list: BuiltKeyList } | null = null
  #building: { generation: string; list: Promise<BuiltKeyList> } | null = null
  /** How many times the list was built (for tests and the bench). */
  builds = 0

  constructor(reads: KeyListReads, registry: KeyListRegistry) {
    this.#reads = reads
    this.#registry = registry
  }

  /** `openAlerts`: the open alerts at `now`, being read; awaited beside the mark (one wait, not two). */
  async get(now: number, openAlerts: Promise<readonly OpenAlertOfKey[]>): Promise<BuiltKeyList> {
    const window = keyListWindow(now)
    // Both taken before the reads: rows stored or a registry refreshed meanwhile
    // give the next request a new generation.
    const registry = this.#registry.generation
    const versions = this.#registry.versions()
    const [mark, alerts] = await Promise.all([this.#reads.keysMark(), openAlerts])
    const generation = `${window.from}/${window.to}/${registry}/${mark}/${alertsMark(alerts)}`
    if (this.#last?.generation === generation) return this.#last.list
    if (this.#building?.generation === generation) return this.#building.list
    const list = this.#build(window, versions, alerts)
    this.#building = { generation, list }
    try {
      const built = await list
      this.#last = { generation, list: built }
      return built
    } finally {
      if (this.#building?.list === list) this.#building = null
    }
  }

  async #build(
    window: TimeWindow,
    registry: readonly KeyVersion[],
    alerts: readonly OpenAlertOfKey[],
  ): Promise<BuiltKeyList> {
    this.builds++
    const [seen, hour] = await Promise.all([
      this.#reads.keys(window),
      this.#reads.versionTotals(keyListHour(window)),
    ])
    return buildKeyList(
      keyListBases(seen, registry, alerts),
      groupBy(hour, (t) => t.keyId),
    )
  }
}
