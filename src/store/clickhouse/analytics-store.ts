// Reads for analysis, all from the per-minute rollups so their cost grows with
// keys × minutes, not with events. Each method is one SQL statement with every
// value bound as a parameter; results are mapped to the analysis input types.
import type { ClickHouseClient } from '@clickhouse/client'
import type { VersionSeen } from '../../analysis/first-last-seen.ts'
import type { ClientUsage, FailureMinute, TimeWindow, VersionMinute } from '../../analysis/types.ts'
import type { SourceSighting, UsageBucket } from '../../analysis/usage-anomaly.ts'
import { compareVersionLabels } from '../../analysis/versions.ts'
import { UNKNOWN_KEY, UNKNOWN_VERSION } from '../../domain/auth-event.ts'
import type { KeyTouch } from '../../evaluation/round-plan.ts'
import { groupBy } from '../../shared/group-by.ts'
import { classifyStoreError } from './errors.ts'
import { qualified } from './identifiers.ts'

/** DateTime parameters are passed as epoch seconds (UTC). */
const sec = (ms: number) => Math.floor(ms / 1000)
const secCeil = (ms: number) => Math.ceil(ms / 1000)

export interface KeySummary {
  keyId: string
  requests: number
  failures: number
  versions: string[]
  lastSeen: number
}

export class AnalyticsStore {
  readonly #c: ClickHouseClient
  readonly #db: string
  constructor(client: ClickHouseClient, db: string) {
    this.#c = client
    this.#db = db
  }

  async #rows<T>(what: string, query: string, params: Record<string, unknown>): Promise<T[]> {
    try {
      const rs = await this.#c.query({ query, query_params: params, format: 'JSONEachRow' })
      return await rs.json<T>()
    } catch (err) {
      throw classifyStoreError(err, what)
    }
  }

  /** Per-minute requests and failures per version of one key. */
  async versionMinutes(keyId: string, w: TimeWindow): Promise<VersionMinute[]> {
    return (await this.versionMinutesOfKeys([keyId], w)).get(keyId) ?? []
  }

  /** `versionMinutes` of several keys in one read, by key (keys without rows are absent). */
  async versionMinutesOfKeys(
    keyIds: readonly string[],
    w: TimeWindow,
  ): Promise<Map<string, VersionMinute[]>> {
    const rows = await this.#rows<{
      key_id: string
      minute_ms: number
      version: string
      total_requests: number
      failed_requests: number
    }>(
      'reading version minutes',
      `SELECT key_id, toUnixTimestamp(minute) * 1000 AS minute_ms, key_version AS version,
          sum(requests) AS total_requests, sumIf(requests, outcome = 'failure') AS failed_requests
        FROM ${qualified(this.#db, 'auth_minute')}
        WHERE key_id IN {keys:Array(String)}
          AND minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
        GROUP BY key_id, minute_ms, version
        ORDER BY key_id, minute_ms, version`,
      { keys: keyIds, from: sec(w.from), to: secCeil(w.to) },
    )
    const byKey = groupBy(rows, (r) => r.key_id)
    return new Map(
      [...byKey].map(([key, list]) => [
        key,
        list.map((r) => ({
          minute: Number(r.minute_ms),
          version: r.version,
          requests: Number(r.total_requests),
          failures: Number(r.failed_requests),
        })),
      ]),
    )
  }

  /** Requests and failures per key and version over a window (every key in one read). */
  async versionTotals(
    w: TimeWindow,
  ): Promise<{ keyId: string; version: string; requests: number; failures: number }[]> {
    const rows = await this.#rows<{
      key_id: string
      version: string
      total_requests: number
      failed_requests: number
    }>(
      'reading version totals',
      `SELECT key_id, key_version AS version,
          sum(requests) AS total_requests, sumIf(requests, outcome = 'failure') AS failed_requests
        FROM ${qualified(this.#db, 'auth_minute')}
        WHERE minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
        GROUP BY key_id, version
        ORDER BY key_id, version`,
      { from: sec(w.from), to: secCeil(w.to) },
    )
    return rows.map((r) => ({
      keyId: r.key_id,
      version: r.version,
      requests: Number(r.total_requests),
      failures: Number(r.failed_requests),
    }))
  }

  /** Usage per (client, address, user agent, gateway, version) of one key over a window. */
  async clientUsage(keyId: string, w: TimeWindow): Promise<ClientUsage[]> {
    return this.clientUsageOfKeys([keyId], w)
  }

  /** `clientUsage` of several keys in one read, ordered by key. */
  async clientUsageOfKeys(keyIds: readonly string[], w: TimeWindow): Promise<ClientUsage[]> {
    const rows = await this.#rows<{
      key_id: string
      client_id: string
      source_address: string
      user_agent: string
      gateway: string
      version: string
      total_requests: number
      failed_requests: number
      first_seen_ms: number
      last_seen_ms: number
      route_sample: string[]
    }>(
      'reading client usage',
      `SELECT key_id, client_id, source_address, user_agent, gateway, key_version AS version,
          sum(requests) AS total_requests, sum(failures) AS failed_requests,
          toUnixTimestamp64Milli(min(first_seen)) AS first_seen_ms,
          toUnixTimestamp64Milli(max(last_seen)) AS last_seen_ms,
          arraySort(groupUniqArrayArray(20)(routes)) AS route_sample
        FROM ${qualified(this.#db, 'auth_minute_clients')}
        WHERE key_id IN {keys:Array(String)}
          AND minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
        GROUP BY key_id, client_id, source_address, user_agent, gateway, version
        ORDER BY key_id, version, client_id, source_address, user_agent, gateway`,
      { keys: keyIds, from: sec(w.from), to: secCeil(w.to) },
    )
    return rows.map((r) => ({
      keyId: r.key_id,
      clientId: r.client_id,
      sourceAddress: r.source_address,
      userAgent: r.user_agent,
      gateway: r.gateway,
      version: r.version,
      requests: Number(r.total_requests),
      failures: Number(r.failed_requests),
      firstSeen: Number(r.first_seen_ms),
      lastSeen: Number(r.last_seen_ms),
      routes: r.route_sample,
    }))
  }

  /**
   * First/last seen per version of one key, aggregated in the store (the same
   * numbers as `seenByVersion` over `clientUsage`, without shipping every
   * client row: key pages stay fast on keys with many clients).
   */
  async versionSeen(keyId: string, w: TimeWindow): Promise<VersionSeen[]> {
    const rows = await this.#rows<{
      version: string
      first_ms: number
      last_ms: number
      total_requests: number
      failed_requests: number
      client_count: number
      address_count: number
      gateway_list: string[]
    }>(
      'reading first and last seen per version',
      `SELECT key_version AS version,
          toUnixTimestamp64Milli(min(first_seen)) AS first_ms,
          toUnixTimestamp64Milli(max(last_seen)) AS last_ms,
          sum(requests) AS total_requests, sum(failures) AS failed_requests,
          uniqExactIf(client_id, client_id != '') AS client_count,
          uniqExactIf(source_address, source_address != '') AS address_count,
          arraySort(groupUniqArrayIf(gateway, gateway != '')) AS gateway_list
        FROM ${qualified(this.#db, 'auth_minute_clients')}
        WHERE key_id = {key:String}
          AND minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
        GROUP BY version
        HAVING total_requests > 0`,
      { key: keyId, from: sec(w.from), to: secCeil(w.to) },
    )
    return rows
      .map((r) => ({
        version: r.version,
        firstSeen: Number(r.first_ms),
        lastSeen: Number(r.last_ms),
        requests: Number(r.total_requests),
        failures: Number(r.failed_requests),
        clients: Number(r.client_count),
        sourceAddresses: Number(r.address_count),
        gateways: r.gateway_list,
      }))
      .sort((a, b) => compareVersionLabels(a.version, b.version))
  }

  /**
   * Requests and failures per (minute, key, version, gateway, client, reason);
   * some keys or all. Minutes before `clientsFrom` are summed over clients
   * (client id ''): series that need only per-minute totals there (the spike
   * baselines) then cost keys × minutes, not keys × clients × minutes.
   */
  async failureMinutes(
    w: TimeWindow,
    keyIds?: readonly string[],
    clientsFrom?: number,
  ): Promise<FailureMinute[]> {
    return this.#failureMinutes(w, keyIds === undefined ? '' : 'AND key_id IN {keys:Array(String)}', {
      keys: keyIds ?? [],
      clients_from: sec(clientsFrom ?? w.from),
    })
  }

  /**
   * Only the unknown-key failures of an unidentified key or version (what
   * unknown_key_surge reads): a day of them stays small where a day of every
   * key's traffic per client would not.
   */
  async unknownKeyFailureMinutes(w: TimeWindow): Promise<FailureMinute[]> {
    return this.#failureMinutes(
      w,
      `AND reason = 'unknown_key' AND outcome = 'failure'
          AND (key_id = {unknown_key:String} OR key_version = {unknown_version:String})`,
      { unknown_key: UNKNOWN_KEY, unknown_version: UNKNOWN_VERSION },
    )
  }

  async #failureMinutes(
    w: TimeWindow,
    filter: string,
    params: Record<string, unknown>,
  ): Promise<FailureMinute[]> {
    const rows = await this.#rows<{
      minute_ms: number
      key_id: string
      version: string
      gateway: string
      client: string
      reason: string
      total_requests: number
      failed_requests: number
    }>(
      'reading failure minutes',
      `SELECT toUnixTimestamp(minute) * 1000 AS minute_ms, key_id, key_version AS version, gateway,
          if(minute >= toDateTime({clients_from:UInt32}, 'UTC'), client_id, '') AS client, reason,
          sum(requests) AS total_requests, sumIf(requests, outcome = 'failure') AS failed_requests
        FROM ${qualified(this.#db, 'auth_minute')}
        WHERE minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
          ${filter}
        GROUP BY minute_ms, key_id, version, gateway, client, reason
        ORDER BY minute_ms, key_id, version, gateway, client, reason`,
      { clients_from: sec(w.from), ...params, from: sec(w.from), to: secCeil(w.to) },
    )
    return rows.map((r) => ({
      minute: Number(r.minute_ms),
      keyId: r.key_id,
      version: r.version,
      gateway: r.gateway,
      clientId: r.client,
      reason: r.reason,
      requests: Number(r.total_requests),
      failures: Number(r.failed_requests),
    }))
  }

  /** Keys with traffic in the window. */
  /**
   * Every key with traffic in `w`: requests, failures, versions, last minute.
   * Whole hours come from `auth_key_hour` (a row per key, version and hour), the
   * partial hours at the window's edges from `auth_minute`: exact to the minute,
   * at a 24th of the rows (10 000 keys in tens of milliseconds).
   */
  async keys(w: TimeWindow): Promise<KeySummary[]> {
    const hourFrom = Math.ceil(sec(w.from) / 3600) * 3600
    const hourTo = Math.floor(secCeil(w.to) / 3600) * 3600
    // A window within two hours' edges has no whole hour: all of it from the minutes.
    const [h0, h1] = hourTo > hourFrom ? [hourFrom, hourTo] : [sec(w.from), sec(w.from)]
    const rows = await this.#rows<{
      key_id: string
      total_requests: number
      failed_requests: number
      versions: string[]
      last_seen: number
    }>(
      'listing keys',
      `SELECT key_id, sum(r) AS total_requests, sum(f) AS failed_requests,
          arraySort(groupUniqArray(v)) AS versions, toUnixTimestamp(max(m)) * 1000 AS last_seen
        FROM (
          SELECT key_id, key_version AS v, requests AS r, failures AS f, last_minute AS m
            FROM ${qualified(this.#db, 'auth_key_hour')}
            WHERE hour >= toDateTime({h0:UInt32}, 'UTC') AND hour < toDateTime({h1:UInt32}, 'UTC')
          UNION ALL
          SELECT key_id, key_version AS v, requests AS r, if(outcome = 'failure', requests, 0) AS f, minute AS m
            FROM ${qualified(this.#db, 'auth_minute')}
            WHERE (minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({h0:UInt32}, 'UTC'))
               OR (minute >= toDateTime({h1:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC'))
        )
        GROUP BY key_id
        ORDER BY key_id`,
      { from: sec(w.from), to: secCeil(w.to), h0, h1 },
    )
    return rows.map((r) => ({
      keyId: r.key_id,
      requests: Number(r.total_requests),
      failures: Number(r.failed_requests),
      versions: r.versions,
      lastSeen: Number(r.last_seen),
    }))
  }

  /**
   * A mark of what `keys()` reads: the active parts of the per-minute and hourly
   * rollups. Part names carry insert block numbers, so any insert, merge, TTL
   * drop or mutation gives a new mark; equal marks mean the same stored rows.
   * Take it before a read: rows stored during the read change the next mark.
   */
  async keysMark(): Promise<string> {
    const rows = await this.#rows<{ parts: string; mark: string }>(
      "reading the rollups' mark",
      `SELECT toString(count()) AS parts,
          toString(cityHash64(arraySort(groupArray(concat(table, '/', name))))) AS mark
        FROM system.parts
        WHERE database = {db:String} AND table IN ('auth_minute', 'auth_key_hour') AND active`,
      { db: this.#db },
    )
    return rows[0] ? `${rows[0].parts}/${rows[0].mark}` : ''
  }

  /**
   * The earliest event stored for each key (any version), epoch ms; keys with
   * nothing stored are absent. One row per key (`auth_key_history`).
   */
  async keyHistoryFrom(keyIds: readonly string[]): Promise<Map<string, number>> {
    const rows = await this.#rows<{ key_id: string; first_ms: number }>(
      'reading how far back each key is stored',
      `SELECT key_id, toUnixTimestamp64Milli(min(first_time)) AS first_ms
        FROM ${qualified(this.#db, 'auth_key_history')}
        WHERE key_id IN {keys:Array(String)}
        GROUP BY key_id`,
      { keys: keyIds },
    )
    return new Map(rows.map((r) => [r.key_id, Number(r.first_ms)]))
  }

  /**
   * Key touches (migration 18) stored at or after `fromMs` (store time), oldest
   * first: what each insert since then touched. Bounded by `limit` rows.
   */
  async touchesSince(fromMs: number, limit: number): Promise<KeyTouch[]> {
    const rows = await this.#rows<{
      at: string
      key_id: string
      failures: string
      versions: string[]
      id: string
    }>(
      'reading which keys were touched',
      `SELECT toUnixTimestamp64Milli(touched_at) AS at, key_id, failures, versions, toString(id) AS id
        FROM ${qualified(this.#db, 'auth_key_touches')}
        WHERE touched_at >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
        ORDER BY touched_at, key_id
        LIMIT {limit:UInt32}`,
      { from: Math.floor(fromMs), limit },
    )
    return rows.map((r) => ({
      at: Number(r.at),
      keyId: r.key_id,
      failures: Number(r.failures),
      versions: r.versions,
      id: r.id,
    }))
  }

  /** The newest key touch's store time, or null when none is stored. */
  async latestTouch(): Promise<number | null> {
    const rows = await this.#rows<{ at: string; n: string }>(
      'reading the newest key touch',
      `SELECT toUnixTimestamp64Milli(max(touched_at)) AS at, count() AS n
        FROM ${qualified(this.#db, 'auth_key_touches')}`,
      {},
    )
    const r = rows[0]
    return r && Number(r.n) > 0 ? Number(r.at) : null
  }

  /**
   * Each source address seen on each key over a window, with the start of the first
   * and last minute it was seen in, by key: the usage-anomaly watch's known sets and
   * new-source counts. At most `maxPerKey` per key, the most recently seen; addresses
   * left empty by the gateway are not sources.
   */
  async sourceSightingsOfKeys(
    keyIds: readonly string[],
    w: TimeWindow,
    maxPerKey: number,
  ): Promise<Map<string, SourceSighting[]>> {
    const rows = await this.#rows<{
      key_id: string
      source_address: string
      first_ms: number
      last_ms: number
    }>(
      'reading source addresses per key',
      `SELECT key_id, source_address,
          toUnixTimestamp(min(minute)) * 1000 AS first_ms, toUnixTimestamp(max(minute)) * 1000 AS last_ms
        FROM ${qualified(this.#db, 'auth_minute_clients')}
        WHERE key_id IN {keys:Array(String)} AND source_address != ''
          AND minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
        GROUP BY key_id, source_address
        ORDER BY key_id, last_ms DESC, source_address
        LIMIT {max:UInt32} BY key_id`,
      { keys: keyIds, from: sec(w.from), to: secCeil(w.to), max: maxPerKey },
    )
    const byKey = groupBy(rows, (r) => r.key_id)
    return new Map(
      [...byKey].map(([key, list]) => [
        key,
        list.map((r) => ({ source: r.source_address, first: Number(r.first_ms), last: Number(r.last_ms) })),
      ]),
    )
  }

  /**
   * Requests and failures per key and version in `bucketMs` buckets (a whole number
   * of minutes) over a window, by key: what the usage-anomaly watch is fed.
   */
  async usageBucketsOfKeys(
    keyIds: readonly string[],
    w: TimeWindow,
    bucketMs: number,
  ): Promise<Map<string, UsageBucket[]>> {
    const rows = await this.#rows<{
      key_id: string
      bucket_ms: number
      version: string
      total_requests: number
      failed_requests: number
    }>(
      'reading usage buckets',
      `SELECT key_id, intDiv(toUnixTimestamp(minute), {bucket:UInt32}) * {bucket:UInt32} * 1000 AS bucket_ms,
          key_version AS version,
          sum(requests) AS total_requests, sumIf(requests, outcome = 'failure') AS failed_requests
        FROM ${qualified(this.#db, 'auth_minute')}
        WHERE key_id IN {keys:Array(String)}
          AND minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
        GROUP BY key_id, bucket_ms, version
        ORDER BY key_id, bucket_ms, version`,
      { keys: keyIds, bucket: Math.round(bucketMs / 1000), from: sec(w.from), to: secCeil(w.to) },
    )
    const byKey = groupBy(rows, (r) => r.key_id)
    return new Map(
      [...byKey].map(([key, list]) => [
        key,
        list.map((r) => ({
          bucket: Number(r.bucket_ms),
          version: r.version,
          requests: Number(r.total_requests),
          failures: Number(r.failed_requests),
        })),
      ]),
    )
  }
}
