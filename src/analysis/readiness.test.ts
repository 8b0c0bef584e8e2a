import { describe, expect, it } from 'vitest'
import { ConfigError } from '../domain/errors.ts'
import type { KeyVersion } from '../domain/key-version.ts'
import { keyVersion } from './fixtures.ts'
import { freshnessConfigSchema, type PlaceHeard } from './freshness.ts'
import {
  DEFAULT_READINESS_RULES,
  evaluateReadiness,
  type ReadinessInput,
  type ReadinessRules,
  readinessConfigSchema,
  readinessRulesFor,
} from './readiness.ts'
import type { ShareWindow } from './share.ts'
import { DAY_MS, HOUR_MS, MINUTE_MS } from './types.ts'

const NOW = Date.UTC(2025, 0, 10, 12, 0)
const v1 = keyVersion('v1', { createdAt: 0, activatedAt: 0, state: 'deprecated' })
const v2 = keyVersion('v2', { createdAt: 1, activatedAt: NOW - 2 * DAY_MS })

function shares(v1Requests: number, v2Requests = 1000, from = NOW - DAY_MS): ShareWindow {
  const total = v1Requests + v2Requests
  return {
    from,
    to: NOW,
    totalRequests: total,
    versions: [
      { version: 'v1', requests: v1Requests, failures: 0, share: v1Requests / total },
      { version: 'v2', requests: v2Requests, failures: 0, share: v2Requests / total },
    ],
  }
}

/** The key's places, all heard from within the default 5 min bound. */
const REPORTING: PlaceHeard[] = [
  { kind: 'gateway', name: 'gw-1', lastHeard: NOW - 10_000 },
  { kind: 'source', name: 'kafka:auth#0', lastHeard: NOW - 10_000 },
]

function input(over: Partial<ReadinessInput> = {}): ReadinessInput {
  return {
    keyId: 'acme',
    version: 'v1',
    versions: [v1, v2],
    shares: shares(0),
    openFindings: [],
    ingestLagMs: 20_000,
    places: REPORTING,
    now: NOW,
    ...over,
  }
}

const rules = (over: Partial<ReadinessRules>): ReadinessRules => ({ ...DEFAULT_READINESS_RULES, ...over })
const finding = (type: string, keyId: string, version: string) => ({
  type: type as 'new_version_failing',
  keyId,
  version,
  id: `${type}:${keyId}:${version}:*`,
})

type Outcomes = [string, string, string, string, string, string]

describe('evaluateReadiness', () => {
  it('passes every rule with their numbers', () => {
    expect(evaluateReadiness(input())).toEqual({
      keyId: 'acme',
      version: 'v1',
      verdict: 'ready',
      rules: [
        {
          id: 'newer_version_active',
          outcome: 'pass',
          detail: 'newer active version(s): v2',
          numbers: { newerActiveVersions: 1 },
        },
        {
          id: 'old_traffic_below_threshold',
          outcome: 'pass',
          detail:
            "v1 had 0 request(s), 0.00% of the key's 1000, in the last 24 h (limit ≤ 0 request(s) and share ≤ 0.00%)",
          numbers: {
            requests: 0,
            share: 0,
            totalRequests: 1000,
            maxRequests: 0,
            maxShare: 0,
            lookbackMs: DAY_MS,
          },
        },
        {
          id: 'no_failures_on_newer',
          outcome: 'pass',
          detail: 'no open blocking findings',
          numbers: { openFindings: 0 },
        },
        {
          id: 'min_overlap_elapsed',
          outcome: 'pass',
          detail: 'a newer version has been active for 48 h (minimum 24 h)',
          numbers: { activatedAt: NOW - 2 * DAY_MS, elapsedMs: 2 * DAY_MS, minOverlapMs: DAY_MS },
        },
        {
          id: 'data_fresh',
          outcome: 'pass',
          detail: 'ingestion is 20 s behind (maximum 300 s)',
          numbers: { ingestLagMs: 20_000, maxIngestLagMs: 300_000 },
        },
        {
          id: 'places_reporting',
          outcome: 'pass',
          detail: "all 1 gateway(s) and 1 source(s) that carried the key's traffic are reporting",
          numbers: { places: 2, silentPlaces: 0, oldestLastHeard: NOW - 10_000 },
          places: [
            {
              kind: 'gateway',
              name: 'gw-1',
              lastHeard: NOW - 10_000,
              silentForMs: 10_000,
              silentAfterMs: 300_000,
              silent: false,
            },
            {
              kind: 'source',
              name: 'kafka:auth#0',
              lastHeard: NOW - 10_000,
              silentForMs: 10_000,
              silentAfterMs: 300_000,
              silent: false,
            },
          ],
        },
      ],
    })
  })

  const deprecatedV2: KeyVersion = { ...v2, state: 'deprecated' }
  it.each<{ name: string; over: Partial<ReadinessInput>; verdict: string; outcomes: Outcomes }>([
    {
      name: 'old version still has traffic',
      over: { shares: shares(3) },
      verdict: 'not_ready',
      outcomes: ['pass', 'fail', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'traffic within a per-key allowance of 5 requests, share not checked',
      over: { shares: shares(3), rules: rules({ max_requests: 5, max_share: null }) },
      verdict: 'ready',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'traffic within 5 requests but above a 0.1% share',
      over: { shares: shares(3), rules: rules({ max_requests: 5, max_share: 0.001 }) },
      verdict: 'not_ready',
      outcomes: ['pass', 'fail', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'no newer version is active',
      over: { versions: [v1, deprecatedV2] },
      verdict: 'not_ready',
      outcomes: ['fail', 'pass', 'pass', 'fail', 'pass', 'pass'],
    },
    {
      name: 'asking for the newest version',
      over: { version: 'v2', shares: shares(1000, 0) },
      verdict: 'not_ready',
      outcomes: ['fail', 'pass', 'pass', 'fail', 'pass', 'pass'],
    },
    {
      name: 'the newer version is failing somewhere',
      over: {
        openFindings: [
          finding('new_version_failing', 'acme', 'v2'),
          finding('new_version_failing', 'other', 'v2'),
          finding('expiring_with_traffic', 'acme', 'v2'),
        ],
      },
      verdict: 'not_ready',
      outcomes: ['pass', 'pass', 'fail', 'pass', 'pass', 'pass'],
    },
    {
      name: 'the newer version was activated 2 h ago',
      over: { versions: [v1, { ...v2, activatedAt: NOW - 2 * HOUR_MS }] },
      verdict: 'not_ready',
      outcomes: ['pass', 'pass', 'pass', 'fail', 'pass', 'pass'],
    },
    {
      name: 'newer version without an activation time',
      over: { versions: [v1, { ...v2, activatedAt: null }] },
      verdict: 'unknown',
      outcomes: ['pass', 'pass', 'pass', 'unknown', 'pass', 'pass'],
    },
    {
      name: 'ingestion 10 min behind: stale data',
      over: { ingestLagMs: 10 * MINUTE_MS },
      verdict: 'unknown',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'fail', 'pass'],
    },
    {
      name: 'stale data never hides behind other failures',
      over: { ingestLagMs: 10 * MINUTE_MS, shares: shares(3) },
      verdict: 'unknown',
      outcomes: ['pass', 'fail', 'pass', 'pass', 'fail', 'pass'],
    },
    {
      name: 'ingestion lag unknown',
      over: { ingestLagMs: null },
      verdict: 'unknown',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'unknown', 'pass'],
    },
    {
      name: 'no shares',
      over: { shares: null },
      verdict: 'unknown',
      outcomes: ['pass', 'unknown', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'shares over 1 h only',
      over: { shares: shares(0, 1000, NOW - HOUR_MS) },
      verdict: 'unknown',
      outcomes: ['pass', 'unknown', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'shares window 30 s short (within the 1 min tolerance)',
      over: { shares: shares(0, 1000, NOW - DAY_MS + 30_000) },
      verdict: 'ready',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'version not in the registry',
      over: { version: 'v9' },
      verdict: 'unknown',
      outcomes: ['unknown', 'pass', 'unknown', 'unknown', 'pass', 'pass'],
    },
    {
      name: 'a gateway heard from 5 min 1 s ago, bound 5 min: silent, zero traffic is no evidence',
      over: { places: [REPORTING[1]!, { kind: 'gateway', name: 'gw-1', lastHeard: NOW - 301_000 }] },
      verdict: 'unknown',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'pass', 'unknown'],
    },
    {
      name: 'a gateway heard from exactly 5 min ago: still within its bound',
      over: { places: [REPORTING[1]!, { kind: 'gateway', name: 'gw-1', lastHeard: NOW - 300_000 }] },
      verdict: 'ready',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'a Kafka partition silent for 10 min while the daemon is caught up (lag 20 s)',
      over: { places: [REPORTING[0]!, { kind: 'source', name: 'kafka:auth#0', lastHeard: NOW - 600_000 }] },
      verdict: 'unknown',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'pass', 'unknown'],
    },
    {
      name: 'a gateway silent for 40 min that declared a 1 h bound',
      over: {
        places: [REPORTING[1]!, { kind: 'gateway', name: 'gw-1', lastHeard: NOW - 40 * MINUTE_MS }],
        freshness: freshnessConfigSchema.parse({ gateways: { 'gw-1': { silent_after_ms: HOUR_MS } } }),
      },
      verdict: 'ready',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'pass', 'pass'],
    },
    {
      name: 'a silent place never hides behind a failing rule',
      over: { shares: shares(3), places: [{ kind: 'gateway', name: 'gw-1', lastHeard: NOW - HOUR_MS }] },
      verdict: 'unknown',
      outcomes: ['pass', 'fail', 'pass', 'pass', 'pass', 'unknown'],
    },
    {
      name: 'places not read',
      over: { places: null },
      verdict: 'unknown',
      outcomes: ['pass', 'pass', 'pass', 'pass', 'pass', 'unknown'],
    },
    {
      name: 'no place carried the key (nothing stored)',
      over: { places: [], shares: shares(0, 0) },
      verdict: 'unknown',
      outcomes: ['pass', 'unknown', 'pass', 'pass', 'pass', 'unknown'],
    },
  ])('$name → $verdict', ({ over, verdict, outcomes }) => {
    const r = evaluateReadiness(input(over))
    expect(r.verdict).toBe(verdict)
    expect(r.rules.map((x) => x.outcome)).toEqual(outcomes)
  })

  it('cannot tell from a window with no request of the key at all (an empty store, a quiet key)', () => {
    const r = evaluateReadiness(input({ shares: shares(0, 0) }))
    expect(r.verdict).toBe('unknown')
    expect(r.rules[1]).toEqual({
      id: 'old_traffic_below_threshold',
      outcome: 'unknown',
      detail:
        'no request of the key is stored for the last 24 h, so nothing shows its clients moved to a newer version',
      numbers: { requests: 0, totalRequests: 0, lookbackMs: DAY_MS },
    })
  })

  it('names each silent place and since when', () => {
    const r = evaluateReadiness(
      input({
        places: [
          { kind: 'gateway', name: 'gw-1', lastHeard: NOW - 10_000 },
          { kind: 'gateway', name: 'gw-2', lastHeard: NOW - 344_000 },
          { kind: 'source', name: 'file:/var/log/gw-2.log', lastHeard: NOW - 400_000 },
        ],
        freshness: freshnessConfigSchema.parse({
          sources: { 'file:/var/log/gw-2.log': { silent_after_ms: 60_000 } },
        }),
      }),
    )
    expect(r.verdict).toBe('unknown')
    const rule = r.rules[5]!
    expect(rule.detail).toBe(
      // 400 s > 60 s (the file's own bound) and 344 s > 300 s (the default); silent longest first.
      'source file:/var/log/gw-2.log silent for 400 s (since 2025-01-10T11:53:20.000Z, bound 60 s); ' +
        'gateway gw-2 silent for 344 s (since 2025-01-10T11:54:16.000Z, bound 300 s): zero traffic there is no evidence',
    )
    expect(rule.numbers).toEqual({ places: 3, silentPlaces: 2, oldestLastHeard: NOW - 400_000 })
    expect(rule.places!.map((p) => [p.name, p.silent])).toEqual([
      ['file:/var/log/gw-2.log', true],
      ['gw-2', true],
      ['gw-1', false],
    ])
  })

  it('names the blocking findings', () => {
    const r = evaluateReadiness(
      input({ openFindings: [finding('failures_after_deactivation', 'acme', 'v1')] }),
    )
    expect(r.rules[2]).toEqual({
      id: 'no_failures_on_newer',
      outcome: 'fail',
      detail: 'open blocking findings: failures_after_deactivation:acme:v1:*',
      numbers: { openFindings: 1 },
    })
  })
})

describe('readiness rules config', () => {
  const config = readinessConfigSchema.parse({
    defaults: { max_share: 0.01, max_requests: null },
    keys: { acme: { lookback_ms: HOUR_MS } },
  })
  it.each([
    { key: 'acme', want: { lookback_ms: HOUR_MS, max_share: 0.01, max_requests: null } },
    { key: 'other', want: { lookback_ms: DAY_MS, max_share: 0.01, max_requests: null } },
  ])('rules for $key', ({ key, want }) => {
    expect(readinessRulesFor(config, key)).toEqual({ ...DEFAULT_READINESS_RULES, ...want })
  })

  it('has documented defaults', () => {
    expect(DEFAULT_READINESS_RULES).toEqual({
      lookback_ms: 86_400_000,
      window_tolerance_ms: 60_000,
      max_requests: 0,
      max_share: 0,
      blocking_finding_types: ['new_version_failing', 'failures_after_deactivation'],
      min_overlap_ms: 86_400_000,
      max_ingest_lag_ms: 300_000,
    })
  })

  it('rejects unknown fields and rules that would let any traffic pass', () => {
    expect(readinessConfigSchema.safeParse({ keys: { acme: { max_reqs: 1 } } }).success).toBe(false)
    const open = readinessConfigSchema.parse({ keys: { acme: { max_requests: null, max_share: null } } })
    expect(() => readinessRulesFor(open, 'acme')).toThrow(ConfigError)
    expect(() => readinessRulesFor(open, 'acme')).toThrow('max_requests: set max_requests or max_share')
  })
})
