// The default story: a fleet of three gateways, N keys mid-rotation (v1 → v2)
// with clients moving early, late or never, and the situations keyshift exists
// to catch, each pinned to a key so tests and demos can point at it:
//   (a) acme-payments v1 deactivated while acme-batch still uses it (revoked, 401);
//   (b) globex-api v2 missing on gateway gw-eu-2 only (unknown_key there);
//   (c) initech-sync v1, deprecated, suddenly used from 198.51.100.0/24;
//   (d) umbrella-billing v1 expires in 30 h and still carries traffic;
//   (e) a surge of unknown keys on gw-us-1 in the last minutes;
// plus hooli-search, fully migrated and ready for its v1 to be switched off.
// Every time is relative to the scenario's end ("now" of the story).
import { ValidationError } from '../domain/errors.ts'
import { hashString, Random } from './random.ts'
import type { ClientSpec, KeySpec, RouteSpec, ScenarioSpec, UnknownKeySpec, VersionSpec } from './spec.ts'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

export const GATEWAYS = ['gw-eu-1', 'gw-eu-2', 'gw-us-1'] as const

/** The story beats: which key, version, client, gateway or addresses each is about. */
export const STORY = {
  prematureDeactivation: {
    keyId: 'acme-payments',
    version: 'v1',
    clientId: 'acme-batch',
    beforeEndMs: 12 * MIN,
  },
  missingOnGateway: { keyId: 'globex-api', version: 'v2', gateway: 'gw-eu-2', sinceBeforeEndMs: 3 * HOUR },
  leak: {
    keyId: 'initech-sync',
    version: 'v1',
    addresses: ['198.51.100.23', '198.51.100.201'],
    userAgent: 'python-requests/2.31.0',
    sinceBeforeEndMs: 4 * HOUR,
  },
  expiring: { keyId: 'umbrella-billing', version: 'v1', expiresAfterEndMs: 30 * HOUR },
  migrated: { keyId: 'hooli-search', version: 'v1' },
  surge: {
    gateway: 'gw-us-1',
    addresses: Array.from({ length: 8 }, (_, i) => `203.0.113.${240 + i}`),
    route: '/v1/payments',
    beforeEndMs: 5 * MIN,
  },
} as const

export interface DefaultScenarioOptions {
  /** Start of the scenario, epoch ms. */
  start: number
  /** Length in hours; at least 36 (the story reaches back 35 h). Default 48. */
  hours?: number
  seed?: number
  /** Multiplies the random (Poisson) traffic; scheduled jobs and story callers keep their pace. Default 1. */
  scale?: number
  /** Number of keys, at least 5 (the story keys); more keys are generic rotations. Default 8. */
  keys?: number
  /** Include the unknown-key surge (e). Default true. */
  unknownKeySurge?: boolean
}

export const MIN_HOURS = 36
export const STORY_KEYS = 5

const GENERIC_NAMES = [
  'stark-orders',
  'wayne-reports',
  'wonka-inventory',
  'tyrell-telemetry',
  'cyberdyne-events',
  'oscorp-media',
  'soylent-supply',
  'vandelay-imports',
  'aperture-tests',
  'massive-search',
  'pied-piper-sync',
  'dunder-paper',
]

const r = (method: string, route: string, weight = 1): RouteSpec => ({ method, route, weight })

const poisson = (perHour: number, diurnal = true) => ({ kind: 'poisson' as const, perHour, diurnal })
const schedule = (everyMs: number, offsetMs: number, burst: number, spacingMs = 400) => ({
  kind: 'schedule' as const,
  everyMs,
  offsetMs,
  burst,
  spacingMs,
})

function secretOf(seed: number, keyId: string, version: string): string {
  return `sk_live_${new Random(seed, hashString(`secret:${keyId}:${version}`)).alnum(24)}`
}

export function defaultScenario(opts: DefaultScenarioOptions): ScenarioSpec {
  const hours = opts.hours ?? 48
  const seed = opts.seed ?? 1
  const scale = opts.scale ?? 1
  const keyCount = opts.keys ?? 8
  if (!(hours >= MIN_HOURS)) {
    throw new ValidationError(
      `defaultScenario: hours must be ≥ ${MIN_HOURS} (the story reaches back 35 h), got ${hours}`,
    )
  }
  if (!(Number.isInteger(keyCount) && keyCount >= STORY_KEYS)) {
    throw new ValidationError(
      `defaultScenario: keys must be an integer ≥ ${STORY_KEYS} (the story keys), got ${keyCount}`,
    )
  }
  if (!(scale > 0)) throw new ValidationError(`defaultScenario: scale must be > 0, got ${scale}`)
  const start = opts.start
  const end = start + hours * HOUR
  const E = (offsetMs: number) => end - offsetMs
  const ago = (h: number) => E(h * HOUR)
  const rate = (perHour: number) => perHour * scale
  const version = (
    keyId: string,
    label: string,
    v: Omit<VersionSpec, 'version' | 'secret'>,
  ): VersionSpec => ({
    version: label,
    secret: secretOf(seed, keyId, label),
    ...v,
  })
  const client = (c: Omit<ClientSpec, 'version' | 'latencyMedianMs'> & Partial<ClientSpec>): ClientSpec => ({
    version: 'v1',
    latencyMedianMs: 45,
    ...c,
  })
  const all = [...GATEWAYS]
  const eu = ['gw-eu-1', 'gw-eu-2']

  const acme: KeySpec = {
    keyId: 'acme-payments',
    owners: ['payments-team@example.com'],
    scopes: ['payments:read', 'payments:write'],
    routes: [
      r('POST', '/v1/payments', 4),
      r('GET', '/v1/payments', 3),
      r('POST', '/v1/refunds'),
      r('GET', '/v1/balance'),
    ],
    versions: [
      version('acme-payments', 'v1', {
        createdAt: E(200 * DAY),
        activatedAt: E(200 * DAY) + 5 * MIN,
        deprecatedAt: ago(26),
        deactivatedAt: E(STORY.prematureDeactivation.beforeEndMs),
      }),
      version('acme-payments', 'v2', { createdAt: ago(34), activatedAt: ago(34) + 10 * MIN }),
    ],
    clients: [
      client({
        clientId: 'acme-checkout',
        userAgent: 'acme-checkout/3.12.0 (node/20.11)',
        addresses: ['192.0.2.10', '192.0.2.11'],
        gateways: all,
        traffic: poisson(rate(40)),
        migration: { to: 'v2', at: ago(33), rampMs: HOUR },
        rateLimitedShare: 0.01,
      }),
      client({
        clientId: 'acme-billing',
        userAgent: 'acme-billing/4.2.0 (+https://acme.example)',
        addresses: ['203.0.113.20'],
        gateways: ['gw-eu-1', 'gw-us-1'],
        traffic: poisson(rate(20)),
        migration: { to: 'v2', at: ago(27), rampMs: 3 * HOUR },
        latencyMedianMs: 80,
      }),
      client({
        clientId: 'acme-mobile-bff',
        userAgent: 'acme-mobile-bff/1.8.3 okhttp/4.12.0',
        addresses: ['192.0.2.30', '192.0.2.31'],
        gateways: all,
        traffic: poisson(rate(30)),
        migration: { to: 'v2', at: ago(33) + 20 * MIN, rampMs: 30 * MIN },
        forbiddenShare: 0.005,
      }),
      // (a) The nightly-style batch job nobody remembered: every 5 minutes, 3 calls, EU only, still on v1.
      client({
        clientId: STORY.prematureDeactivation.clientId,
        userAgent: 'acme-batch/0.9.1 python-requests/2.28.1',
        addresses: ['203.0.113.45'],
        gateways: eu,
        traffic: schedule(5 * MIN, 2 * MIN, 3),
        latencyMedianMs: 120,
      }),
    ],
  }

  const globex: KeySpec = {
    keyId: 'globex-api',
    owners: ['platform@globex.example'],
    scopes: ['orders:read', 'orders:write'],
    routes: [
      r('GET', '/v2/orders', 5),
      r('POST', '/v2/orders', 2),
      r('GET', '/v2/customers', 2),
      r('PATCH', '/v2/orders'),
    ],
    versions: [
      version('globex-api', 'v1', {
        createdAt: E(300 * DAY),
        activatedAt: E(300 * DAY) + 5 * MIN,
        deprecatedAt: ago(20),
      }),
      version('globex-api', 'v2', {
        createdAt: ago(30),
        activatedAt: ago(30) + 5 * MIN,
        // (b) gw-eu-2 was rebuilt from a config snapshot taken before v2 existed.
        missingOn: [
          { gateway: STORY.missingOnGateway.gateway, from: E(STORY.missingOnGateway.sinceBeforeEndMs) },
        ],
      }),
    ],
    clients: [
      client({
        clientId: 'globex-web',
        userAgent: 'globex-web/2024.11.2 (Go-http-client/2.0)',
        addresses: ['192.0.2.50', '192.0.2.51', '192.0.2.52'],
        gateways: all,
        traffic: poisson(rate(60)),
        migration: { to: 'v2', at: ago(29), rampMs: 2 * HOUR },
        rateLimitedShare: 0.01,
      }),
      client({
        clientId: 'globex-sync',
        userAgent: 'globex-sync/5.0.0',
        addresses: ['203.0.113.60'],
        gateways: all,
        traffic: schedule(2 * MIN, 0, 2, 250),
        migration: { to: 'v2', at: ago(28), rampMs: 0 },
      }),
      client({
        clientId: 'globex-legacy-crm',
        userAgent: 'Java/1.8.0_202',
        addresses: ['192.0.2.70'],
        gateways: eu,
        traffic: poisson(rate(6), false),
        latencyMedianMs: 150,
      }),
    ],
  }

  const initech: KeySpec = {
    keyId: STORY.leak.keyId,
    owners: ['integrations@initech.example'],
    scopes: ['sync:read', 'exports:read'],
    routes: [r('GET', '/v1/sync/changes', 5), r('POST', '/v1/sync/ack', 3), r('GET', '/v1/exports')],
    versions: [
      version('initech-sync', 'v1', {
        createdAt: E(500 * DAY),
        activatedAt: E(500 * DAY) + 5 * MIN,
        deprecatedAt: ago(22),
      }),
      version('initech-sync', 'v2', { createdAt: ago(35), activatedAt: ago(35) + 15 * MIN }),
    ],
    clients: [
      client({
        clientId: 'initech-etl',
        userAgent: 'initech-etl/7.1 (airflow)',
        addresses: ['203.0.113.80'],
        gateways: ['gw-us-1', 'gw-eu-1'],
        traffic: schedule(10 * MIN, 3 * MIN, 4),
        migration: { to: 'v2', at: ago(30), rampMs: 0 },
      }),
      client({
        clientId: 'initech-portal',
        userAgent: 'Mozilla/5.0 (initech-portal) AppleWebKit/537.36',
        addresses: ['192.0.2.90', '192.0.2.91'],
        gateways: all,
        traffic: poisson(rate(25)),
        migration: { to: 'v2', at: ago(34), rampMs: 2 * HOUR },
      }),
      client({
        clientId: 'initech-reports-cron',
        userAgent: 'curl/7.61.1',
        addresses: ['203.0.113.85'],
        gateways: ['gw-us-1'],
        traffic: schedule(HOUR, 7 * MIN, 6),
        routes: [r('GET', '/v1/exports')],
      }),
      // (c) The leaked v1 secret, used from a network that never used it, with no client id.
      client({
        clientId: '',
        userAgent: STORY.leak.userAgent,
        addresses: [...STORY.leak.addresses],
        gateways: all,
        traffic: poisson(20, false),
        activeFrom: E(STORY.leak.sinceBeforeEndMs),
        routes: [r('GET', '/v1/exports', 3), r('GET', '/v1/sync/changes')],
      }),
    ],
  }

  const umbrella: KeySpec = {
    keyId: STORY.expiring.keyId,
    owners: ['billing@umbrella.example'],
    scopes: ['invoices:read', 'invoices:write'],
    routes: [r('GET', '/v1/invoices', 4), r('POST', '/v1/invoices'), r('GET', '/v1/customers', 2)],
    versions: [
      version('umbrella-billing', 'v1', {
        createdAt: E(400 * DAY),
        activatedAt: E(400 * DAY) + 5 * MIN,
        deprecatedAt: ago(30),
        expiresAt: end + STORY.expiring.expiresAfterEndMs,
      }),
      version('umbrella-billing', 'v2', { createdAt: ago(34), activatedAt: ago(34) + 5 * MIN }),
    ],
    clients: [
      client({
        clientId: 'umbrella-portal',
        userAgent: 'umbrella-portal/12.4.1',
        addresses: ['192.0.2.110'],
        gateways: all,
        traffic: poisson(rate(30)),
        migration: { to: 'v2', at: ago(33), rampMs: HOUR },
      }),
      client({
        clientId: 'umbrella-erp',
        userAgent: 'SAP NetWeaver Application Server (1.0;753)',
        addresses: ['203.0.113.115', '203.0.113.116'],
        gateways: ['gw-eu-1', 'gw-us-1'],
        traffic: poisson(rate(15)),
        latencyMedianMs: 200,
      }),
    ],
  }

  const hooli: KeySpec = {
    keyId: STORY.migrated.keyId,
    owners: ['search-infra@hooli.example'],
    scopes: ['search:query'],
    routes: [r('GET', '/v3/search', 8), r('GET', '/v3/suggest', 3), r('POST', '/v3/index')],
    versions: [
      version('hooli-search', 'v1', {
        createdAt: E(600 * DAY),
        activatedAt: E(600 * DAY) + 5 * MIN,
        deprecatedAt: ago(26),
      }),
      version('hooli-search', 'v2', { createdAt: ago(35) - 10 * MIN, activatedAt: ago(35) }),
    ],
    clients: [
      client({
        clientId: 'hooli-web',
        userAgent: 'hooli-web/88.0 (envoy)',
        addresses: ['192.0.2.130', '192.0.2.131'],
        gateways: all,
        traffic: poisson(rate(40)),
        migration: { to: 'v2', at: ago(34), rampMs: 2 * HOUR },
        latencyMedianMs: 25,
      }),
      client({
        clientId: 'hooli-indexer',
        userAgent: 'hooli-indexer/3.3.0',
        addresses: ['203.0.113.135'],
        gateways: ['gw-us-1', 'gw-eu-2'],
        traffic: schedule(15 * MIN, 4 * MIN, 3),
        migration: { to: 'v2', at: ago(30), rampMs: 0 },
        routes: [r('POST', '/v3/index')],
      }),
      client({
        clientId: 'hooli-ios',
        userAgent: 'Hooli/5.2 (iPhone; iOS 17.5; Scale/3.00)',
        addresses: ['192.0.2.140'],
        gateways: all,
        traffic: poisson(rate(20)),
        migration: { to: 'v2', at: ago(32), rampMs: 4 * HOUR },
        latencyMedianMs: 30,
      }),
    ],
  }

  const keys: KeySpec[] = [acme, globex, initech, umbrella, hooli]
  const rng = new Random(seed, hashString('generic-keys'))
  let nextAddress = 0
  const address = () => {
    // Legitimate callers live in 192.0.2.0/24 (.150–.254) and 203.0.113.0/24 (.150–.199) here;
    // 198.51.100.0/24 is kept for the leak and 203.0.113.200+ for unknown-key callers.
    const i = nextAddress++
    return i < 105 ? `192.0.2.${150 + i}` : `203.0.113.${150 + ((i - 105) % 50)}`
  }
  for (let i = 0; i < keyCount - STORY_KEYS; i++) {
    const base = GENERIC_NAMES[i % GENERIC_NAMES.length]!
    const keyId = i < GENERIC_NAMES.length ? base : `${base}-${Math.floor(i / GENERIC_NAMES.length) + 1}`
    const v2Active = ago(rng.uniform(20, 34))
    const deprecated = rng.chance(0.7) ? v2Active + rng.uniform(4, 12) * HOUR : undefined
    const prefix = `/v1/${keyId.split('-')[1] ?? 'items'}`
    const clients: ClientSpec[] = []
    const clientCount = rng.int(2, 6)
    for (let j = 0; j < clientCount; j++) {
      const perHour = Math.min(120, Math.max(3, rng.logNormal(15, 0.8)))
      const roll = rng.next()
      const at =
        roll < 0.5
          ? v2Active + rng.uniform(0.5, 20) * HOUR
          : roll < 0.75
            ? v2Active + rng.uniform(20, 60) * HOUR
            : null
      const gateways = rng.chance(0.5) ? all : [rng.pick(all)]
      clients.push(
        client({
          clientId: `${keyId.split('-')[0]}-svc-${j + 1}`,
          userAgent: rng.pick([
            'okhttp/4.12.0',
            'python-requests/2.31.0',
            'Go-http-client/1.1',
            'axios/1.6.8',
            'Apache-HttpClient/4.5.14 (Java/17.0.9)',
          ]),
          addresses: perHour >= 6 && rng.chance(0.4) ? [address(), address()] : [address()],
          gateways,
          traffic: poisson(rate(perHour), rng.chance(0.8)),
          ...(at === null ? {} : { migration: { to: 'v2', at, rampMs: rng.uniform(0, 3) * HOUR } }),
          ...(perHour > 40 ? { rateLimitedShare: 0.02 } : {}),
          latencyMedianMs: Math.round(rng.uniform(20, 120)),
        }),
      )
    }
    const created = E(rng.uniform(100, 700) * DAY)
    keys.push({
      keyId,
      owners: [`${keyId.split('-')[0]}-oncall@example.com`],
      scopes: [`${keyId.split('-')[1] ?? 'items'}:read`],
      routes: [r('GET', prefix, 5), r('POST', prefix, 2), r('GET', `${prefix}/search`, 2)],
      versions: [
        version(keyId, 'v1', {
          createdAt: created,
          activatedAt: created + 5 * MIN,
          ...(deprecated === undefined ? {} : { deprecatedAt: deprecated }),
        }),
        version(keyId, 'v2', { createdAt: v2Active - 10 * MIN, activatedAt: v2Active }),
      ],
      clients,
    })
  }

  const scannerAddresses = Array.from({ length: 10 }, (_, i) => `203.0.113.${200 + i}`)
  const unknownKeys: UnknownKeySpec[] = [
    {
      name: 'scanners',
      addresses: scannerAddresses,
      userAgents: ['curl/8.4.0', 'python-requests/2.31.0', 'Go-http-client/1.1', 'zgrab/0.x'],
      gateways: all,
      routes: [
        r('GET', '/v1/payments'),
        r('GET', '/v2/orders'),
        r('GET', '/v1/admin/keys'),
        r('GET', '/.env'),
      ],
      traffic: poisson(4, false),
      missingShare: 0.3,
      keyPool: 40,
    },
  ]
  if (opts.unknownKeySurge ?? true) {
    unknownKeys.push({
      name: 'credential-stuffing',
      addresses: [...STORY.surge.addresses],
      userAgents: ['Go-http-client/1.1'],
      gateways: [STORY.surge.gateway],
      routes: [r('POST', STORY.surge.route)],
      traffic: poisson(600, false),
      activeFrom: E(STORY.surge.beforeEndMs),
      // Over 10 minutes after the end: a live simulation sees it stop again.
      activeTo: end + 10 * MIN,
      missingShare: 0,
      keyPool: 500,
    })
  }

  return {
    seed,
    start,
    end,
    gateways: [
      { name: 'gw-eu-1', weight: 4 },
      { name: 'gw-eu-2', weight: 3 },
      { name: 'gw-us-1', weight: 3 },
    ],
    keys,
    unknownKeys,
    stragglerLookbackMs: DAY,
  }
}
