// Turns a ScenarioSpec into what a real deployment would produce: the key
// lifecycle events (for a registry file), the gateways' auth events in time order,
// and the exact counts a test can hold keyshift to ("truth", tallied from the
// generated stream itself, never from the store). Deterministic for a spec.
import { stringify } from 'yaml'
import type { TimeWindow } from '../analysis/types.ts'
import { type AuthEvent, type FailureReason, UNKNOWN_KEY, UNKNOWN_VERSION } from '../domain/auth-event.ts'
import { ValidationError } from '../domain/errors.ts'
import { createFingerprinter, type Fingerprinter } from '../ingest/secrets/fingerprint.ts'
import type { LifecycleInput } from '../registry/lifecycle-input.ts'
import { hashString, hex8, mix32, Random } from './random.ts'
import type {
  ClientSpec,
  KeySpec,
  RouteSpec,
  ScenarioSpec,
  TrafficSpec,
  UnknownKeySpec,
  VersionSpec,
} from './spec.ts'

const HOUR_MS = 3_600_000
const DAY_MS = 86_400_000

/**
 * Pepper of the default fingerprinter: events carry `fp_…` fingerprints computed with
 * it. Pass the daemon's own fingerprinter (`buildScenario(spec, { fingerprint })`) when
 * comparing with what keyshift stored. A demo value, not a secret.
 */
export const SCENARIO_PEPPER = 'keyshift-scenario-demo-pepper'

export interface Tally {
  requests: number
  failures: number
}

export interface StragglerTruth {
  clientId: string
  requests: number
  failures: number
}

export interface ScenarioTruth {
  /** The scenario's [start, end). */
  window: TimeWindow
  total: number
  failures: number
  /** Per key id, per version (unregistered keys under `unknown`/`unknown`). */
  byVersion: Record<string, Record<string, Tally>>
  /** Per key id, per version, per client id ('' for callers without one). */
  byClient: Record<string, Record<string, Record<string, Tally>>>
  /** Requests per failure reason (`none` for plain successes). */
  byReason: Record<string, number>
  /**
   * Per key with a rotation (two or more versions): clients that used the oldest
   * version within the last `stragglerLookbackMs` before `end`, with their requests
   * and failures on it there; sorted by requests descending, then client id.
   */
  stragglers: Record<string, { oldVersion: string; window: TimeWindow; clients: StragglerTruth[] }>
}

export interface Scenario {
  readonly spec: ScenarioSpec
  /** Lifecycle events in time order, shaped like the registry's file/HTTP input. */
  readonly lifecycle: LifecycleInput[]
  /**
   * Auth events with times in [from, to) (default: the scenario's [start, end)), in
   * time order. `to` may be Infinity for a live simulation: callers keep going in
   * their last state after `end`.
   */
  events(range?: Partial<TimeWindow>): Generator<AuthEvent>
  /** The raw key material behind an event's fingerprint ('' when none was presented). */
  materialOf(event: AuthEvent): string
  /** Exact counts over [start, end), computed (once, lazily) from the generated events. */
  readonly truth: ScenarioTruth
}

export interface BuildOptions {
  /** Fingerprints of presented keys; default: keyshift's fingerprinter with `SCENARIO_PEPPER`. */
  fingerprint?: Fingerprinter
}

// ---------------------------------------------------------------------------
// Daily cycle and arrivals
// ---------------------------------------------------------------------------

const DIURNAL_AMPLITUDE = 0.6
const DIURNAL_PEAK_HOUR_UTC = 14
const DIURNAL_MAX = 1 + DIURNAL_AMPLITUDE

/** Traffic multiplier at `t` (UTC hour of day): peaks at 14:00, lowest at 02:00, averages 1 over a day. */
export function diurnal(t: number): number {
  const hour = (((t % DAY_MS) + DAY_MS) % DAY_MS) / HOUR_MS
  return 1 + DIURNAL_AMPLITUDE * Math.cos((2 * Math.PI * (hour - DIURNAL_PEAK_HOUR_UTC)) / 24)
}

type Clock = (t: number) => number

function cycleClock(spec: ScenarioSpec): Clock {
  const w = spec.clockWarp
  if (!w) return (t) => t
  return (t) => (t < w.from ? t : w.from + (t - w.from) * w.speedup)
}

/** Request times of one caller, non-decreasing integers (ms), Infinity when done. */
class Arrivals {
  readonly #t: TrafficSpec
  readonly #rng: Random
  readonly #cycle: Clock
  readonly #until: number
  #now: number
  // schedule state
  #slot = 0
  #inBurst = 0

  constructor(
    traffic: TrafficSpec,
    rng: Random,
    from: number,
    active: { from?: number; to?: number },
    cycle: Clock,
  ) {
    this.#t = traffic
    this.#rng = rng
    this.#cycle = cycle
    this.#now = Math.max(from, active.from ?? Number.NEGATIVE_INFINITY)
    this.#until = active.to ?? Number.POSITIVE_INFINITY
    if (traffic.kind === 'schedule') {
      this.#slot =
        Math.ceil((this.#now - traffic.offsetMs) / traffic.everyMs) * traffic.everyMs + traffic.offsetMs
    }
  }

  next(): number {
    const t = this.#t
    if (t.kind === 'poisson') {
      if (!(t.perHour > 0)) return Number.POSITIVE_INFINITY
      const max = (t.perHour / HOUR_MS) * (t.diurnal ? DIURNAL_MAX : 1)
      for (;;) {
        this.#now += this.#rng.exponential(max)
        if (this.#now >= this.#until) return Number.POSITIVE_INFINITY
        if (!t.diurnal || this.#rng.next() * DIURNAL_MAX < diurnal(this.#cycle(this.#now))) {
          return Math.floor(this.#now)
        }
      }
    }
    if (this.#inBurst >= t.burst) {
      this.#inBurst = 0
      this.#slot += t.everyMs
    }
    const jitter = t.spacingMs > 1 ? this.#rng.int(0, Math.floor(t.spacingMs / 2)) : 0
    const at = this.#slot + this.#inBurst * t.spacingMs + jitter
    this.#inBurst++
    return at >= this.#until ? Number.POSITIVE_INFINITY : at
  }
}

// ---------------------------------------------------------------------------
// Callers
// ---------------------------------------------------------------------------

interface Actor {
  readonly index: number
  next(): number
  emit(time: number, eventId: string): AuthEvent
}

function routePicker(routes: readonly RouteSpec[]): (rng: Random) => RouteSpec {
  if (routes.length === 0) throw new ValidationError('a caller needs at least one route')
  return (rng) => rng.weighted(routes, (r) => r.weight)
}

/** HTTP status of an authenticated request (the upstream's answer): never 401, 403 or 429. */
function successStatus(method: string, rng: Random): number {
  const r = rng.next()
  switch (method) {
    case 'POST':
      return r < 0.9 ? 201 : r < 0.94 ? 200 : r < 0.97 ? 400 : r < 0.99 ? 409 : 502
    case 'DELETE':
      return r < 0.95 ? 204 : 404
    case 'PUT':
    case 'PATCH':
      return r < 0.96 ? 200 : r < 0.98 ? 400 : 404
    default:
      return r < 0.955 ? 200 : r < 0.985 ? 404 : r < 0.995 ? 304 : 503
  }
}

interface VersionInfo {
  spec: VersionSpec
  fingerprint: string
}

class ClientActor implements Actor {
  readonly index: number
  readonly #key: KeySpec
  readonly #c: ClientSpec
  readonly #versions: Map<string, VersionInfo>
  readonly #rng: Random
  readonly #arrivals: Arrivals
  readonly #route: (rng: Random) => RouteSpec
  readonly #gatewayWeights: readonly number[]
  #n = 0

  constructor(
    index: number,
    key: KeySpec,
    client: ClientSpec,
    versions: Map<string, VersionInfo>,
    gatewayWeight: Map<string, number>,
    rng: Random,
    from: number,
    cycle: Clock,
  ) {
    this.index = index
    this.#key = key
    this.#c = client
    this.#versions = versions
    this.#rng = rng
    this.#arrivals = new Arrivals(
      client.traffic,
      rng,
      from,
      { from: client.activeFrom, to: client.activeTo },
      cycle,
    )
    this.#route = routePicker(client.routes ?? key.routes)
    this.#gatewayWeights = client.gateways.map((g) => gatewayWeight.get(g) ?? 1)
  }

  next(): number {
    return this.#arrivals.next()
  }

  #versionAt(t: number): string {
    const m = this.#c.migration
    if (!m || t < m.at) return this.#c.version
    if (t >= m.at + m.rampMs) return m.to
    return this.#rng.next() < (t - m.at) / m.rampMs ? m.to : this.#c.version
  }

  emit(time: number, eventId: string): AuthEvent {
    const c = this.#c
    const rng = this.#rng
    const n = this.#n++
    const version = this.#versionAt(time)
    const v = this.#versions.get(version)!
    const gateway =
      c.traffic.kind === 'schedule'
        ? c.gateways[n % c.gateways.length]!
        : c.gateways[pickIndex(rng, this.#gatewayWeights)]!
    const route = this.#route(rng)
    let status: number
    let reason: FailureReason
    const vs = v.spec
    const staleGateway = vs.stillAcceptedOn?.some(
      (g) => g.gateway === gateway && time < (g.until ?? Infinity),
    )
    if (vs.deactivatedAt !== undefined && time >= vs.deactivatedAt && !staleGateway) {
      status = 401
      reason = 'revoked'
    } else if (vs.expiresAt !== undefined && time >= vs.expiresAt) {
      status = 401
      reason = 'expired'
    } else if (
      vs.missingOn?.some((m) => m.gateway === gateway && time >= m.from && time < (m.to ?? Infinity))
    ) {
      status = 401
      reason = 'unknown_key'
    } else if (c.forbiddenShare !== undefined && rng.next() < c.forbiddenShare) {
      status = 403
      reason = 'insufficient_scope'
    } else if (c.rateLimitedShare !== undefined && rng.next() < c.rateLimitedShare) {
      status = 429
      reason = 'rate_limited'
    } else {
      status = successStatus(route.method, rng)
      reason = 'none'
    }
    const rejected = status === 401 || status === 403
    const latencyMs =
      rejected || status === 429
        ? rng.int(1, 4)
        : Math.max(1, Math.round(rng.logNormal(c.latencyMedianMs, 0.45)))
    return {
      eventId,
      time,
      keyId: this.#key.keyId,
      keyVersion: version,
      keyFingerprint: v.fingerprint,
      outcome: rejected ? 'failure' : 'success',
      reason,
      status,
      clientId: c.clientId,
      sourceAddress: c.addresses[n % c.addresses.length]!,
      userAgent: c.userAgent,
      method: route.method,
      route: route.route,
      gateway,
      latencyMs,
      identitySource: 'key_material',
    }
  }
}

class UnknownKeyActor implements Actor {
  readonly index: number
  readonly #u: UnknownKeySpec
  readonly #rng: Random
  readonly #arrivals: Arrivals
  readonly #route: (rng: Random) => RouteSpec
  readonly #pool: readonly { material: string; fingerprint: string }[]
  readonly #gatewayWeights: readonly number[]

  constructor(
    index: number,
    u: UnknownKeySpec,
    pool: readonly { material: string; fingerprint: string }[],
    gatewayWeight: Map<string, number>,
    rng: Random,
    from: number,
    cycle: Clock,
  ) {
    this.index = index
    this.#u = u
    this.#rng = rng
    this.#pool = pool
    this.#arrivals = new Arrivals(u.traffic, rng, from, { from: u.activeFrom, to: u.activeTo }, cycle)
    this.#route = routePicker(u.routes)
    this.#gatewayWeights = u.gateways.map((g) => gatewayWeight.get(g) ?? 1)
  }

  next(): number {
    return this.#arrivals.next()
  }

  emit(time: number, eventId: string): AuthEvent {
    const rng = this.#rng
    const u = this.#u
    const missing = rng.next() < u.missingShare
    const key = missing ? null : this.#pool[rng.int(0, this.#pool.length)]!
    const route = this.#route(rng)
    return {
      eventId,
      time,
      keyId: UNKNOWN_KEY,
      keyVersion: UNKNOWN_VERSION,
      keyFingerprint: key?.fingerprint ?? '',
      outcome: 'failure',
      reason: missing ? 'missing_credential' : 'unknown_key',
      status: 401,
      clientId: '',
      sourceAddress: rng.pick(u.addresses),
      userAgent: rng.pick(u.userAgents),
      method: route.method,
      route: route.route,
      gateway: u.gateways[pickIndex(rng, this.#gatewayWeights)]!,
      latencyMs: rng.int(1, 4),
      identitySource: key === null ? 'none' : 'key_material',
    }
  }
}

function pickIndex(rng: Random, weights: readonly number[]): number {
  if (weights.length === 1) return 0
  let total = 0
  for (const w of weights) total += w
  let r = rng.next() * total
  for (let i = 0; i < weights.length; i++) {
    r -= weights[i]!
    if (r < 0) return i
  }
  return weights.length - 1
}

// ---------------------------------------------------------------------------
// Event ids and merging
// ---------------------------------------------------------------------------

/**
 * 32 hex digits, unique per (run, caller, sequence): the words built from the
 * sequence and the caller go through a bijective mix, so two events of one run
 * never share an id; the run salt (seed and start) keeps a live run's ids apart
 * from a backfill's.
 */
function eventIdOf(salt: number, actor: number, seq: number): string {
  const a = mix32(seq ^ 0x68e31da4)
  const b = mix32(actor ^ salt)
  const c = mix32(a ^ b ^ 0x1b873593)
  const d = mix32(c ^ salt)
  return hex8(c) + hex8(a) + hex8(b) + hex8(d)
}

/** A binary min-heap of (time, actor index) pairs: ties go to the lower index, deterministically. */
class ActorHeap {
  readonly #time: number[] = []
  readonly #idx: number[] = []

  get size(): number {
    return this.#time.length
  }

  #less(i: number, j: number): boolean {
    const ti = this.#time[i]!
    const tj = this.#time[j]!
    return ti < tj || (ti === tj && this.#idx[i]! < this.#idx[j]!)
  }

  #swap(i: number, j: number): void {
    const t = this.#time[i]!
    this.#time[i] = this.#time[j]!
    this.#time[j] = t
    const x = this.#idx[i]!
    this.#idx[i] = this.#idx[j]!
    this.#idx[j] = x
  }

  push(time: number, idx: number): void {
    this.#time.push(time)
    this.#idx.push(idx)
    let i = this.#time.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if (!this.#less(i, p)) break
      this.#swap(i, p)
      i = p
    }
  }

  peekTime(): number {
    return this.#time[0]!
  }

  /** Removes the minimum and returns its actor index. */
  pop(): number {
    const top = this.#idx[0]!
    const lastT = this.#time.pop()!
    const lastI = this.#idx.pop()!
    if (this.#time.length > 0) {
      this.#time[0] = lastT
      this.#idx[0] = lastI
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < this.#time.length && this.#less(l, m)) m = l
        if (r < this.#time.length && this.#less(r, m)) m = r
        if (m === i) break
        this.#swap(i, m)
        i = m
      }
    }
    return top
  }
}

// ---------------------------------------------------------------------------
// Validation, lifecycle, truth
// ---------------------------------------------------------------------------

function validate(spec: ScenarioSpec): void {
  const fail = (msg: string) => {
    throw new ValidationError(`scenario: ${msg}`)
  }
  if (!(Number.isFinite(spec.start) && Number.isFinite(spec.end) && spec.start < spec.end)) {
    fail(`start (${spec.start}) must be before end (${spec.end})`)
  }
  const gateways = new Set(spec.gateways.map((g) => g.name))
  const checkTraffic = (who: string, t: TrafficSpec) => {
    if (t.kind === 'poisson' && !(t.perHour >= 0)) fail(`${who}: perHour must be ≥ 0`)
    if (t.kind === 'schedule' && !(t.everyMs > 0 && t.burst >= 1 && t.spacingMs >= 0 && t.offsetMs >= 0)) {
      fail(`${who}: a schedule needs everyMs > 0, burst ≥ 1, spacingMs ≥ 0 and offsetMs ≥ 0`)
    }
  }
  const checkGateways = (who: string, list: readonly string[]) => {
    if (list.length === 0) fail(`${who}: list at least one gateway`)
    for (const g of list) if (!gateways.has(g)) fail(`${who}: gateway ${g} is not in spec.gateways`)
  }
  const keyIds = new Set<string>()
  for (const k of spec.keys) {
    if (keyIds.has(k.keyId)) fail(`key ${k.keyId} is listed twice`)
    keyIds.add(k.keyId)
    const versions = new Map(k.versions.map((v) => [v.version, v]))
    if (versions.size !== k.versions.length) fail(`key ${k.keyId}: version labels must be unique`)
    for (const v of k.versions) {
      if (v.activatedAt < v.createdAt) fail(`${k.keyId} ${v.version}: activated before it was created`)
      for (const m of v.missingOn ?? []) checkGateways(`${k.keyId} ${v.version} missingOn`, [m.gateway])
      for (const g of v.stillAcceptedOn ?? [])
        checkGateways(`${k.keyId} ${v.version} stillAcceptedOn`, [g.gateway])
    }
    for (const c of k.clients) {
      const who = `${k.keyId} client ${c.clientId || '(none)'}`
      if (!versions.has(c.version)) fail(`${who}: version ${c.version} is not a version of the key`)
      if (c.addresses.length === 0) fail(`${who}: list at least one source address`)
      checkGateways(who, c.gateways)
      checkTraffic(who, c.traffic)
      if (c.migration) {
        const to = versions.get(c.migration.to)
        if (!to) fail(`${who}: migrates to ${c.migration.to}, which is not a version of the key`)
        else if (c.migration.at < to.activatedAt) {
          fail(
            `${who}: migrates to ${to.version} before it is activated; move migration.at after activatedAt`,
          )
        }
        if (!(c.migration.rampMs >= 0)) fail(`${who}: migration.rampMs must be ≥ 0`)
      }
    }
  }
  for (const u of spec.unknownKeys) {
    checkGateways(`unknown-key caller ${u.name}`, u.gateways)
    checkTraffic(`unknown-key caller ${u.name}`, u.traffic)
    if (u.addresses.length === 0 || u.userAgents.length === 0) {
      fail(`unknown-key caller ${u.name}: list at least one address and one user agent`)
    }
    if (!(u.keyPool >= 1)) fail(`unknown-key caller ${u.name}: keyPool must be ≥ 1`)
  }
}

const iso = (t: number) => new Date(t).toISOString()

/** The registry's view of the scenario: create/activate/deprecate/deactivate per version, in time order. */
export function lifecycleOf(spec: ScenarioSpec): LifecycleInput[] {
  const out: { at: number; order: number; ev: LifecycleInput }[] = []
  let order = 0
  for (const k of spec.keys) {
    for (const v of k.versions) {
      const base = { key_id: k.keyId, version: v.version, actor: 'scenario' }
      const add = (at: number, ev: LifecycleInput) => out.push({ at, order: order++, ev })
      const expiryOnCreate = v.expiresAt !== undefined && v.deprecatedAt === undefined
      add(v.createdAt, {
        ...base,
        action: 'create',
        time: iso(v.createdAt),
        secret: v.secret,
        scopes: [...k.scopes],
        owners: [...k.owners],
        ...(expiryOnCreate ? { expires_at: iso(v.expiresAt!) } : {}),
      })
      add(v.activatedAt, { ...base, action: 'activate', time: iso(v.activatedAt) })
      if (v.deprecatedAt !== undefined) {
        add(v.deprecatedAt, {
          ...base,
          action: 'deprecate',
          time: iso(v.deprecatedAt),
          ...(v.expiresAt !== undefined ? { expires_at: iso(v.expiresAt) } : {}),
        })
      }
      if (v.deactivatedAt !== undefined) {
        add(v.deactivatedAt, { ...base, action: 'deactivate', time: iso(v.deactivatedAt) })
      }
    }
  }
  return out.sort((a, b) => a.at - b.at || a.order - b.order).map((x) => x.ev)
}

/** A registry file (`registry.files`) holding the scenario's lifecycle events. */
export function lifecycleYaml(lifecycle: readonly LifecycleInput[], header?: string): string {
  const comment =
    header ??
    'Key lifecycle of a simulated scenario (keyshift simulate). The secrets are simulated\n' +
      'demo values; keyshift fingerprints them when it loads this file and never stores them.'
  const lines = comment
    .split('\n')
    .map((l) => `# ${l}`.trimEnd())
    .join('\n')
  return `${lines}\n${stringify(lifecycle)}`
}

function tallyOf(map: Record<string, Tally>, k: string): Tally {
  let t = map[k]
  if (!t) {
    t = { requests: 0, failures: 0 }
    map[k] = t
  }
  return t
}

function nested<T>(map: Record<string, Record<string, T>>, k: string): Record<string, T> {
  let m = map[k]
  if (!m) {
    m = {}
    map[k] = m
  }
  return m
}

function computeTruth(spec: ScenarioSpec, events: Iterable<AuthEvent>): ScenarioTruth {
  const window = { from: spec.start, to: spec.end }
  const byVersion: ScenarioTruth['byVersion'] = {}
  const byClient: ScenarioTruth['byClient'] = {}
  const byReason: Record<string, number> = {}
  const straggleFrom = spec.end - spec.stragglerLookbackMs
  const oldVersion = new Map<string, string>()
  for (const k of spec.keys) if (k.versions.length >= 2) oldVersion.set(k.keyId, k.versions[0]!.version)
  const recentOld = new Map<string, Record<string, Tally>>()
  let total = 0
  let failures = 0
  for (const e of events) {
    const failed = e.outcome === 'failure' ? 1 : 0
    total++
    failures += failed
    byReason[e.reason] = (byReason[e.reason] ?? 0) + 1
    const v = tallyOf(nested(byVersion, e.keyId), e.keyVersion)
    v.requests++
    v.failures += failed
    const c = tallyOf(nested(nested(byClient, e.keyId), e.keyVersion), e.clientId)
    c.requests++
    c.failures += failed
    if (e.time >= straggleFrom && oldVersion.get(e.keyId) === e.keyVersion) {
      let m = recentOld.get(e.keyId)
      if (!m) {
        m = {}
        recentOld.set(e.keyId, m)
      }
      const s = tallyOf(m, e.clientId)
      s.requests++
      s.failures += failed
    }
  }
  const stragglers: ScenarioTruth['stragglers'] = {}
  for (const [keyId, old] of oldVersion) {
    const clients = Object.entries(recentOld.get(keyId) ?? {})
      .map(([clientId, t]) => ({ clientId, requests: t.requests, failures: t.failures }))
      .sort(
        (a, b) => b.requests - a.requests || (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0),
      )
    stragglers[keyId] = { oldVersion: old, window: { from: straggleFrom, to: spec.end }, clients }
  }
  return { window, total, failures, byVersion, byClient, byReason, stragglers }
}

// ---------------------------------------------------------------------------
// buildScenario
// ---------------------------------------------------------------------------

export function buildScenario(spec: ScenarioSpec, opts: BuildOptions = {}): Scenario {
  validate(spec)
  const fingerprint = opts.fingerprint ?? createFingerprinter(SCENARIO_PEPPER)
  const materials = new Map<string, string>()
  const versionInfo = new Map<string, Map<string, VersionInfo>>()
  for (const k of spec.keys) {
    const m = new Map<string, VersionInfo>()
    for (const v of k.versions) {
      const fp = fingerprint(v.secret)
      materials.set(fp, v.secret)
      m.set(v.version, { spec: v, fingerprint: fp })
    }
    versionInfo.set(k.keyId, m)
  }
  const pools = spec.unknownKeys.map((u) => {
    const rng = new Random(spec.seed, hashString(`pool:${u.name}`))
    return Array.from({ length: u.keyPool }, () => {
      const material = `sk_live_${rng.alnum(24)}`
      const fp = fingerprint(material)
      materials.set(fp, material)
      return { material, fingerprint: fp }
    })
  })
  const gatewayWeight = new Map(spec.gateways.map((g) => [g.name, g.weight]))
  const cycle = cycleClock(spec)
  const seedHash = mix32(spec.seed ^ 0x2545f491)

  const actorsFrom = (from: number): Actor[] => {
    const actors: Actor[] = []
    for (const k of spec.keys) {
      for (const c of k.clients) {
        const rng = new Random(spec.seed, hashString(`client:${k.keyId}:${c.clientId}:${actors.length}`))
        actors.push(
          new ClientActor(actors.length, k, c, versionInfo.get(k.keyId)!, gatewayWeight, rng, from, cycle),
        )
      }
    }
    spec.unknownKeys.forEach((u, i) => {
      const rng = new Random(spec.seed, hashString(`unknown:${u.name}`))
      actors.push(new UnknownKeyActor(actors.length, u, pools[i]!, gatewayWeight, rng, from, cycle))
    })
    return actors
  }

  function* events(range: Partial<TimeWindow> = {}): Generator<AuthEvent> {
    const from = range.from ?? spec.start
    const to = range.to ?? spec.end
    const actors = actorsFrom(from)
    const salt = mix32(seedHash ^ mix32(Math.floor(from / 1000) >>> 0))
    const seq = new Uint32Array(actors.length)
    const heap = new ActorHeap()
    for (const a of actors) {
      const t = a.next()
      if (t < to) heap.push(t, a.index)
    }
    while (heap.size > 0) {
      const time = heap.peekTime()
      if (time >= to) return
      const i = heap.pop()
      const actor = actors[i]!
      yield actor.emit(time, eventIdOf(salt, i, seq[i]!++))
      const t = actor.next()
      if (t < to) heap.push(t, i)
    }
  }

  let truth: ScenarioTruth | null = null
  return {
    spec,
    lifecycle: lifecycleOf(spec),
    events,
    materialOf(e) {
      if (e.keyFingerprint === '') return ''
      const m = materials.get(e.keyFingerprint)
      if (m === undefined) throw new ValidationError(`no key material behind fingerprint ${e.keyFingerprint}`)
      return m
    },
    get truth() {
      truth ??= computeTruth(spec, events())
      return truth
    },
  }
}
