// Plain-data inputs of the analysis functions, as the store reads them from the
// per-minute rollups (`auth_minute`, `auth_minute_clients`). Times are epoch
// milliseconds (UTC); a `minute` is the start of its minute. Nothing here does I/O.

export const SECOND_MS = 1_000
export const MINUTE_MS = 60_000
export const HOUR_MS = 3_600_000
export const DAY_MS = 86_400_000

/** A half-open time window [from, to), epoch milliseconds. */
export interface TimeWindow {
  from: number
  to: number
}

/**
 * One key's request counts for one version in one minute (`auth_minute` summed over
 * gateway, client, outcome and reason). Rows of several keys must not be mixed.
 */
export interface VersionMinute {
  minute: number
  version: string
  requests: number
  failures: number
}

/**
 * One (client, source address, user agent, gateway, version) of one key, aggregated
 * over a window (`auth_minute_clients`). `firstSeen`/`lastSeen` are the exact times of
 * the first and last request of the group within that window; `routes` is a bounded
 * sample (the rollup keeps at most 20).
 */
export interface ClientUsage {
  keyId: string
  clientId: string
  sourceAddress: string
  userAgent: string
  gateway: string
  version: string
  requests: number
  failures: number
  firstSeen: number
  lastSeen: number
  routes: string[]
}

/**
 * Requests per (minute, key, version, gateway, client, reason) (`auth_minute` summed
 * over outcome). Successful requests have reason `none` and `failures = 0`; those rows
 * must be included, because several findings compare failures with successes.
 */
export interface FailureMinute {
  minute: number
  keyId: string
  version: string
  gateway: string
  clientId: string
  reason: string
  requests: number
  failures: number
}
