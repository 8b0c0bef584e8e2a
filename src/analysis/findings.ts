// Rotation-aware findings: what a team rotating a key must know now (a version
// deactivated too early, a new version not working everywhere, a retired version
// still accepted or used from somewhere new, a migration that will not finish in
// time, unknown keys hammering the gateways). Each detector is a pure function.

import { z } from 'zod'
import { alertId, compareSeverity, SCOPE_ALL, type Severity } from '../domain/alert.ts'
import { UNKNOWN_KEY, UNKNOWN_VERSION } from '../domain/auth-event.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import { groupBy } from '../shared/group-by.ts'
import { computeShares, shareOf, shareSeries } from './share.ts'
import {
  findFailureSpikes,
  type SpikeScore,
  type SpikeSettings,
  scoreFailureSeries,
  spikeSettingsSchema,
} from './spikes.ts'
import { estimateShareTrend, type ShareTrend, trendSettingsSchema } from './trend.ts'
import {
  type ClientUsage,
  DAY_MS,
  type FailureMinute,
  HOUR_MS,
  MINUTE_MS,
  type VersionMinute,
} from './types.ts'
import { compareVersions, isAccepted, newestActiveVersion, versionsOfKey } from './versions.ts'

// ---------------------------------------------------------------------------
// Settings
// ---------------------------------------------------------------------------

const ms = (dflt: number) => z.number().int().nonnegative().default(dflt)

/**
 * Defaults, durations in milliseconds:
 * - `failure_window_ms` 15 min: failures_after_deactivation, new_version_failing and
 *   deactivated_still_accepted look at this window ending now, so they clear once the
 *   condition has stopped for 15 minutes.
 * - `rejection_reasons` revoked, unknown_key, expired, invalid_signature, other:
 *   failure reasons that mean "this key version was not accepted" (rate limits and
 *   scope errors are not about the version). `other` is a 401 on an identified key
 *   with no reason logged — how a rejected version looks on Kong, Tyk and Traefik,
 *   whose logs carry no failure reason.
 * - `after_deactivation_min_failures` 3: rejections of previously successful clients
 *   after a deactivation before a rollback is advised.
 * - `deactivation_grace_ms` 5 min: successes on a deactivated version within this time
 *   after deactivation are propagation delay, not a finding.
 * - `still_accepted_min_successes` 1: successes per gateway after the grace period.
 * - `new_version_min_failures` 5 and `new_version_failing_rate` 0.5: a gateway (or
 *   client) fails the newest version when at least 5 of its requests on it, and at
 *   least half of them, were rejected; `new_version_min_successes_elsewhere` 1: some
 *   other gateway (or client) must have succeeded with it.
 * - `stall_expiry_within_ms` 7 days: migration_stalled is checked for old versions
 *   expiring within 7 days; `trend_window_ms` 24 h in `trend_bucket_ms` 1 h buckets
 *   feed the trend (`trend`: see trend.ts, ≥ 6 points, r² ≥ 0.5).
 * - `expiring_within_ms` 3 days and `traffic_window_ms` 24 h: expiring_with_traffic
 *   fires for versions expiring within 3 days that had requests in the last 24 h.
 * - `critical_within_ms` 24 h: expiry findings become critical this close to expiry.
 * - `unknown_key_spike`: spike settings for unknown_key_surge (see spikes.ts).
 * - `failure_spike`: spike settings for failure_spike, per key, version, gateway
 *   and reason (see spikes.ts; the recent baseline needs an hour of history, so
 *   failures are read 81 min back, summed over clients before the failure window).
 * - `max_listed` 20: clients, addresses, routes listed in evidence.
 */
export const findingSettingsSchema = z.strictObject({
  failure_window_ms: ms(15 * MINUTE_MS),
  rejection_reasons: z
    .array(z.string().min(1))
    .default(['revoked', 'unknown_key', 'expired', 'invalid_signature', 'other']),
  after_deactivation_min_failures: z.number().int().min(1).default(3),
  deactivation_grace_ms: ms(5 * MINUTE_MS),
  still_accepted_min_successes: z.number().int().min(1).default(1),
  new_version_min_failures: z.number().int().min(1).default(5),
  new_version_failing_rate: z.number().gt(0).max(1).default(0.5),
  new_version_min_successes_elsewhere: z.number().int().min(1).default(1),
  stall_expiry_within_ms: ms(7 * DAY_MS),
  trend_window_ms: ms(DAY_MS),
  trend_bucket_ms: z.number().int().positive().default(HOUR_MS),
  trend: trendSettingsSchema.prefault({}),
  expiring_within_ms: ms(3 * DAY_MS),
  traffic_window_ms: ms(DAY_MS),
  critical_within_ms: ms(DAY_MS),
  unknown_key_spike: spikeSettingsSchema.prefault({}),
  failure_spike: spikeSettingsSchema.prefault({}),
  max_listed: z.number().int().min(1).default(20),
})
export type FindingSettings = z.output<typeof findingSettingsSchema>
export type FindingSettingsInput = z.input<typeof findingSettingsSchema>
export const DEFAULT_FINDING_SETTINGS: FindingSettings = Object.freeze(findingSettingsSchema.parse({}))

// ---------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------

export const KEY_FINDING_TYPES = [
  'failures_after_deactivation',
  'new_version_failing',
  'deactivated_still_accepted',
  'possible_leak',
  'migration_stalled',
  'expiring_with_traffic',
  'failure_spike',
] as const
export type FindingType = (typeof KEY_FINDING_TYPES)[number] | 'unknown_key_surge' | 'usage_anomaly'

export interface Finding {
  /** Stable identity `${type}:${keyId}:${version}:${scope}` (same as `alertId`). */
  id: string
  type: FindingType
  severity: Severity
  keyId: string
  /** Version label; '' for unknown_key_surge, which is not about a registered version. */
  version: string
  /** `*`, or `gateway=<name>`, `client=<id>`, `address=<ip>`: never a count or a time, so it stays stable. */
  scope: string
  /** Bounded context for notifiers: `gateway`, `client`, `route` (comma-separated). */
  labels: Record<string, string>
  title: string
  summary: string
  /** Numbers, times (epoch ms) and bounded lists that justify the finding; JSON-serialisable. */
  evidence: Record<string, unknown>
  /** Epoch ms of the first and last observation behind the finding. */
  firstSeen: number
  lastSeen: number
}

/** One key's data for `evaluateKeyFindings`. Rows of other keys are ignored. */
export interface KeyFindingsInput {
  keyId: string
  now: number
  /** Registry state (any keys; only `keyId`'s versions are used). */
  versions: readonly KeyVersion[]
  /** Per-minute counts per version, covering at least `trend_window_ms` and `traffic_window_ms` before now. */
  traffic: readonly VersionMinute[]
  /** Client usage aggregated over the lookback window ending at now. */
  recentUsage: readonly ClientUsage[]
  /** Client usage aggregated over [historyFrom, now) — long enough to reach back before deprecations. */
  historyUsage: readonly ClientUsage[]
  historyFrom: number
  /** Failure rows (with `none` rows for successes) covering at least `failure_window_ms` before now. */
  failures: readonly FailureMinute[]
}

function finding(f: Omit<Finding, 'id'>): Finding {
  return { id: alertId(f), ...f }
}

const cmpStr = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)
const uniqSorted = (xs: Iterable<string>) => [...new Set(xs)].filter((x) => x !== '').sort(cmpStr)
const list = (xs: readonly string[]) => (xs.length > 0 ? xs.join(', ') : '(none)')
const iso = (t: number) => new Date(t).toISOString()

interface Tally {
  name: string
  count: number
}

/** Counts per name, largest first then by name, at most `max`. */
function top(counts: Map<string, number>, max: number): Tally[] {
  return [...counts]
    .map(([name, count]) => ({ name, count }))
    .sort((a, b) => b.count - a.count || cmpStr(a.name, b.name))
    .slice(0, max)
}

function add(map: Map<string, number>, key: string, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n)
}

function timeRange(times: readonly number[]): { firstSeen: number; lastSeen: number } {
  return { firstSeen: Math.min(...times), lastSeen: Math.max(...times) }
}

/** Rows of `failures` for one key and version within [from, now). */
function failureRows(input: KeyFindingsInput, version: string, from: number): FailureMinute[] {
  return input.failures.filter(
    (r) => r.keyId === input.keyId && r.version === version && r.minute >= from && r.minute < input.now,
  )
}

// --- failures_after_deactivation -------------------------------------------

/**
 * Rejections after a version's deactivation from clients that had used it
 * successfully before (a successful row first seen before the deactivation):
 * the version was switched off while still in use, a rollback is advised.
 */
export function failuresAfterDeactivation(input: KeyFindingsInput, s: FindingSettings): Finding[] {
  const out: Finding[] = []
  const rejection = new Set(s.rejection_reasons)
  for (const v of versionsOfKey(input.versions, input.keyId)) {
    if (v.state !== 'deactivated' || v.deactivatedAt === null) continue
    const deactivatedAt = v.deactivatedAt
    const users = new Set(
      [...input.historyUsage, ...input.recentUsage]
        .filter(
          (u) =>
            u.keyId === input.keyId &&
            u.version === v.version &&
            u.requests > u.failures &&
            u.firstSeen < deactivatedAt,
        )
        .map((u) => u.clientId),
    )
    // The minute holding the deactivation counts: its rejections can only be after it.
    const from = Math.max(Math.floor(deactivatedAt / MINUTE_MS) * MINUTE_MS, input.now - s.failure_window_ms)
    const rows = failureRows(input, v.version, from).filter(
      (r) => r.failures > 0 && rejection.has(r.reason) && users.has(r.clientId),
    )
    const failures = rows.reduce((n, r) => n + r.failures, 0)
    if (failures < s.after_deactivation_min_failures) continue
    const byClient = new Map<string, number>()
    const byReason = new Map<string, number>()
    for (const r of rows) {
      add(byClient, r.clientId, r.failures)
      add(byReason, r.reason, r.failures)
    }
    const clients = top(byClient, s.max_listed).map((t) => ({
      clientId: t.name,
      failures: t.count,
      gateways: uniqSorted(rows.filter((r) => r.clientId === t.name).map((r) => r.gateway)),
    }))
    const gateways = uniqSorted(rows.map((r) => r.gateway))
    out.push(
      finding({
        type: 'failures_after_deactivation',
        severity: 'critical',
        keyId: input.keyId,
        version: v.version,
        scope: SCOPE_ALL,
        labels: { gateway: gateways.join(','), client: clients.map((c) => c.clientId).join(',') },
        title: `Rollback advised for ${input.keyId} ${v.version}: clients fail since its deactivation`,
        summary:
          `${byClient.size} client(s) that used ${v.version} successfully before it was deactivated at ` +
          `${iso(deactivatedAt)} got ${failures} rejection(s) since; reactivate ${v.version} until they have moved.`,
        evidence: {
          deactivatedAt,
          failures,
          affectedClients: byClient.size,
          clients,
          gateways,
          reasons: Object.fromEntries(top(byReason, s.max_listed).map((t) => [t.name, t.count])),
        },
        ...timeRange(rows.map((r) => r.minute)),
      }),
    )
  }
  return out
}

// --- new_version_failing -----------------------------------------------------

interface Outcomes {
  requests: number
  successes: number
  rejections: number
  clients: Set<string>
  gateways: Set<string>
  minutes: number[]
}

function tallyBy(rows: readonly FailureMinute[], by: (r: FailureMinute) => string, rejection: Set<string>) {
  const out = new Map<string, Outcomes>()
  for (const r of rows) {
    const k = by(r)
    let o = out.get(k)
    if (!o) {
      o = { requests: 0, successes: 0, rejections: 0, clients: new Set(), gateways: new Set(), minutes: [] }
      out.set(k, o)
    }
    o.requests += r.requests
    o.successes += r.requests - r.failures
    if (rejection.has(r.reason)) o.rejections += r.failures
    if (r.failures > 0 && rejection.has(r.reason)) {
      o.clients.add(r.clientId)
      o.gateways.add(r.gateway)
      o.minutes.push(r.minute)
    }
  }
  return out
}

/**
 * The newest active version rejected on some gateways (typically: not propagated
 * there yet) or for some clients (typically: a wrong secret deployed) while it
 * succeeds elsewhere; or rejected everywhere.
 */
export function newVersionFailing(input: KeyFindingsInput, s: FindingSettings): Finding[] {
  const newest = newestActiveVersion(input.versions, input.keyId)
  if (newest === null) return []
  const rejection = new Set(s.rejection_reasons)
  const rows = failureRows(input, newest.version, input.now - s.failure_window_ms)
  const isFailing = (o: Outcomes) =>
    o.rejections >= s.new_version_min_failures && o.rejections >= s.new_version_failing_rate * o.requests
  const isWorking = (o: Outcomes) => !isFailing(o) && o.successes >= s.new_version_min_successes_elsewhere
  const base = { type: 'new_version_failing' as const, keyId: input.keyId, version: newest.version }
  const evidenceOf = (o: Outcomes) => ({
    requests: o.requests,
    rejections: o.rejections,
    successes: o.successes,
    rejectionRate: o.requests > 0 ? o.rejections / o.requests : 0,
    clients: uniqSorted(o.clients).slice(0, s.max_listed),
  })

  const byGateway = tallyBy(rows, (r) => r.gateway, rejection)
  const gatewayNames = [...byGateway.keys()].sort(cmpStr)
  const failingGateways = gatewayNames.filter((g) => isFailing(byGateway.get(g)!))
  const workingGateways = gatewayNames.filter((g) => isWorking(byGateway.get(g)!))
  const out: Finding[] = []

  if (failingGateways.length > 0 && workingGateways.length === 0) {
    const all = tallyBy(rows, () => '', rejection).get('')!
    return [
      finding({
        ...base,
        severity: 'critical',
        scope: SCOPE_ALL,
        labels: { gateway: failingGateways.join(',') },
        title: `${input.keyId} ${newest.version} is rejected on every gateway`,
        summary:
          `${newest.version} got ${all.rejections} rejection(s) out of ${all.requests} request(s) on ` +
          `${list(failingGateways)} and no successes anywhere; check the secret that was distributed.`,
        evidence: { ...evidenceOf(all), failingGateways },
        ...timeRange(all.minutes),
      }),
    ]
  }
  for (const g of workingGateways.length > 0 ? failingGateways : []) {
    const o = byGateway.get(g)!
    out.push(
      finding({
        ...base,
        severity: 'critical',
        scope: `gateway=${g}`,
        labels: { gateway: g },
        title: `${input.keyId} ${newest.version} is rejected on gateway ${g}`,
        summary:
          `Gateway ${g} rejected ${o.rejections} of ${o.requests} request(s) on ${newest.version} while ` +
          `${list(workingGateways)} accept it; the version has probably not reached ${g}.`,
        evidence: { gateway: g, ...evidenceOf(o), workingGateways },
        ...timeRange(o.minutes),
      }),
    )
  }

  // Clients failing on gateways that otherwise work: the client's own secret is wrong.
  const failingSet = new Set(failingGateways)
  const byClient = tallyBy(
    rows.filter((r) => !failingSet.has(r.gateway)),
    (r) => r.clientId,
    rejection,
  )
  const clientNames = [...byClient.keys()].sort(cmpStr)
  const workingClients = clientNames.filter((c) => isWorking(byClient.get(c)!))
  if (workingClients.length === 0) return out
  for (const c of clientNames) {
    const o = byClient.get(c)!
    if (!isFailing(o)) continue
    const gateways = uniqSorted(o.gateways)
    out.push(
      finding({
        ...base,
        severity: 'warning',
        scope: `client=${c}`,
        labels: { client: c, gateway: gateways.join(',') },
        title: `${input.keyId} ${newest.version} is rejected for client ${c || '(no client id)'}`,
        summary:
          `Client ${c || '(no client id)'} had ${o.rejections} of ${o.requests} request(s) on ${newest.version} ` +
          `rejected on ${list(gateways)} while ${workingClients.length} other client(s) succeed with it.`,
        evidence: { clientId: c, ...evidenceOf(o), gateways, workingClients: workingClients.length },
        ...timeRange(o.minutes),
      }),
    )
  }
  return out
}

// --- deactivated_still_accepted ---------------------------------------------

/** Successful requests on a deactivated version after the grace period, per gateway. */
export function deactivatedStillAccepted(input: KeyFindingsInput, s: FindingSettings): Finding[] {
  const out: Finding[] = []
  for (const v of versionsOfKey(input.versions, input.keyId)) {
    if (v.state !== 'deactivated' || v.deactivatedAt === null) continue
    const graceEnd = v.deactivatedAt + s.deactivation_grace_ms
    const rows = failureRows(input, v.version, Math.max(graceEnd, input.now - s.failure_window_ms)).filter(
      (r) => r.requests > r.failures,
    )
    for (const gateway of uniqSorted(rows.map((r) => r.gateway))) {
      const own = rows.filter((r) => r.gateway === gateway)
      const successes = own.reduce((n, r) => n + r.requests - r.failures, 0)
      if (successes < s.still_accepted_min_successes) continue
      const clients = uniqSorted(own.map((r) => r.clientId))
      out.push(
        finding({
          type: 'deactivated_still_accepted',
          severity: 'critical',
          keyId: input.keyId,
          version: v.version,
          scope: `gateway=${gateway}`,
          labels: { gateway, client: clients.slice(0, s.max_listed).join(',') },
          title: `Gateway ${gateway} still accepts deactivated ${input.keyId} ${v.version}`,
          summary:
            `${v.version} was deactivated at ${iso(v.deactivatedAt)}, yet ${gateway} accepted ${successes} ` +
            `request(s) with it after the ${s.deactivation_grace_ms / MINUTE_MS} min grace period.`,
          evidence: {
            gateway,
            deactivatedAt: v.deactivatedAt,
            graceMs: s.deactivation_grace_ms,
            successes,
            clients: clients.slice(0, s.max_listed),
          },
          ...timeRange(own.map((r) => r.minute)),
        }),
      )
    }
  }
  return out
}

// --- possible_leak -----------------------------------------------------------

/**
 * A deprecated or deactivated version used from a source address (or by a client)
 * that never used it before the version was deprecated or deactivated. Needs history
 * from before that time (`historyFrom` ≤ cutoff), else nothing is reported. Critical
 * when a deactivated version succeeded for the newcomer, warning otherwise.
 */
export function possibleLeak(input: KeyFindingsInput, s: FindingSettings): Finding[] {
  const out: Finding[] = []
  const all = [...input.historyUsage, ...input.recentUsage].filter((u) => u.keyId === input.keyId)
  for (const v of versionsOfKey(input.versions, input.keyId)) {
    if (v.state !== 'deprecated' && v.state !== 'deactivated') continue
    const cutoffs = [v.deprecatedAt, v.deactivatedAt].filter((t): t is number => t !== null)
    if (cutoffs.length === 0) continue
    const cutoff = Math.min(...cutoffs)
    const cutoffEvent = cutoff === v.deprecatedAt ? 'deprecated' : 'deactivated'
    if (input.historyFrom > cutoff) continue
    const before = all.filter((u) => u.version === v.version && u.firstSeen < cutoff)
    const knownAddresses = new Set(before.map((u) => u.sourceAddress))
    const knownClients = new Set(before.map((u) => u.clientId))
    const after = input.recentUsage.filter(
      (u) => u.keyId === input.keyId && u.version === v.version && u.requests > 0 && u.lastSeen >= cutoff,
    )
    const newAddressRows = after.filter((u) => u.sourceAddress !== '' && !knownAddresses.has(u.sourceAddress))
    const newClientRows = after.filter(
      (u) =>
        u.clientId !== '' &&
        !knownClients.has(u.clientId) &&
        (u.sourceAddress === '' || knownAddresses.has(u.sourceAddress)),
    )
    const subjects: { scope: string; what: string; rows: ClientUsage[] }[] = [
      ...uniqSorted(newAddressRows.map((u) => u.sourceAddress)).map((a) => ({
        scope: `address=${a}`,
        what: `source address ${a}`,
        rows: newAddressRows.filter((u) => u.sourceAddress === a),
      })),
      ...uniqSorted(newClientRows.map((u) => u.clientId)).map((c) => ({
        scope: `client=${c}`,
        what: `client ${c}`,
        rows: newClientRows.filter((u) => u.clientId === c),
      })),
    ]
    for (const subject of subjects) {
      const requests = subject.rows.reduce((n, u) => n + u.requests, 0)
      const successes = subject.rows.reduce((n, u) => n + u.requests - u.failures, 0)
      const gateways = uniqSorted(subject.rows.map((u) => u.gateway))
      const clients = uniqSorted(subject.rows.map((u) => u.clientId))
      const routes = uniqSorted(subject.rows.flatMap((u) => u.routes)).slice(0, s.max_listed)
      out.push(
        finding({
          type: 'possible_leak',
          severity: v.state === 'deactivated' && successes > 0 ? 'critical' : 'warning',
          keyId: input.keyId,
          version: v.version,
          scope: subject.scope,
          labels: {
            gateway: gateways.join(','),
            client: clients.slice(0, s.max_listed).join(','),
            route: routes.slice(0, 5).join(','),
          },
          title: `Possible leak: ${v.state} ${input.keyId} ${v.version} used from new ${subject.what}`,
          summary:
            `${subject.what} never used ${v.version} before it was ${cutoffEvent} ` +
            `at ${iso(cutoff)} and has now sent ${requests} request(s) with it (${successes} accepted).`,
          evidence: {
            state: v.state,
            cutoff,
            cutoffEvent,
            requests,
            successes,
            failures: requests - successes,
            sourceAddresses: uniqSorted(subject.rows.map((u) => u.sourceAddress)).slice(0, s.max_listed),
            clients: clients.slice(0, s.max_listed),
            userAgents: uniqSorted(subject.rows.map((u) => u.userAgent)).slice(0, s.max_listed),
            gateways,
            routes,
          },
          firstSeen: Math.min(...subject.rows.map((u) => u.firstSeen)),
          lastSeen: Math.max(...subject.rows.map((u) => u.lastSeen)),
        }),
      )
    }
  }
  return out
}

// --- migration_stalled / expiring_with_traffic ------------------------------

function trafficIn(input: KeyFindingsInput, windowMs: number) {
  return computeShares(input.traffic, { from: input.now - windowMs, to: input.now })
}

function expirySeverity(expiresAt: number, input: KeyFindingsInput, s: FindingSettings): Severity {
  return expiresAt - input.now <= s.critical_within_ms ? 'critical' : 'warning'
}

function describeTrend(t: ShareTrend): string {
  if (t.kind === 'estimate') return `at the current pace it reaches zero at ${iso(t.etaMs)}`
  switch (t.reason) {
    case 'not_decreasing':
      return 'its share is not decreasing'
    case 'poor_fit':
      return 'its share shows no clear downward trend'
    case 'too_few_points':
      return 'there is too little traffic to see a downward trend'
    case 'already_zero':
      return 'its share is zero'
  }
}

/**
 * An old version (older than the newest active one, still accepted) that expires
 * within `stall_expiry_within_ms` while its share is not clearly heading to zero
 * in time: trend `none` (other than already_zero), a slope ≥ 0, or an estimated
 * zero-share time after the expiry. Critical within `critical_within_ms` of expiry.
 */
export function migrationStalled(input: KeyFindingsInput, s: FindingSettings): Finding[] {
  const newest = newestActiveVersion(input.versions, input.keyId)
  if (newest === null) return []
  const window = { from: input.now - s.trend_window_ms, to: input.now }
  const series = shareSeries(input.traffic, window, s.trend_bucket_ms)
  const shares = computeShares(input.traffic, window)
  const out: Finding[] = []
  for (const v of versionsOfKey(input.versions, input.keyId)) {
    if (!isAccepted(v) || compareVersions(v, newest) >= 0 || v.expiresAt === null) continue
    if (v.expiresAt <= input.now || v.expiresAt > input.now + s.stall_expiry_within_ms) continue
    const own = shareOf(shares, v.version)
    if (own.requests === 0) continue
    const trend = estimateShareTrend(series, v.version, s.trend)
    const stalled =
      trend.kind === 'none'
        ? trend.reason !== 'already_zero'
        : trend.slopePerHour >= 0 || trend.etaMs > v.expiresAt
    if (!stalled) continue
    const minutes = input.traffic
      .filter(
        (r) => r.version === v.version && r.requests > 0 && r.minute >= window.from && r.minute < window.to,
      )
      .map((r) => r.minute)
    out.push(
      finding({
        type: 'migration_stalled',
        severity: expirySeverity(v.expiresAt, input, s),
        keyId: input.keyId,
        version: v.version,
        scope: SCOPE_ALL,
        labels: {},
        title: `Migration off ${input.keyId} ${v.version} will not finish before it expires`,
        summary:
          `${v.version} expires at ${iso(v.expiresAt)} and still carries ${(own.share * 100).toFixed(1)}% ` +
          `of the key's requests (${own.requests} in ${s.trend_window_ms / HOUR_MS} h); ${describeTrend(trend)}.`,
        evidence: {
          expiresAt: v.expiresAt,
          newestVersion: newest.version,
          requests: own.requests,
          share: own.share,
          trend:
            trend.kind === 'estimate'
              ? { kind: trend.kind, etaMs: trend.etaMs, slopePerHour: trend.slopePerHour, r2: trend.r2 }
              : { kind: trend.kind, reason: trend.reason, slopePerHour: trend.slopePerHour, r2: trend.r2 },
          points: trend.points.length,
        },
        ...timeRange(minutes),
      }),
    )
  }
  return out
}

/** A still-accepted version expiring within `expiring_within_ms` that had requests in `traffic_window_ms`. */
export function expiringWithTraffic(input: KeyFindingsInput, s: FindingSettings): Finding[] {
  const shares = trafficIn(input, s.traffic_window_ms)
  const out: Finding[] = []
  for (const v of versionsOfKey(input.versions, input.keyId)) {
    if (!isAccepted(v) || v.expiresAt === null) continue
    if (v.expiresAt <= input.now || v.expiresAt > input.now + s.expiring_within_ms) continue
    const own = shareOf(shares, v.version)
    if (own.requests === 0) continue
    const byClient = new Map<string, number>()
    for (const u of input.recentUsage) {
      if (u.keyId === input.keyId && u.version === v.version) add(byClient, u.clientId, u.requests)
    }
    const minutes = input.traffic
      .filter(
        (r) => r.version === v.version && r.requests > 0 && r.minute >= shares.from && r.minute < shares.to,
      )
      .map((r) => r.minute)
    const hours = Math.round(((v.expiresAt - input.now) / HOUR_MS) * 10) / 10
    out.push(
      finding({
        type: 'expiring_with_traffic',
        severity: expirySeverity(v.expiresAt, input, s),
        keyId: input.keyId,
        version: v.version,
        scope: SCOPE_ALL,
        labels: {
          client: top(byClient, 5)
            .map((t) => t.name)
            .join(','),
        },
        title: `${input.keyId} ${v.version} expires in ${hours} h and is still in use`,
        summary:
          `${v.version} expires at ${iso(v.expiresAt)} and served ${own.requests} request(s) ` +
          `(${(own.share * 100).toFixed(1)}% of the key) in the last ${s.traffic_window_ms / HOUR_MS} h.`,
        evidence: {
          expiresAt: v.expiresAt,
          requests: own.requests,
          share: own.share,
          clients: top(byClient, s.max_listed).map((t) => ({ clientId: t.name, requests: t.count })),
        },
        ...timeRange(minutes),
      }),
    )
  }
  return out
}

// --- failure_spike -----------------------------------------------------------

/**
 * How far back a key's failure rows must reach for every detector: a spike
 * anywhere in the failure window needs its own window and the recent
 * baseline's history before it (and the current, partial minute after).
 */
export function failureLookbackMs(s: FindingSettings): number {
  const spike = s.failure_spike
  return s.failure_window_ms + spike.window_ms + spike.min_history_ms + spike.step_ms
}

/**
 * A failure spike on a version that is in service (not deactivated: rejections
 * after a deactivation are failures_after_deactivation's): the spike detector
 * (settings `failure_spike`) flags a minute within the last spike window of one
 * gateway's failures for one reason. One finding per version and gateway; the
 * evidence lists every spiking reason and the clients failing there.
 */
export function failureSpikes(input: KeyFindingsInput, s: FindingSettings): Finding[] {
  const spike = s.failure_spike
  const deactivated = new Set(
    versionsOfKey(input.versions, input.keyId)
      .filter((v) => v.state === 'deactivated')
      .map((v) => v.version),
  )
  const rows = input.failures.filter(
    (r) =>
      r.keyId === input.keyId &&
      r.minute < input.now &&
      r.version !== UNKNOWN_VERSION && // unknown_key_surge's
      !deactivated.has(r.version),
  )
  const series = findFailureSpikes(rows, input.now - s.failure_window_ms, spike).filter(
    (x) => x.spikes[x.spikes.length - 1]!.time >= input.now - spike.window_ms,
  )
  const byPlace = groupBy(series, (x) => `${x.version}\u0000${x.gateway}`)
  const out: Finding[] = []
  for (const group of byPlace.values()) {
    const { version, gateway } = group[0]!
    const strongestOf = (x: (typeof series)[number]) =>
      x.spikes.reduce((a: SpikeScore, b) => (b.score >= a.score ? b : a))
    const ranked = group
      .map((x) => ({ reason: x.reason, top: strongestOf(x), spikes: x.spikes }))
      .sort((a, b) => b.top.score - a.top.score || cmpStr(a.reason, b.reason))
    const main = ranked[0]!
    const reasons = ranked.map((r) => r.reason)
    const first = Math.min(...ranked.map((r) => r.spikes[0]!.time))
    const last = Math.max(...ranked.map((r) => r.spikes[r.spikes.length - 1]!.time))
    const byClient = new Map<string, number>()
    for (const r of rows) {
      if (r.version !== version || r.gateway !== gateway || !reasons.includes(r.reason)) continue
      // '' is no client id, or history summed over clients: not a client to name.
      if (r.clientId === '' || r.failures === 0) continue
      if (r.minute >= first - spike.window_ms + spike.step_ms) add(byClient, r.clientId, r.failures)
    }
    const clients = top(byClient, s.max_listed)
    const e = main.top.evidence
    const baseline =
      e.expected === null
        ? 'no usable history yet'
        : `an expected ${e.expected.toFixed(1)} (${e.method} baseline)`
    out.push(
      finding({
        type: 'failure_spike',
        severity: 'warning',
        keyId: input.keyId,
        version,
        scope: `gateway=${gateway}`,
        labels: { gateway, client: clients.map((c) => c.name).join(',') },
        title: `Failure spike on ${input.keyId} ${version} at ${gateway}`,
        summary:
          `${e.observed} ${main.reason} failure(s) in ${e.windowMs / MINUTE_MS} min at ${gateway} against ` +
          `${baseline}; reasons spiking: ${list(reasons)}; top clients: ${list(clients.slice(0, 3).map((c) => c.name))}.`,
        evidence: {
          observed: e.observed,
          expected: e.expected,
          method: e.method,
          pValue: e.pValue,
          failureRate: e.failureRate,
          score: main.top.score,
          windowMs: e.windowMs,
          reasons: ranked.map((r) => ({
            reason: r.reason,
            observed: r.top.evidence.observed,
            score: r.top.score,
          })),
          clients: clients.map((c) => ({ clientId: c.name, failures: c.count })),
        },
        firstSeen: first,
        lastSeen: last,
      }),
    )
  }
  return out
}

// --- all key findings --------------------------------------------------------

/** The key-level detectors, in the order their findings are reported. */
export const KEY_FINDING_DETECTORS: readonly ((input: KeyFindingsInput, s: FindingSettings) => Finding[])[] =
  [
    failuresAfterDeactivation,
    newVersionFailing,
    deactivatedStillAccepted,
    possibleLeak,
    migrationStalled,
    expiringWithTraffic,
    failureSpikes,
  ]

/** Most severe first, then by id: a stable order for display and diffing. */
export function compareFindings(a: Finding, b: Finding): number {
  return compareSeverity(b.severity, a.severity) || cmpStr(a.id, b.id)
}

/** Every key-level finding for one key. */
export function evaluateKeyFindings(
  input: KeyFindingsInput,
  settings: FindingSettings = DEFAULT_FINDING_SETTINGS,
): Finding[] {
  return KEY_FINDING_DETECTORS.flatMap((detect) => detect(input, settings)).sort(compareFindings)
}

// --- unknown_key_surge -------------------------------------------------------

export interface UnknownKeySurgeInput {
  now: number
  /**
   * Failure rows of all keys; only `unknown_key` failures whose key or version is
   * `unknown` are used. History before now gives the baseline (1 h for a recent
   * baseline, a day or more for a time-of-day one).
   */
  failures: readonly FailureMinute[]
  /** Client usage over the recent window; rows with version `unknown` name the addresses and routes. */
  usage: readonly ClientUsage[]
}

/**
 * A surge of unknown-key failures per key id (`unknown` when nothing identified a
 * key): the spike detector (settings `unknown_key_spike`) flags a minute within the
 * last spike window. Evidence names the top source addresses, routes and gateways.
 */
export function unknownKeySurges(
  input: UnknownKeySurgeInput,
  s: FindingSettings = DEFAULT_FINDING_SETTINGS,
): Finding[] {
  const spike: SpikeSettings = s.unknown_key_spike
  const perKey = new Map<string, Map<number, number>>()
  for (const r of input.failures) {
    if (r.reason !== 'unknown_key' || r.failures <= 0 || r.minute >= input.now) continue
    if (r.keyId !== UNKNOWN_KEY && r.version !== UNKNOWN_VERSION) continue
    let m = perKey.get(r.keyId)
    if (!m) {
      m = new Map()
      perKey.set(r.keyId, m)
    }
    m.set(r.minute, (m.get(r.minute) ?? 0) + r.failures)
  }
  const out: Finding[] = []
  for (const keyId of [...perKey.keys()].sort(cmpStr)) {
    const points = [...perKey.get(keyId)!].map(([time, failures]) => ({ time, failures }))
    const recent = scoreFailureSeries(points, spike).filter(
      (p) => p.isSpike && p.time >= input.now - s.failure_window_ms,
    )
    const latest = recent[recent.length - 1]
    if (latest === undefined || latest.time < input.now - spike.window_ms) continue
    // The strongest spike minute; on a tie the latest, so the evidence shows the current state.
    const strongest = recent.reduce((a: SpikeScore, b) => (b.score >= a.score ? b : a))
    const usage = input.usage.filter((u) => u.keyId === keyId && u.version === UNKNOWN_VERSION)
    const byAddress = new Map<string, number>()
    const byRoute = new Map<string, number>()
    for (const u of usage) {
      add(byAddress, u.sourceAddress, u.failures)
      for (const route of u.routes) add(byRoute, route, u.failures)
    }
    const addresses = top(byAddress, s.max_listed)
    const routes = top(byRoute, s.max_listed)
    const gateways = uniqSorted(usage.map((u) => u.gateway))
    const e = strongest.evidence
    out.push(
      finding({
        type: 'unknown_key_surge',
        severity: 'warning',
        keyId,
        version: '',
        scope: SCOPE_ALL,
        labels: {
          gateway: gateways.join(','),
          route: routes
            .slice(0, 5)
            .map((r) => r.name)
            .join(','),
        },
        title:
          keyId === UNKNOWN_KEY
            ? 'Surge of requests with unknown keys'
            : `Surge of requests with unknown versions of ${keyId}`,
        summary:
          `${e.observed} unknown-key failure(s) in ${e.windowMs / MINUTE_MS} min against an expected ` +
          `${(e.expected ?? 0).toFixed(1)} (${e.method} baseline); top addresses: ` +
          `${list(addresses.slice(0, 3).map((a) => a.name))}; routes: ${list(routes.slice(0, 3).map((r) => r.name))}.`,
        evidence: {
          observed: e.observed,
          expected: e.expected,
          method: e.method,
          pValue: e.pValue,
          score: strongest.score,
          windowMs: e.windowMs,
          spikeMinutes: recent.length,
          sourceAddresses: addresses.map((a) => ({ address: a.name, failures: a.count })),
          routes: routes.map((r) => ({ route: r.name, failures: r.count })),
          gateways,
        },
        firstSeen: recent[0]!.time,
        lastSeen: latest.time,
      }),
    )
  }
  return out.sort(compareFindings)
}
