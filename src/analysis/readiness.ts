// Deactivation readiness of one (key, version): may the version be switched off
// now? Every rule reports pass, fail or unknown with its numbers; the verdict is
// `ready` only when every rule passes, and `unknown` (never ready: the gate fails
// closed) when the version is unknown, the data is stale, no traffic of the key
// is stored for the lookback, or any rule cannot tell.
import { z } from 'zod'
import { ConfigError } from '../domain/errors.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import type { Finding } from './findings.ts'
import { type ShareWindow, shareOf } from './share.ts'
import { DAY_MS, MINUTE_MS } from './types.ts'
import { findVersion, newerVersions } from './versions.ts'

/**
 * Rule parameters, durations in milliseconds. Defaults:
 * - `lookback_ms` 24 h: the traffic window of `old_traffic_below_threshold`; the
 *   given shares must cover it (within `window_tolerance_ms`, 1 min).
 * - `max_requests` 0 and `max_share` 0: the old version may have at most this many
 *   requests and this share of the key's requests in the window; `null` disables
 *   one of the two checks (not both).
 * - `blocking_finding_types` new_version_failing, failures_after_deactivation: open
 *   findings of these types on a newer version (or the asked one) fail
 *   `no_failures_on_newer`.
 * - `min_overlap_ms` 24 h: the oldest active newer version must have been active this long.
 * - `max_ingest_lag_ms` 5 min: data older than this makes the verdict unknown.
 */
const ruleFields = {
  lookback_ms: z.number().int().positive(),
  window_tolerance_ms: z.number().int().nonnegative(),
  max_requests: z.number().int().nonnegative().nullable(),
  max_share: z.number().min(0).max(1).nullable(),
  blocking_finding_types: z.array(z.string().min(1)),
  min_overlap_ms: z.number().int().nonnegative(),
  max_ingest_lag_ms: z.number().int().nonnegative(),
}
const bothLimitsOff = {
  message: 'set max_requests or max_share (or both); with both null any traffic would pass',
  path: ['max_requests'],
}

export const readinessRulesSchema = z
  .strictObject({
    lookback_ms: ruleFields.lookback_ms.default(DAY_MS),
    window_tolerance_ms: ruleFields.window_tolerance_ms.default(MINUTE_MS),
    max_requests: ruleFields.max_requests.default(0),
    max_share: ruleFields.max_share.default(0),
    blocking_finding_types: ruleFields.blocking_finding_types.default([
      'new_version_failing',
      'failures_after_deactivation',
    ]),
    min_overlap_ms: ruleFields.min_overlap_ms.default(DAY_MS),
    max_ingest_lag_ms: ruleFields.max_ingest_lag_ms.default(5 * MINUTE_MS),
  })
  .refine((r) => r.max_requests !== null || r.max_share !== null, bothLimitsOff)
export type ReadinessRules = z.output<typeof readinessRulesSchema>
export type ReadinessRulesInput = z.input<typeof readinessRulesSchema>
export const DEFAULT_READINESS_RULES: ReadinessRules = Object.freeze(readinessRulesSchema.parse({}))

/** Some rule parameters, no defaults: what a config overrides. */
export const readinessRulesOverrideSchema = z.strictObject(ruleFields).partial()
export type ReadinessRulesOverride = z.output<typeof readinessRulesOverrideSchema>

/** Config: overrides of the built-in defaults, and per key, e.g. `{ keys: { 'acme-payments': { max_requests: 10 } } }`. */
export const readinessConfigSchema = z.strictObject({
  defaults: readinessRulesOverrideSchema.default({}),
  keys: z.record(z.string().min(1), readinessRulesOverrideSchema).default({}),
})
export type ReadinessConfig = z.output<typeof readinessConfigSchema>

/**
 * The rules for one key: its overrides on top of the configured defaults on top of
 * the built-in ones. Throws ConfigError when the merged rules are invalid.
 */
export function readinessRulesFor(config: ReadinessConfig, keyId: string): ReadinessRules {
  const merged = { ...config.defaults, ...(config.keys[keyId] ?? {}) }
  const r = readinessRulesSchema.safeParse(merged)
  if (!r.success) {
    const msg = r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
    throw new ConfigError(`readiness rules for key ${keyId}: ${msg}`)
  }
  return r.data
}

export const READINESS_RULE_IDS = [
  'newer_version_active',
  'old_traffic_below_threshold',
  'no_failures_on_newer',
  'min_overlap_elapsed',
  'data_fresh',
] as const
export type ReadinessRuleId = (typeof READINESS_RULE_IDS)[number]

export type RuleOutcome = 'pass' | 'fail' | 'unknown'
export type ReadinessVerdict = 'ready' | 'not_ready' | 'unknown'

export interface RuleResult {
  id: ReadinessRuleId
  outcome: RuleOutcome
  detail: string
  numbers: Record<string, number | null>
}

export interface Readiness {
  keyId: string
  version: string
  verdict: ReadinessVerdict
  rules: RuleResult[]
}

/**
 * Any verdict with its rules: the planned-rotation readiness above, or the
 * incident rules (analysis/incident.ts). What readiness signals and the gate read.
 */
export interface VerdictWithRules {
  keyId: string
  version: string
  verdict: ReadinessVerdict
  rules: { id: string; outcome: RuleOutcome; detail: string; numbers: Record<string, number | null> }[]
}

export interface ReadinessInput {
  keyId: string
  version: string
  /** Registry state; versions of other keys are ignored. */
  versions: readonly KeyVersion[]
  /** Shares over the lookback window ending at now (see `computeShares`); null when not available. */
  shares: ShareWindow | null
  /** Findings currently open (any keys; only this key's are read). */
  openFindings: readonly Pick<Finding, 'type' | 'keyId' | 'version' | 'id'>[]
  /** How far ingestion is behind (now − newest ingested event time), null when unknown. */
  ingestLagMs: number | null
  now: number
  rules?: ReadinessRules
}

const hours = (ms: number) => `${Math.round((ms / 3_600_000) * 10) / 10} h`

/** Evaluates every rule, in `READINESS_RULE_IDS` order, and the verdict. */
export function evaluateReadiness(input: ReadinessInput): Readiness {
  const rules = input.rules ?? DEFAULT_READINESS_RULES
  const asked = findVersion(input.versions, input.keyId, input.version)
  const newerActive = asked ? newerVersions(input.versions, asked).filter((v) => v.state === 'active') : []
  const results: RuleResult[] = [
    newerVersionActive(input, asked, newerActive),
    oldTrafficBelowThreshold(input, rules),
    noFailuresOnNewer(input, rules, asked, newerActive),
    minOverlapElapsed(input, rules, asked, newerActive),
    dataFresh(input, rules),
  ]
  const fresh = results.find((r) => r.id === 'data_fresh')!.outcome === 'pass'
  const verdict: ReadinessVerdict =
    asked === null || !fresh || results.some((r) => r.outcome === 'unknown')
      ? 'unknown'
      : results.some((r) => r.outcome === 'fail')
        ? 'not_ready'
        : 'ready'
  return { keyId: input.keyId, version: input.version, verdict, rules: results }
}

function unknownVersion(id: ReadinessRuleId, input: ReadinessInput): RuleResult {
  return {
    id,
    outcome: 'unknown',
    detail: `${input.keyId} ${input.version} is not in the key registry`,
    numbers: {},
  }
}

function newerVersionActive(
  input: ReadinessInput,
  asked: KeyVersion | null,
  newerActive: KeyVersion[],
): RuleResult {
  if (asked === null) return unknownVersion('newer_version_active', input)
  const names = newerActive.map((v) => v.version)
  return {
    id: 'newer_version_active',
    outcome: names.length > 0 ? 'pass' : 'fail',
    detail:
      names.length > 0
        ? `newer active version(s): ${names.join(', ')}`
        : `no version newer than ${input.version} is active; clients would have nothing to move to`,
    numbers: { newerActiveVersions: names.length },
  }
}

function oldTrafficBelowThreshold(input: ReadinessInput, rules: ReadinessRules): RuleResult {
  const id = 'old_traffic_below_threshold'
  const sh = input.shares
  const wantedFrom = input.now - rules.lookback_ms
  if (
    sh === null ||
    sh.from > wantedFrom + rules.window_tolerance_ms ||
    sh.to < input.now - rules.window_tolerance_ms
  ) {
    return {
      id,
      outcome: 'unknown',
      detail: `traffic shares for the last ${hours(rules.lookback_ms)} are not available`,
      numbers: { lookbackMs: rules.lookback_ms, windowFrom: sh?.from ?? null, windowTo: sh?.to ?? null },
    }
  }
  if (sh.totalRequests === 0) {
    // Nothing stored for the key (a store still empty, a source not read yet, a
    // key gone quiet): no traffic shows that clients moved to a newer version.
    return {
      id,
      outcome: 'unknown',
      detail: `no request of the key is stored for the last ${hours(rules.lookback_ms)}, so nothing shows its clients moved to a newer version`,
      numbers: { requests: 0, totalRequests: 0, lookbackMs: rules.lookback_ms },
    }
  }
  const own = shareOf(sh, input.version)
  const requestsOk = rules.max_requests === null || own.requests <= rules.max_requests
  const shareOk = rules.max_share === null || own.share <= rules.max_share
  const limits = [
    rules.max_requests === null ? null : `≤ ${rules.max_requests} request(s)`,
    rules.max_share === null ? null : `share ≤ ${(rules.max_share * 100).toFixed(2)}%`,
  ].filter((x) => x !== null)
  return {
    id,
    outcome: requestsOk && shareOk ? 'pass' : 'fail',
    detail:
      `${input.version} had ${own.requests} request(s), ${(own.share * 100).toFixed(2)}% of the key's ` +
      `${sh.totalRequests}, in the last ${hours(rules.lookback_ms)} (limit ${limits.join(' and ')})`,
    numbers: {
      requests: own.requests,
      share: own.share,
      totalRequests: sh.totalRequests,
      maxRequests: rules.max_requests,
      maxShare: rules.max_share,
      lookbackMs: rules.lookback_ms,
    },
  }
}

function noFailuresOnNewer(
  input: ReadinessInput,
  rules: ReadinessRules,
  asked: KeyVersion | null,
  newerActive: KeyVersion[],
): RuleResult {
  if (asked === null) return unknownVersion('no_failures_on_newer', input)
  const versions = new Set([input.version, ...newerActive.map((v) => v.version)])
  const blocking = new Set<string>(rules.blocking_finding_types)
  const open = input.openFindings
    .filter((f) => f.keyId === input.keyId && versions.has(f.version) && blocking.has(f.type))
    .map((f) => f.id)
    .sort()
  return {
    id: 'no_failures_on_newer',
    outcome: open.length === 0 ? 'pass' : 'fail',
    detail: open.length === 0 ? 'no open blocking findings' : `open blocking findings: ${open.join(', ')}`,
    numbers: { openFindings: open.length },
  }
}

function minOverlapElapsed(
  input: ReadinessInput,
  rules: ReadinessRules,
  asked: KeyVersion | null,
  newerActive: KeyVersion[],
): RuleResult {
  const id = 'min_overlap_elapsed'
  if (asked === null) return unknownVersion(id, input)
  if (newerActive.length === 0) {
    return {
      id,
      outcome: 'fail',
      detail: 'no newer version is active, so no overlap has started',
      numbers: {},
    }
  }
  const activations = newerActive.map((v) => v.activatedAt).filter((t): t is number => t !== null)
  if (activations.length === 0) {
    return {
      id,
      outcome: 'unknown',
      detail: 'the newer versions have no recorded activation time',
      numbers: {},
    }
  }
  const since = Math.min(...activations)
  const elapsed = input.now - since
  return {
    id,
    outcome: elapsed >= rules.min_overlap_ms ? 'pass' : 'fail',
    detail: `a newer version has been active for ${hours(elapsed)} (minimum ${hours(rules.min_overlap_ms)})`,
    numbers: { activatedAt: since, elapsedMs: elapsed, minOverlapMs: rules.min_overlap_ms },
  }
}

function dataFresh(input: ReadinessInput, rules: ReadinessRules): RuleResult {
  const lag = input.ingestLagMs
  if (lag === null || !Number.isFinite(lag)) {
    return {
      id: 'data_fresh',
      outcome: 'unknown',
      detail: 'ingestion lag is unknown',
      numbers: { maxIngestLagMs: rules.max_ingest_lag_ms },
    }
  }
  return {
    id: 'data_fresh',
    outcome: lag <= rules.max_ingest_lag_ms ? 'pass' : 'fail',
    detail: `ingestion is ${Math.round(lag / 1000)} s behind (maximum ${Math.round(rules.max_ingest_lag_ms / 1000)} s)`,
    numbers: { ingestLagMs: lag, maxIngestLagMs: rules.max_ingest_lag_ms },
  }
}
