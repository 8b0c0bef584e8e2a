// The shape of a traffic scenario: gateways, keys with their versions' lifecycle,
// the clients of each key (how often they call, through which gateways, from
// where, and when they move to the new version), and traffic with keys nobody
// registered. Plain data: `buildScenario` turns it into lifecycle events, a
// time-ordered auth-event stream and the exact counts tests assert on.

export interface GatewaySpec {
  name: string
  /** Relative share of traffic a client that may use several gateways sends through this one. */
  weight: number
}

export interface RouteSpec {
  method: string
  route: string
  weight: number
}

export interface VersionSpec {
  version: string
  /** The raw key material of the version (simulated; registered through the lifecycle file). */
  secret: string
  createdAt: number
  activatedAt: number
  deprecatedAt?: number
  deactivatedAt?: number
  /** Requests at or after this time fail with `expired`. Announced on the deprecate event when there is one. */
  expiresAt?: number
  /**
   * Gateways that do not know this version during [from, to): requests there fail
   * with `unknown_key` (a gateway rebuilt from a stale config, a missed propagation).
   */
  missingOn?: readonly { gateway: string; from: number; to?: number }[]
  /**
   * Gateways whose key store missed the deactivation: they keep accepting the
   * version after `deactivatedAt` until `until` (a stale credential cache).
   */
  stillAcceptedOn?: readonly { gateway: string; until?: number }[]
}

export type TrafficSpec =
  /** Requests at random (a Poisson process), `perHour` on average, following the daily cycle if `diurnal`. */
  | { kind: 'poisson'; perHour: number; diurnal: boolean }
  /**
   * A job: at every multiple of `everyMs` (epoch-aligned, like cron) plus `offsetMs`,
   * `burst` requests `spacingMs` apart (± a little jitter).
   */
  | { kind: 'schedule'; everyMs: number; offsetMs: number; burst: number; spacingMs: number }

export interface ClientSpec {
  /** Client id as the gateway logs it; '' for a caller that sends none. */
  clientId: string
  userAgent: string
  /** Source addresses, used in turn (a client's egress NAT addresses). */
  addresses: readonly string[]
  /**
   * Gateways the client reaches. Poisson clients pick one per request by gateway
   * weight; scheduled jobs go round-robin (a load balancer in front).
   */
  gateways: readonly string[]
  traffic: TrafficSpec
  /** Active during [activeFrom, activeTo); default: always. */
  activeFrom?: number
  activeTo?: number
  /** Version used before the migration (or always, when there is none). */
  version: string
  /**
   * Moves to `to`: requests before `at` use the old version, after `at + rampMs` the
   * new one, and in between a share of requests growing linearly (instances rolled
   * out one by one). No migration: the client is a straggler for good.
   */
  migration?: { to: string; at: number; rampMs: number }
  /** Routes of this client (default: the key's). */
  routes?: readonly RouteSpec[]
  /** Share of requests answered 429 (authenticated, then throttled). */
  rateLimitedShare?: number
  /** Share of requests rejected 403 `insufficient_scope` (a route outside the key's scopes). */
  forbiddenShare?: number
  latencyMedianMs: number
}

export interface KeySpec {
  keyId: string
  owners: readonly string[]
  scopes: readonly string[]
  routes: readonly RouteSpec[]
  /** Oldest first. */
  versions: readonly VersionSpec[]
  clients: readonly ClientSpec[]
}

/** Callers presenting keys nobody registered (scanners, credential stuffing), or no key at all. */
export interface UnknownKeySpec {
  /** Stream name; also what makes this caller's random choices independent of others. */
  name: string
  addresses: readonly string[]
  userAgents: readonly string[]
  gateways: readonly string[]
  routes: readonly RouteSpec[]
  traffic: TrafficSpec
  activeFrom?: number
  activeTo?: number
  /** Share of requests sent without any credential (`missing_credential`). */
  missingShare: number
  /** How many distinct made-up keys the caller cycles through. */
  keyPool: number
}

export interface ScenarioSpec {
  seed: number
  /** The scenario covers [start, end), epoch ms. */
  start: number
  end: number
  gateways: readonly GatewaySpec[]
  keys: readonly KeySpec[]
  unknownKeys: readonly UnknownKeySpec[]
  /** Window before `end` in which a client on the old version counts as a straggler (truth). */
  stragglerLookbackMs: number
  /**
   * For live simulation: after `from`, the daily cycle runs `speedup` times faster
   * than the event clock, so a day of traffic shape passes in minutes. Lifecycle
   * times and schedules stay on the event clock.
   */
  clockWarp?: { from: number; speedup: number }
}

/** The same scenario with every Poisson rate multiplied by `factor` (scheduled jobs unchanged). */
export function scaleRates(spec: ScenarioSpec, factor: number): ScenarioSpec {
  if (!(factor > 0 && Number.isFinite(factor)))
    throw new RangeError(`scale factor must be > 0, got ${factor}`)
  const scaleTraffic = (t: TrafficSpec): TrafficSpec =>
    t.kind === 'poisson' ? { ...t, perHour: t.perHour * factor } : t
  return {
    ...spec,
    keys: spec.keys.map((k) => ({
      ...k,
      clients: k.clients.map((c) => ({ ...c, traffic: scaleTraffic(c.traffic) })),
    })),
    unknownKeys: spec.unknownKeys.map((u) => ({ ...u, traffic: scaleTraffic(u.traffic) })),
  }
}

/** Average requests per hour of one traffic spec over a day (the daily cycle averages to 1). */
export function meanPerHour(t: TrafficSpec): number {
  return t.kind === 'poisson' ? t.perHour : (t.burst * 3_600_000) / t.everyMs
}

/** Average requests per second of the whole scenario when every caller is active. */
export function meanRatePerSecond(spec: ScenarioSpec): number {
  let perHour = 0
  for (const k of spec.keys) for (const c of k.clients) perHour += meanPerHour(c.traffic)
  for (const u of spec.unknownKeys) perHour += meanPerHour(u.traffic)
  return perHour / 3600
}
