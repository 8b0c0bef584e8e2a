// Bulk traffic for benchmarks: millions of events over many keys, generated into
// reusable column batches (typed arrays, no object per event) and written as Kong
// or Envoy log lines from precomputed fragments. Events follow the daily cycle
// and are in time order; clients move from v1 to v2 at their own time or never.
// Exact story beats are the default scenario's job, not this one's.
import {
  type AuthEvent,
  FAILURE_REASONS,
  type FailureReason,
  UNKNOWN_KEY,
  UNKNOWN_VERSION,
} from '../domain/auth-event.ts'
import { ValidationError } from '../domain/errors.ts'
import { createFingerprinter, type Fingerprinter } from '../ingest/secrets/fingerprint.ts'
import type { LifecycleInput } from '../registry/lifecycle-input.ts'
import { GATEWAYS } from './default-scenario.ts'
import { API_HOST } from './formats.ts'
import { diurnal, SCENARIO_PEPPER } from './generator.ts'
import { hashString, hex8, mix32, Random, WeightedPicker } from './random.ts'

const MIN = 60_000
const DAY = 86_400_000

export interface ScaleOptions {
  /** Number of events to generate. */
  count: number
  /** Events spread over [start, end), following the daily cycle. */
  start: number
  end: number
  seed?: number
  /** Default 1000. */
  keys?: number
  /** Default 4. */
  clientsPerKey?: number
  /** Default the story's three gateways. */
  gateways?: readonly string[]
  /** Share of requests with keys nobody registered (401 unknown_key). Default 0.005. */
  unknownShare?: number
  fingerprint?: Fingerprinter
}

/** A block of events as columns; `length` rows are valid. Reused across `fill` calls. */
export class EventBatch {
  readonly capacity: number
  length = 0
  /** Sequence number of the row in the whole run (unique id source). */
  readonly seq: Float64Array
  readonly time: Float64Array
  /** Client index; `clientCount` and above mean an unknown-key caller. */
  readonly client: Uint32Array
  /** 0 = v1, 1 = v2. */
  readonly version: Uint8Array
  readonly route: Uint8Array
  readonly status: Uint16Array
  /** Index into FAILURE_REASONS. */
  readonly reason: Uint8Array
  readonly latency: Uint16Array
  /** Index of the unknown key in the pool (unknown-key rows only). */
  readonly pool: Uint16Array

  constructor(capacity = 65_536) {
    this.capacity = capacity
    this.seq = new Float64Array(capacity)
    this.time = new Float64Array(capacity)
    this.client = new Uint32Array(capacity)
    this.version = new Uint8Array(capacity)
    this.route = new Uint8Array(capacity)
    this.status = new Uint16Array(capacity)
    this.reason = new Uint8Array(capacity)
    this.latency = new Uint16Array(capacity)
    this.pool = new Uint16Array(capacity)
  }
}

export type ScaleLinePreset = 'kong' | 'envoy'

export interface ScaleScenario {
  readonly count: number
  readonly keyIds: readonly string[]
  readonly clientCount: number
  readonly lifecycle: LifecycleInput[]
  /** Fills `batch` with the next events; returns how many rows (0 once `count` events were made). */
  fill(batch: EventBatch): number
  /** Row `i` as an AuthEvent (allocates; for tests and spot checks). */
  event(batch: EventBatch, i: number): AuthEvent
  /** Raw key material presented in row `i`. */
  material(batch: EventBatch, i: number): string
  /** Rows [0, batch.length) as log lines (UTF-8), each ending in '\n'. */
  lines(batch: EventBatch, preset: ScaleLinePreset): Buffer
}

const REASON_INDEX = new Map(FAILURE_REASONS.map((r, i) => [r, i]))
const R_NONE = REASON_INDEX.get('none')!
const R_RATE = REASON_INDEX.get('rate_limited')!
const R_SCOPE = REASON_INDEX.get('insufficient_scope')!
const R_UNKNOWN = REASON_INDEX.get('unknown_key')!
const ROUTES = [
  ['GET', '/v1/orders'],
  ['GET', '/v1/orders/search'],
  ['POST', '/v1/orders'],
  ['GET', '/v1/customers'],
  ['PATCH', '/v1/customers'],
  ['GET', '/v1/invoices'],
  ['POST', '/v1/payments'],
  ['DELETE', '/v1/sessions'],
] as const
const USER_AGENTS = [
  'okhttp/4.12.0',
  'python-requests/2.31.0',
  'Go-http-client/1.1',
  'axios/1.6.8',
  'Apache-HttpClient/4.5.14 (Java/17.0.9)',
  'curl/8.4.0',
]
const UNKNOWN_POOL = 1024

const json = (s: string) => JSON.stringify(s)
const HEX_CODES = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0))

export function scaleScenario(opts: ScaleOptions): ScaleScenario {
  const count = opts.count
  const seed = opts.seed ?? 1
  const keyCount = opts.keys ?? 1000
  const perKey = opts.clientsPerKey ?? 4
  const gateways = opts.gateways ?? GATEWAYS
  const unknownShare = opts.unknownShare ?? 0.005
  if (!(Number.isInteger(count) && count >= 0))
    throw new ValidationError(`scaleScenario: count must be an integer ≥ 0, got ${count}`)
  if (!(opts.start < opts.end)) throw new ValidationError('scaleScenario: start must be before end')
  if (!(keyCount >= 1 && perKey >= 1 && gateways.length >= 1 && gateways.length <= 255)) {
    throw new ValidationError('scaleScenario: need ≥ 1 key, ≥ 1 client per key and 1–255 gateways')
  }
  const span = opts.end - opts.start
  const setup = new Random(seed, hashString('scale:setup'))

  // Keys and their versions.
  const keyIds = Array.from({ length: keyCount }, (_, k) => `bulk-${String(k + 1).padStart(5, '0')}`)
  const secrets = keyIds.map((id) =>
    [0, 1].map((v) => `sk_live_${new Random(seed, hashString(`${id}:${v}`)).alnum(24)}`),
  )
  const v2At = keyIds.map(() => opts.start - Math.floor(setup.uniform(0, 2 * DAY)))
  const lifecycle: LifecycleInput[] = []
  keyIds.forEach((keyId, k) => {
    const created = opts.start - 200 * DAY
    const iso = (t: number) => new Date(t).toISOString()
    lifecycle.push(
      {
        key_id: keyId,
        version: 'v1',
        action: 'create',
        time: iso(created),
        secret: secrets[k]![0]!,
        actor: 'scale',
      },
      { key_id: keyId, version: 'v1', action: 'activate', time: iso(created + 5 * MIN), actor: 'scale' },
      {
        key_id: keyId,
        version: 'v2',
        action: 'create',
        time: iso(v2At[k]! - 10 * MIN),
        secret: secrets[k]![1]!,
        actor: 'scale',
      },
      { key_id: keyId, version: 'v2', action: 'activate', time: iso(v2At[k]!), actor: 'scale' },
    )
  })
  lifecycle.sort((a, b) => Date.parse(String(a.time)) - Date.parse(String(b.time)))

  // Clients: activity (log-normal), home gateway, address, agent, migration time.
  const clientCount = keyCount * perKey
  const weights = new Float64Array(clientCount)
  const clientKey = new Uint32Array(clientCount)
  const clientGateway = new Uint8Array(clientCount)
  const migrateAt = new Float64Array(clientCount)
  const latencyBase = new Uint16Array(clientCount)
  const clientIds: string[] = []
  const addresses: string[] = []
  const agents: string[] = []
  for (let c = 0; c < clientCount; c++) {
    const k = Math.floor(c / perKey)
    clientKey[c] = k
    weights[c] = setup.logNormal(1, 1)
    clientGateway[c] = setup.int(0, gateways.length)
    const roll = setup.next()
    migrateAt[c] =
      roll < 0.2 ? Number.POSITIVE_INFINITY : opts.start + Math.floor(setup.uniform(-0.2, 1.3) * span)
    latencyBase[c] = setup.int(5, 120)
    clientIds.push(`${keyIds[k]}-client-${(c % perKey) + 1}`)
    const n = c + 1
    addresses.push(
      n < 65_000 ? `${n & 1 ? '192.0.2' : '203.0.113'}.${((n >> 1) % 250) + 1}` : `192.0.2.${(n % 250) + 1}`,
    )
    agents.push(USER_AGENTS[setup.int(0, USER_AGENTS.length)]!)
  }
  const picker = new WeightedPicker(weights)
  const unknownMaterial = Array.from(
    { length: UNKNOWN_POOL },
    (_, i) => `sk_live_${new Random(seed, hashString(`u${i}`)).alnum(24)}`,
  )

  // Cumulative daily-cycle intensity per minute: event i sits at the (i + u)/count quantile.
  const minutes = Math.ceil(span / MIN)
  const cumulative = new Float64Array(minutes + 1)
  for (let m = 0; m < minutes; m++) {
    const width = Math.min(MIN, span - m * MIN)
    cumulative[m + 1] = cumulative[m]! + diurnal(opts.start + m * MIN + width / 2) * width
  }
  const totalIntensity = cumulative[minutes]!

  const rng = new Random(seed, hashString('scale:events'))
  const salt = mix32(seed ^ 0x5bd1e995)
  const saltHex = hex8(salt)
  let made = 0
  let minute = 0

  function fill(b: EventBatch): number {
    const n = Math.min(b.capacity, count - made)
    for (let j = 0; j < n; j++) {
      const i = made + j
      const target = ((i + rng.next()) / count) * totalIntensity
      while (minute < minutes - 1 && cumulative[minute + 1]! <= target) minute++
      const lo = cumulative[minute]!
      const width = cumulative[minute + 1]! - lo
      const t = Math.floor(
        opts.start +
          minute * MIN +
          (width > 0 ? ((target - lo) / width) * Math.min(MIN, span - minute * MIN) : 0),
      )
      b.seq[j] = i
      b.time[j] = Math.min(t, opts.end - 1)
      b.route[j] = rng.uint32() % ROUTES.length
      if (rng.next() < unknownShare) {
        b.client[j] = clientCount
        b.version[j] = 0
        b.status[j] = 401
        b.reason[j] = R_UNKNOWN
        b.latency[j] = 1 + (rng.uint32() % 3)
        b.pool[j] = rng.uint32() % UNKNOWN_POOL
        continue
      }
      const c = picker.pick(rng)
      b.client[j] = c
      b.version[j] = t >= migrateAt[c]! && t >= v2At[clientKey[c]!]! ? 1 : 0
      const r = rng.next()
      if (r < 0.005) {
        b.status[j] = 429
        b.reason[j] = R_RATE
        b.latency[j] = 1
      } else if (r < 0.007) {
        b.status[j] = 403
        b.reason[j] = R_SCOPE
        b.latency[j] = 2
      } else {
        const method = ROUTES[b.route[j]!]![0]
        b.status[j] =
          r < 0.97 ? (method === 'POST' ? 201 : method === 'DELETE' ? 204 : 200) : r < 0.995 ? 404 : 502
        b.reason[j] = R_NONE
        b.latency[j] = latencyBase[c]! + (rng.uint32() % 40)
      }
    }
    made += n
    b.length = n
    return n
  }

  /** Same bytes as `putId` writes into lines. */
  const idOf = (seq: number) =>
    saltHex + hex8(mix32(seq ^ 0x3c6ef372)) + hex8(mix32(seq ^ 0x9e3779b9)) + hex8(mix32(seq + salt))

  let fingerprints: string[][] | null = null
  let unknownFingerprints: string[] | null = null
  const fingerprintsOf = () => {
    if (fingerprints === null) {
      const fp = opts.fingerprint ?? createFingerprinter(SCENARIO_PEPPER)
      fingerprints = secrets.map((pair) => pair.map((s) => fp(s)))
      unknownFingerprints = unknownMaterial.map((s) => fp(s))
    }
    return { known: fingerprints, unknown: unknownFingerprints! }
  }

  function material(b: EventBatch, i: number): string {
    const c = b.client[i]!
    return c >= clientCount ? unknownMaterial[b.pool[i]!]! : secrets[clientKey[c]!]![b.version[i]!]!
  }

  function event(b: EventBatch, i: number): AuthEvent {
    const c = b.client[i]!
    const unknown = c >= clientCount
    const fps = fingerprintsOf()
    const reason = FAILURE_REASONS[b.reason[i]!] as FailureReason
    const status = b.status[i]!
    const [method, route] = ROUTES[b.route[i]!]!
    return {
      eventId: idOf(b.seq[i]!),
      time: b.time[i]!,
      keyId: unknown ? UNKNOWN_KEY : keyIds[clientKey[c]!]!,
      keyVersion: unknown ? UNKNOWN_VERSION : b.version[i] === 1 ? 'v2' : 'v1',
      keyFingerprint: unknown ? fps.unknown[b.pool[i]!]! : fps.known[clientKey[c]!]![b.version[i]!]!,
      outcome: status === 401 || status === 403 ? 'failure' : 'success',
      reason,
      status,
      clientId: unknown ? '' : clientIds[c]!,
      sourceAddress: unknown ? `203.0.113.${200 + (b.pool[i]! % 50)}` : addresses[c]!,
      userAgent: unknown ? 'python-requests/2.31.0' : agents[c]!,
      method,
      route,
      gateway: gateways[unknown ? b.pool[i]! % gateways.length : clientGateway[c]!]!,
      latencyMs: b.latency[i]!,
      // Lines name known keys and their versions; unknown keys are only their fingerprint.
      identitySource: unknown ? 'key_material' : 'key_id',
    }
  }

  // Lines are assembled from precomputed UTF-8 fragments (everything constant per
  // client, version and route) and numbers written digit by digit into one reused
  // buffer: no string per line, which is what makes a million lines a second possible.
  const enc = (s: string) => Buffer.from(s, 'utf8')
  let kong: {
    head: Buffer[][]
    tail: Buffer[][]
    route: Buffer[]
    unknownHead: Buffer[]
    unknownTail: Buffer[]
  } | null = null
  let envoy: { who: Buffer[][]; route: Buffer[]; unknown: Buffer[]; details: Buffer[] } | null = null
  const K_LATENCY = enc('},"latencies":{"request":')
  const K_CLOSE = enc('}\n')
  const E_START = enc('{"start_time":"')
  const E_ID = enc('Z","request_id":"')
  const E_DETAILS = enc(',"response_code_details":"')
  const E_DURATION = enc('","duration":')
  const COMMA = enc(',')
  let out = Buffer.alloc(0)
  let o = 0

  const put = (f: Uint8Array) => {
    out.set(f, o)
    o += f.length
  }
  const putUint = (n: number) => {
    if (n < 10) {
      out[o++] = 48 + n
      return
    }
    const digits = Math.floor(Math.log10(n)) + 1
    let x = n
    for (let d = digits - 1; d >= 0; d--) {
      const q = Math.floor(x / 10)
      out[o + d] = 48 + (x - q * 10)
      x = q
    }
    o += digits
  }
  const putHex32 = (x: number) => {
    for (let shift = 24; shift >= 0; shift -= 8) {
      const v = (x >>> shift) & 255
      out[o++] = HEX_CODES[v >> 4]!
      out[o++] = HEX_CODES[v & 15]!
    }
  }
  const putId = (seq: number) => {
    putHex32(salt)
    putHex32(mix32(seq ^ 0x3c6ef372))
    putHex32(mix32(seq ^ 0x9e3779b9))
    putHex32(mix32(seq + salt))
  }

  const kongFragments = () => {
    kong ??= {
      head: clientIds.map((_, c) =>
        [0, 1].map((v) =>
          enc(
            `{"request":{"headers":{"host":"${API_HOST}","user-agent":${json(agents[c]!)},` +
              `"apikey":${json(secrets[clientKey[c]!]![v]!)}},"id":"`,
          ),
        ),
      ),
      tail: clientIds.map((id, c) =>
        [0, 1].map((v) =>
          enc(
            `},"client_ip":${json(addresses[c]!)},"consumer":{"username":${json(id)},` +
              `"custom_id":${json(`${keyIds[clientKey[c]!]}:v${v + 1}`)}},"started_at":`,
          ),
        ),
      ),
      route: ROUTES.map(([m, r]) =>
        enc(`","method":"${m}","uri":${json(r)},"url":"https://${API_HOST}${r}"},"response":{"status":`),
      ),
      unknownHead: unknownMaterial.map((s) =>
        enc(
          `{"request":{"headers":{"host":"${API_HOST}","user-agent":"python-requests/2.31.0","apikey":${json(s)}},"id":"`,
        ),
      ),
      unknownTail: unknownMaterial.map((_, u) =>
        enc(`},"client_ip":"203.0.113.${200 + (u % 50)}","started_at":`),
      ),
    }
    return kong
  }

  const envoyFragments = () => {
    envoy ??= {
      who: clientIds.map((id, c) =>
        [0, 1].map((v) =>
          enc(
            `"user_agent":${json(agents[c]!)},"downstream_remote_address":"${addresses[c]}:443",` +
              `"hostname":${json(gateways[clientGateway[c]!]!)},"x_api_key":${json(secrets[clientKey[c]!]![v]!)},` +
              `"key_id":${json(keyIds[clientKey[c]!]!)},"key_version":"v${v + 1}","x_client_id":${json(id)}}\n`,
          ),
        ),
      ),
      route: ROUTES.map(([m, r]) => enc(`","method":"${m}","path":${json(r)},"response_code":`)),
      unknown: unknownMaterial.map((s, u) =>
        enc(
          `"user_agent":"python-requests/2.31.0","downstream_remote_address":"203.0.113.${200 + (u % 50)}:443",` +
            `"hostname":${json(gateways[u % gateways.length]!)},"x_api_key":${json(s)}}\n`,
        ),
      ),
      details: FAILURE_REASONS.map((r) =>
        enc(
          r === 'none'
            ? 'via_upstream'
            : r === 'rate_limited'
              ? 'request_rate_limited'
              : r === 'insufficient_scope'
                ? 'rbac_access_denied_matched_policy[none]'
                : 'ext_authz_denied{unknown_api_key}',
        ),
      ),
    }
    return envoy
  }

  /** Longest line a row can make: fragments plus numbers, ids and the time. */
  const MAX_LINE = 4096

  function lines(b: EventBatch, preset: ScaleLinePreset): Buffer {
    // A fresh buffer per call (returned as a view, no copy); grown if a batch needs more.
    o = 0
    out = Buffer.allocUnsafe(b.length * (preset === 'kong' ? 560 : 520) + MAX_LINE)
    if (preset === 'kong') {
      const p = kongFragments()
      for (let i = 0; i < b.length; i++) {
        if (o + MAX_LINE > out.length) grow()
        const c = b.client[i]!
        const unknown = c >= clientCount
        put(unknown ? p.unknownHead[b.pool[i]!]! : p.head[c]![b.version[i]!]!)
        putId(b.seq[i]!)
        put(p.route[b.route[i]!]!)
        putUint(b.status[i]!)
        put(K_LATENCY)
        putUint(b.latency[i]!)
        put(unknown ? p.unknownTail[b.pool[i]!]! : p.tail[c]![b.version[i]!]!)
        putUint(b.time[i]!)
        put(K_CLOSE)
      }
    } else {
      const p = envoyFragments()
      // Rows are in time order: format each second once, then append the milliseconds.
      let second = Number.NaN
      let prefix = enc('')
      for (let i = 0; i < b.length; i++) {
        if (o + MAX_LINE > out.length) grow()
        const c = b.client[i]!
        const t = b.time[i]!
        const sec = Math.floor(t / 1000)
        if (sec !== second) {
          second = sec
          prefix = enc(new Date(sec * 1000).toISOString().slice(0, 20))
        }
        put(E_START)
        put(prefix)
        const ms = t - sec * 1000
        out[o++] = 48 + Math.floor(ms / 100)
        out[o++] = 48 + (Math.floor(ms / 10) % 10)
        out[o++] = 48 + (ms % 10)
        put(E_ID)
        putId(b.seq[i]!)
        put(p.route[b.route[i]!]!)
        putUint(b.status[i]!)
        put(E_DETAILS)
        put(p.details[b.reason[i]!]!)
        put(E_DURATION)
        putUint(b.latency[i]!)
        put(COMMA)
        put(c >= clientCount ? p.unknown[b.pool[i]!]! : p.who[c]![b.version[i]!]!)
      }
    }
    return out.subarray(0, o)
  }

  function grow(): void {
    const bigger = Buffer.allocUnsafe(out.length * 2)
    out.copy(bigger, 0, 0, o)
    out = bigger
  }

  return {
    count,
    keyIds,
    clientCount,
    lifecycle,
    fill,
    event,
    material,
    lines,
  }
}
