// The read side of keyshift: composes rollup reads from the store with the
// pure analysis functions. The HTTP API, `keyshift gate`/`status` and the
// evaluation loop all call this one service, so they always agree.

import { findingReads } from '../analysis/finding-reads.ts'
import type { Finding } from '../analysis/findings.ts'
import {
  evaluateKeyFindings,
  failureLookbackMs,
  failuresAfterDeactivation,
  type KeyFindingsInput,
  newVersionFailing,
  unknownKeySurges,
} from '../analysis/findings.ts'
import type { VersionSeen } from '../analysis/first-last-seen.ts'
import { type PlaceHeard, type PlaceStatus, placeStatuses, placesOfKey } from '../analysis/freshness.ts'
import { type LeakHistory, leakHistories } from '../analysis/leak-history.ts'
import { evaluateReadiness, type Readiness, readinessRulesFor } from '../analysis/readiness.ts'
import { computeShares, presetWindow, type ShareWindow, shareSeries } from '../analysis/share.ts'
import { findStragglers, type StragglerReport } from '../analysis/stragglers.ts'
import { estimateShareTrend, type ShareTrend } from '../analysis/trend.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS, type TimeWindow, type VersionMinute } from '../analysis/types.ts'
import { findVersion, newerVersions, versionsOfKey } from '../analysis/versions.ts'
import type { Config } from '../config/schema.ts'
import { UNKNOWN_KEY } from '../domain/auth-event.ts'
import { NotFoundError } from '../domain/errors.ts'
import { type KeyVersion, newKeyVersion } from '../domain/key-version.ts'
import type { KeyRegistry } from '../registry/key-registry.ts'
import { groupBy } from '../shared/group-by.ts'
import type { AnalyticsStore } from '../store/clickhouse/analytics-store.ts'
import type { PlacesStore } from '../store/clickhouse/places-store.ts'
import type { StatusStore } from '../store/clickhouse/status-store.ts'
import type { OpenAlertOfKey } from './key-attention.ts'
import {
  type AttentionCounts,
  countAttention,
  KeyListCache,
  type KeyListEntry,
  type KeyOrder,
  keyListBases,
  keyListWindow,
  pageAfter,
  type Sorted,
  shareHour,
  windowEnd,
  withShares,
} from './key-list.ts'

export type { KeyListEntry } from './key-list.ts'

export interface KeyDetail {
  keyId: string
  now: number
  /** Registered versions plus versions only seen in traffic (`registered: false`). */
  versions: (KeyVersion & { registered: boolean; seen: VersionSeen | null })[]
  shares: { '5m': ShareWindow; '1h': ShareWindow; '24h': ShareWindow; custom?: ShareWindow }
  /** Share per version in 1-hour buckets over the last 24 hours. */
  series: ShareWindow[]
  /** Trend and ETA to zero for each version older than the newest active one. */
  trends: { version: string; trend: ShareTrend }[]
  /**
   * How much of the key's history is stored, and per retired version whether
   * possible_leak is judged and why (keyshift installed mid-rotation: not raised).
   */
  history: { keyHistoryFrom: number | null; possibleLeak: LeakHistory[] }
  /**
   * Every gateway and source that carried the key's traffic within its readiness
   * lookback, silent ones first: while one is silent, the key's verdicts are unknown.
   */
  places: PlaceStatus[]
}

export type Analysis = Config['analysis']

export interface VerdictRequest {
  keyId: string
  version: string
  askedBy: string
  via: 'api' | 'cli' | 'evaluation' | 'status'
  /** Record the verdict in the audit log (default true). */
  audit?: boolean
}

/**
 * Keys per findings read: few reads per evaluation, and one read's rows stay
 * bounded. 100 measured fastest on the embedded store at 1 000 keys with 3
 * clients each (10: 6.0 s, 100: 2.5–2.9 s, 1 000: 3.6–4.2 s for all keys).
 */
const KEYS_PER_READ = 100

export class RotationService {
  readonly #a: AnalyticsStore
  readonly #status: StatusStore
  readonly #keys: KeyRegistry
  readonly #s: Analysis
  readonly #places: PlacesStore
  readonly #keyList: KeyListCache

  constructor(deps: {
    analytics: AnalyticsStore
    status: StatusStore
    places: PlacesStore
    keys: KeyRegistry
    analysis: Analysis
  }) {
    this.#a = deps.analytics
    this.#status = deps.status
    this.#places = deps.places
    this.#keys = deps.keys
    this.#s = deps.analysis
    this.#keyList = new KeyListCache(deps.analytics, deps.keys)
  }

  get keys(): KeyRegistry {
    return this.#keys
  }

  /**
   * Every key seen in the last 24 h or registered, by key id, each with what
   * about it needs a person (`alerts`: the open alerts, for that judgement).
   * One pass over the rows of two reads (the CLI; the API pages through keyList).
   */
  async listKeys(now: number, alerts: readonly OpenAlertOfKey[] = []): Promise<KeyListEntry[]> {
    const hour = shareHour(now)
    const [seen, totals] = await Promise.all([this.#a.keys(keyListWindow(now)), this.#a.versionTotals(hour)])
    return withShares(
      keyListBases(seen, this.#keys.versions(), alerts),
      groupBy(totals, (t) => t.keyId),
      hour,
    )
  }

  /**
   * One page of the key list (by key id or needs-attention first, optionally
   * only ids containing `contains`, case-insensitive), the number of keys
   * matching and their attention counts. The list of every key is kept between
   * calls while nothing it depends on changed (KeyListCache), with every key's
   * hour totals for the 1 h shares. `after`: the sort key of the previous page's last key.
   */
  async keyListPage(
    now: number,
    alerts: Promise<readonly OpenAlertOfKey[]>,
    q: { order: KeyOrder; contains?: string | undefined; limit: number; after?: string | undefined },
  ): Promise<{
    keys: KeyListEntry[]
    lastSortKey: string | null
    more: boolean
    total: number
    attention: AttentionCounts
  }> {
    const built = await this.#keyList.get(now, alerts)
    const needle = q.contains?.toLowerCase()
    const matching = (sorted: Sorted[]) =>
      needle === undefined ? sorted : sorted.filter((x) => x.entry.keyId.toLowerCase().includes(needle))
    const sorted = matching(q.order === 'attention' ? built.byAttention : built.byKey)
    const page = pageAfter(sorted, q.after, q.limit)
    return {
      keys: withShares(
        page.items.map((x) => x.entry),
        built.hourTotals,
        shareHour(now),
      ),
      lastSortKey: page.items.at(-1)?.key ?? null,
      more: page.more,
      total: sorted.length,
      attention: needle === undefined ? built.attention : countAttention(sorted.map((x) => x.entry)),
    }
  }

  /** How many times the key list of every key was built (tests, benches). */
  get keyListBuilds(): number {
    return this.#keyList.builds
  }

  async keyDetail(keyId: string, now: number, custom?: TimeWindow): Promise<KeyDetail> {
    const registryVersions = versionsOfKey(this.#keys.versions(), keyId)
    const end = windowEnd(now)
    const dayWindow = { from: end - DAY_MS, to: end }
    const wide = custom
      ? { from: Math.min(custom.from, dayWindow.from), to: Math.max(custom.to, end) }
      : dayWindow
    const [minutes, seen, keyHistory, places] = await Promise.all([
      this.#a.versionMinutes(keyId, wide),
      this.#a.versionSeen(keyId, { from: end - this.#s.history_ms, to: end }),
      this.#a.keyHistoryFrom([keyId]),
      this.#placesOfKey(keyId, now).then((heard) => placeStatuses(heard, this.#s.freshness, now)),
    ])
    if (registryVersions.length === 0 && minutes.length === 0 && seen.length === 0) {
      throw new NotFoundError(`key ${keyId} is neither registered nor seen in traffic`)
    }
    const labels = new Set([...registryVersions.map((v) => v.version), ...seen.map((s) => s.version)])
    const versions = [...labels].map((label) => {
      const reg = registryVersions.find((v) => v.version === label)
      return {
        ...(reg ?? unregistered(keyId, label)),
        registered: reg !== undefined,
        seen: seen.find((s) => s.version === label) ?? null,
      }
    })
    const win = (p: '5m' | '1h' | '24h') => {
      const w = presetWindow(p, end)
      return computeShares(minutes, w)
    }
    const series = shareSeries(minutes, dayWindow, HOUR_MS)
    const newestActive = registryVersions.filter((v) => v.state === 'active').at(-1)
    const trends = newestActive
      ? versions
          .filter((v) => v.version !== newestActive.version && v.version !== 'unknown')
          .map((v) => ({ version: v.version, trend: estimateShareTrend(series, v.version, this.#s.trend) }))
      : []
    return {
      keyId,
      now,
      versions,
      shares: {
        '5m': win('5m'),
        '1h': win('1h'),
        '24h': win('24h'),
        ...(custom ? { custom: computeShares(minutes, custom) } : {}),
      },
      series,
      trends,
      history: {
        keyHistoryFrom: keyHistory.get(keyId) ?? null,
        possibleLeak: leakHistories(
          keyId,
          registryVersions,
          keyHistory.get(keyId) ?? null,
          end - this.#s.history_ms,
          this.#s.findings.possible_leak_min_history_ms,
        ),
      },
      places,
    }
  }

  async stragglers(
    keyId: string,
    version: string,
    now: number,
    lookbackMs = DAY_MS,
  ): Promise<StragglerReport> {
    const end = windowEnd(now)
    const window = { from: end - lookbackMs, to: end }
    const registry = this.#keys.versions()
    const asked = findVersion(registry, keyId, version)
    const newer = asked ? newerVersions(registry, asked).map((v) => v.version) : []
    const [recent, history] = await Promise.all([
      this.#a.clientUsage(keyId, window),
      this.#a.clientUsage(keyId, { from: end - Math.max(this.#s.history_ms, lookbackMs), to: end }),
    ])
    return findStragglers({ oldVersion: version, newerVersions: newer, recent, history, window })
  }

  /**
   * Findings for one key, a few keys, or every key with traffic or registered
   * versions; the unknown key's surges when every key or `unknown` is asked for.
   */
  async findings(now: number, only?: string | readonly string[]): Promise<Finding[]> {
    const asked = typeof only === 'string' ? [only] : only
    const keyIds = asked ? [...asked] : await this.findingKeys(now)
    const out = await this.keyFindings(keyIds, now)
    if (!asked || asked.includes(UNKNOWN_KEY)) out.push(...(await this.unknownKeyFindings(now)))
    return out
  }

  /** Every key `findings(now)` covers: seen in the last 24 h or registered, sorted, the unknown key aside. */
  async findingKeys(now: number): Promise<string[]> {
    const end = windowEnd(now)
    const seen = await this.#a.keys({ from: end - DAY_MS, to: end })
    return [...new Set([...seen.map((k) => k.keyId), ...this.#keys.versions().map((v) => v.keyId)])]
      .filter((k) => k !== UNKNOWN_KEY)
      .sort()
  }

  /** Findings of exactly these keys at `now` (evaluation rounds read only keys that changed). */
  async keyFindings(keyIds: readonly string[], now: number): Promise<Finding[]> {
    // A few reads per chunk of keys, not a few per key; chunks keep one read's
    // rows (and the store's time on it) bounded.
    if (keyIds.length === 0) return []
    // Only these keys' versions: a round reads a few keys of a registry of thousands.
    const wanted = new Set(keyIds)
    const versionsOf = groupBy(
      this.#keys.versions().filter((v) => wanted.has(v.keyId)),
      (v) => v.keyId,
    )
    const out: Finding[] = []
    for (let i = 0; i < keyIds.length; i += KEYS_PER_READ) {
      out.push(...(await this.#keyFindings(keyIds.slice(i, i + KEYS_PER_READ), now, versionsOf)))
    }
    return out
  }

  /** Surges of requests with keys nobody registered (not about one key). */
  async unknownKeyFindings(now: number): Promise<Finding[]> {
    const end = windowEnd(now)
    const [failures, usage] = await Promise.all([
      this.#a.unknownKeyFailureMinutes({ from: end - DAY_MS, to: end }),
      this.#a.clientUsage(UNKNOWN_KEY, { from: end - HOUR_MS, to: end }),
    ])
    return unknownKeySurges({ now, failures, usage }, this.#s.findings)
  }

  /** Findings of a few keys, from one read per kind of rows for all of them. */
  async #keyFindings(
    keyIds: readonly string[],
    now: number,
    versionsOf: ReadonlyMap<string, KeyVersion[]>,
  ): Promise<Finding[]> {
    const f = this.#s.findings
    const end = windowEnd(now)
    const trafficMs = Math.max(f.trend_window_ms, f.traffic_window_ms)
    const historyFrom = end - this.#s.history_ms
    const failureFrom = end - Math.max(failureLookbackMs(f), HOUR_MS)
    // Most keys need only their failure minutes (findingReads): a day of
    // traffic and a week of client usage are read for the keys whose
    // detectors look at them.
    const reads = new Map(keyIds.map((k) => [k, findingReads(versionsOf.get(k) ?? [], now, f)]))
    const trafficKeys = keyIds.filter((k) => reads.get(k)?.traffic)
    const usageKeys = keyIds.filter((k) => reads.get(k)?.usage)
    const byLookback = new Map<number, string[]>()
    for (const k of usageKeys) {
      const lookback = readinessRulesFor(this.#s.readiness, k).lookback_ms
      byLookback.set(lookback, [...(byLookback.get(lookback) ?? []), k])
    }
    const [keyHistory, traffic, historyUsage, failures, ...recent] = await Promise.all([
      usageKeys.length > 0 ? this.#a.keyHistoryFrom(usageKeys) : new Map<string, number>(),
      trafficKeys.length > 0
        ? this.#a.versionMinutesOfKeys(trafficKeys, { from: end - trafficMs, to: end })
        : new Map<string, VersionMinute[]>(),
      usageKeys.length > 0 ? this.#a.clientUsageOfKeys(usageKeys, { from: historyFrom, to: end }) : [],
      // Per client only where the detectors list clients (the failure window, and a
      // minute to spare); before that, totals for the spike baselines.
      this.#a.failureMinutes({ from: failureFrom, to: end }, keyIds, end - f.failure_window_ms - MINUTE_MS),
      ...[...byLookback].map(([lookback, keys]) =>
        this.#a.clientUsageOfKeys(keys, { from: end - lookback, to: end }),
      ),
    ])
    const ofKey = (r: { keyId: string }) => r.keyId
    const [recentOf, historyOf, failuresOf] = [
      groupBy(recent.flat(), ofKey),
      groupBy(historyUsage, ofKey),
      groupBy(failures, ofKey),
    ]
    return keyIds.flatMap((k) =>
      evaluateKeyFindings(
        {
          keyId: k,
          now,
          // Only the key's own versions: scanning the whole registry per key costs keys².
          versions: versionsOf.get(k) ?? [],
          traffic: traffic.get(k) ?? [],
          recentUsage: recentOf.get(k) ?? [],
          historyUsage: historyOf.get(k) ?? [],
          historyFrom,
          keyHistoryFrom: keyHistory.get(k) ?? null,
          failures: failuresOf.get(k) ?? [],
        },
        f,
      ),
    )
  }

  /**
   * Only the findings a verdict can be blocked by, with only the reads they
   * need: the gate is asked often (CI, status pages) and must stay fast as the
   * store grows. Same detectors as `findings()`, so both always agree.
   */
  async #blockingFindings(keyId: string, types: readonly string[], now: number): Promise<Finding[]> {
    const f = this.#s.findings
    const end = windowEnd(now)
    const registry = this.#keys.versions()
    const wantNew = types.includes('new_version_failing')
    const deactivated = versionsOfKey(registry, keyId).filter((v) => v.state === 'deactivated')
    const wantAfter = types.includes('failures_after_deactivation') && deactivated.length > 0
    if (!wantNew && !wantAfter) return []
    const historyFrom = end - this.#s.history_ms
    const [failures, historyUsage] = await Promise.all([
      this.#a.failureMinutes({ from: end - f.failure_window_ms, to: end }, [keyId]),
      wantAfter ? this.#a.clientUsage(keyId, { from: historyFrom, to: end }) : Promise.resolve([]),
    ])
    const input: KeyFindingsInput = {
      keyId,
      now,
      versions: registry,
      traffic: [],
      recentUsage: [],
      historyUsage,
      historyFrom,
      // Read by possible_leak only, which is never a blocking finding.
      keyHistoryFrom: null,
      failures,
    }
    return [
      ...(wantNew ? newVersionFailing(input, f) : []),
      ...(wantAfter ? failuresAfterDeactivation(input, f) : []),
    ]
  }

  /**
   * Every gateway and source heard from within the default readiness lookback,
   * with its silence against its bound, silent ones first (`/readyz`, metrics,
   * `keyshift status`).
   */
  async places(now: number): Promise<PlaceStatus[]> {
    const end = windowEnd(now)
    const lookback = readinessRulesFor(this.#s.readiness, '').lookback_ms
    const heard = await this.#places.heard({ from: end - lookback, to: end })
    return placeStatuses(heard, this.#s.freshness, now)
  }

  /**
   * The places that carried the key's traffic within its readiness lookback, each
   * with when it was last heard from (any key): what `places_reporting` judges.
   */
  async #placesOfKey(keyId: string, now: number): Promise<PlaceHeard[]> {
    const end = windowEnd(now)
    const window = { from: end - readinessRulesFor(this.#s.readiness, keyId).lookback_ms, to: end }
    const { ofKey, heard } = await this.#places.keyPlacesHeard(keyId, window)
    return placesOfKey(ofKey, heard)
  }

  /**
   * The readiness verdict for (key, version), with every rule's evidence. A
   * store failure propagates (callers turn it into `unknown`: fail closed).
   */
  async readiness(req: VerdictRequest, now: number): Promise<Readiness & { ingestLagMs: number | null }> {
    const rules = readinessRulesFor(this.#s.readiness, req.keyId)
    const end = windowEnd(now)
    const window = { from: end - rules.lookback_ms, to: end }
    const [minutes, findings, fresh, places] = await Promise.all([
      this.#a.versionMinutes(req.keyId, window),
      this.#blockingFindings(req.keyId, rules.blocking_finding_types, now),
      this.#status.freshness(now),
      this.#placesOfKey(req.keyId, now),
    ])
    const verdict = evaluateReadiness({
      keyId: req.keyId,
      version: req.version,
      versions: this.#keys.versions(),
      shares: computeShares(minutes, window),
      openFindings: findings,
      ingestLagMs: fresh.lagMs,
      places,
      freshness: this.#s.freshness,
      now,
      rules,
    })
    const result = { ...verdict, ingestLagMs: fresh.lagMs }
    if (req.audit ?? true) {
      await this.#status.audit({
        time: now,
        keyId: req.keyId,
        version: req.version,
        verdict: verdict.verdict,
        askedBy: req.askedBy,
        via: req.via,
        evidence: { rules: verdict.rules, ingestLagMs: fresh.lagMs },
      })
    }
    return result
  }
}

/** A version seen in traffic but never registered; shown as active (it is accepted). */
function unregistered(keyId: string, version: string): KeyVersion {
  return newKeyVersion(keyId, version, 'active')
}
