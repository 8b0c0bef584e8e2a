// The emergency story: a key version leaks, and within minutes it is replaced.
// Times are relative to the leak:
//   leak      acme-ledger v1 is found in a public repository; the incident opens;
//   +2 min    emergency v2 is created and activated;
//   +4..+9    the three known clients move to v2 (web in a 2-minute rollout,
//             the mobile backend in 3 minutes, the batch job at its next run);
//   +6 min    an attacker's source (never seen before) starts using v1;
//   +15 min   v1 is deactivated; every gateway rejects it, except (optionally)
//             gw-us-1, whose credential cache keeps accepting it for 3 minutes;
//   end       the attacker keeps trying until the story's end (+25 min).
// History before the leak (`historyHours`) gives the known-user snapshot.
import { ValidationError } from '../domain/errors.ts'
import { hashString, Random } from './random.ts'
import type { ClientSpec, RouteSpec, ScenarioSpec } from './spec.ts'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

const r = (method: string, route: string, weight = 1): RouteSpec => ({ method, route, weight })

export const INCIDENT_STORY = {
  keyId: 'acme-ledger',
  leaked: 'v1',
  emergency: 'v2',
  owners: ['ledger-team@example.com'],
  scopes: ['ledger:read', 'ledger:write'],
  gateways: ['gw-eu-1', 'gw-eu-2', 'gw-us-1'],
  clients: [
    { clientId: 'ledger-web', addresses: ['10.1.0.10', '10.1.0.11'], movesAfterMs: 4 * MIN },
    { clientId: 'ledger-mobile-api', addresses: ['10.3.0.7'], movesAfterMs: 5 * MIN },
    { clientId: 'ledger-batch', addresses: ['10.2.0.5'], movesAfterMs: 9 * MIN },
  ],
  attacker: {
    address: '203.0.113.66',
    userAgent: 'python-requests/2.31.0',
    gateway: 'gw-us-1',
    startsAfterMs: 6 * MIN,
    routes: ['/v1/ledger/export', '/v1/accounts'],
  },
  emergencyAfterMs: 2 * MIN,
  deactivateAfterMs: 15 * MIN,
  staleGatewayMs: 3 * MIN,
  endAfterMs: 25 * MIN,
} as const

export interface IncidentScenarioOptions {
  /** When the key leaks and the incident opens, epoch ms. */
  leakAt: number
  /** Hours of history before the leak (the snapshot's source). Default 6. */
  historyHours?: number
  seed?: number
  /** gw-us-1 keeps accepting v1 for 3 minutes after its deactivation. Default true. */
  staleGateway?: boolean
  /** Multiplies the clients' request rates. Default 1. */
  scale?: number
}

export interface IncidentScenario {
  spec: ScenarioSpec
  incident: { keyId: string; version: string; reason: 'leaked'; openedAt: number }
  beats: {
    leakAt: number
    emergencyAt: number
    attackerFrom: number
    deactivatedAt: number
    staleUntil: number | null
    end: number
  }
}

export function incidentScenario(o: IncidentScenarioOptions): IncidentScenario {
  const historyHours = o.historyHours ?? 6
  const scale = o.scale ?? 1
  if (!(historyHours >= 1))
    throw new ValidationError(`incidentScenario: historyHours must be ≥ 1, got ${historyHours}`)
  if (!(scale > 0)) throw new ValidationError(`incidentScenario: scale must be > 0, got ${scale}`)
  const seed = o.seed ?? 17
  const S = INCIDENT_STORY
  const leakAt = o.leakAt
  const emergencyAt = leakAt + S.emergencyAfterMs
  const deactivatedAt = leakAt + S.deactivateAfterMs
  const staleUntil = (o.staleGateway ?? true) ? deactivatedAt + S.staleGatewayMs : null
  const end = leakAt + S.endAfterMs
  const secret = (v: string) => `sk_live_${new Random(seed, hashString(`secret:${S.keyId}:${v}`)).alnum(24)}`
  const routes = [
    r('GET', '/v1/ledger/entries', 5),
    r('POST', '/v1/ledger/entries', 2),
    r('GET', '/v1/accounts'),
  ]
  const [web, mobile, batch] = S.clients
  const clients: ClientSpec[] = [
    {
      clientId: web.clientId,
      userAgent: 'ledger-web/5.2 (node)',
      addresses: [...web.addresses],
      gateways: ['gw-eu-1', 'gw-eu-2'],
      traffic: { kind: 'poisson', perHour: 900 * scale, diurnal: false },
      version: 'v1',
      migration: { to: 'v2', at: leakAt + web.movesAfterMs - 2 * MIN, rampMs: 2 * MIN },
      latencyMedianMs: 40,
    },
    {
      clientId: mobile.clientId,
      userAgent: 'okhttp/4.12.0',
      addresses: [...mobile.addresses],
      gateways: ['gw-eu-1', 'gw-us-1'],
      traffic: { kind: 'poisson', perHour: 600 * scale, diurnal: false },
      version: 'v1',
      migration: { to: 'v2', at: leakAt + mobile.movesAfterMs - 3 * MIN, rampMs: 3 * MIN },
      latencyMedianMs: 60,
    },
    {
      clientId: batch.clientId,
      userAgent: 'ledger-batch/1.9 (cron)',
      addresses: [...batch.addresses],
      gateways: ['gw-eu-2'],
      traffic: { kind: 'schedule', everyMs: 5 * MIN, offsetMs: 2 * MIN, burst: 4, spacingMs: 500 },
      version: 'v1',
      migration: { to: 'v2', at: leakAt + batch.movesAfterMs, rampMs: 0 },
      routes: [r('POST', '/v1/ledger/entries')],
      latencyMedianMs: 120,
    },
    {
      // The attacker presents the leaked secret; the gateway names the client the key belongs to.
      clientId: web.clientId,
      userAgent: S.attacker.userAgent,
      addresses: [S.attacker.address],
      gateways: [S.attacker.gateway],
      traffic: { kind: 'poisson', perHour: 240 * scale, diurnal: false },
      version: 'v1',
      activeFrom: leakAt + S.attacker.startsAfterMs,
      routes: S.attacker.routes.map((x) => r('GET', x)),
      latencyMedianMs: 30,
    },
  ]
  const spec: ScenarioSpec = {
    seed,
    start: leakAt - historyHours * HOUR,
    end,
    gateways: S.gateways.map((name) => ({ name, weight: 1 })),
    keys: [
      {
        keyId: S.keyId,
        owners: [...S.owners],
        scopes: [...S.scopes],
        routes,
        versions: [
          {
            version: 'v1',
            secret: secret('v1'),
            createdAt: leakAt - 200 * DAY,
            activatedAt: leakAt - 200 * DAY + MIN,
            deactivatedAt,
            ...(staleUntil === null ? {} : { stillAcceptedOn: [{ gateway: 'gw-us-1', until: staleUntil }] }),
          },
          { version: 'v2', secret: secret('v2'), createdAt: emergencyAt, activatedAt: emergencyAt },
        ],
        clients,
      },
    ],
    unknownKeys: [],
    stragglerLookbackMs: 5 * MIN,
  }
  return {
    spec,
    incident: { keyId: S.keyId, version: S.leaked, reason: 'leaked', openedAt: leakAt },
    beats: {
      leakAt,
      emergencyAt,
      attackerFrom: leakAt + S.attacker.startsAfterMs,
      deactivatedAt,
      staleUntil,
      end,
    },
  }
}
