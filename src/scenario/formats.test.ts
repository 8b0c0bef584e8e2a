import { isDeepStrictEqual } from 'node:util'
import { describe, expect, it } from 'vitest'
import type { AuthEvent } from '../domain/auth-event.ts'
import { createDecoder, PRESET_NAMES } from '../ingest/decode/decoder.ts'
import type { ResolvedKey } from '../ingest/decode/normalise.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { defaultScenario } from './default-scenario.ts'
import { FORMAT_PRESETS, type FormatPreset, formatLine, formatLoss } from './formats.ts'
import { buildScenario } from './generator.ts'

const fingerprint = createFingerprinter('pepper-for-format-tests-0123')
const END = Date.UTC(2026, 10, 27, 15, 0, 0)
const scenario = buildScenario(
  defaultScenario({ start: END - 36 * 3_600_000, hours: 36, seed: 7, scale: 0.2 }),
  {
    fingerprint,
  },
)
const registry = new Map<string, ResolvedKey>()
for (const k of scenario.spec.keys) {
  for (const v of k.versions) registry.set(fingerprint(v.secret), { keyId: k.keyId, version: v.version })
}

/**
 * What identified the key depends on which fields a format writes (a key id and
 * version in Kong's custom_id, a fingerprint elsewhere), not on the event: round
 * trips compare every other field. The presets' conformance tests pin identitySource.
 */
function withoutIdentitySource({ identitySource: _, ...rest }: AuthEvent): Omit<AuthEvent, 'identitySource'> {
  return rest
}

function decoderFor(preset: FormatPreset, defaultGateway: string) {
  const d = createDecoder({
    preset,
    fingerprint,
    resolveFingerprint: (f) => registry.get(f),
    defaultGateway,
  })
  return (line: string) =>
    withoutIdentitySource(d.decode(Buffer.from(line, 'utf8'), { now: END, fallbackEventId: 'fallback:0:0' }))
}

/** A spread of events: every story beat and every failure reason the scenario produces. */
const sample: AuthEvent[] = (() => {
  const all = [...scenario.events()]
  const seen = new Map<string, number>()
  return all.filter((e) => {
    const k = `${e.keyId}|${e.keyVersion}|${e.reason}|${e.status}|${e.gateway}|${e.clientId === ''}`
    const n = seen.get(k) ?? 0
    seen.set(k, n + 1)
    return n < 3
  })
})()

const base: AuthEvent = {
  eventId: '2f6946328ffc4946b8c9120704a4a155',
  time: Date.UTC(2026, 10, 27, 14, 10, 39, 123),
  keyId: 'acme-payments',
  keyVersion: 'v2',
  keyFingerprint: '',
  outcome: 'success',
  reason: 'none',
  status: 200,
  clientId: 'acme-checkout',
  sourceAddress: '192.0.2.10',
  userAgent: 'acme-checkout/3.12.0 (node/20.11)',
  method: 'GET',
  route: '/v1/payments',
  gateway: 'gw-eu-1',
  latencyMs: 43,
  identitySource: 'key_material',
}
const acmeV2 = scenario.spec.keys.find((k) => k.keyId === 'acme-payments')!.versions[1]!.secret

/** Hand-made edge cases: every reason, rate limiting, a 5xx, no client id, no key. */
const edges: { event: AuthEvent; material: string }[] = [
  { event: base, material: acmeV2 },
  { event: { ...base, status: 502, route: '/v1/balance' }, material: acmeV2 },
  { event: { ...base, status: 429, reason: 'rate_limited', latencyMs: 1 }, material: acmeV2 },
  { event: { ...base, status: 403, outcome: 'failure', reason: 'insufficient_scope' }, material: acmeV2 },
  ...(['revoked', 'expired', 'unknown_key', 'invalid_signature', 'other'] as const).map((reason) => ({
    event: { ...base, status: 401, outcome: 'failure' as const, reason, clientId: '' },
    material: acmeV2,
  })),
  { event: { ...base, status: 401, outcome: 'failure', reason: 'revoked' }, material: acmeV2 },
  {
    event: {
      ...base,
      keyId: 'unknown',
      keyVersion: 'unknown',
      status: 401,
      outcome: 'failure',
      reason: 'missing_credential',
      clientId: '',
    },
    material: '',
  },
  {
    event: {
      ...base,
      keyId: 'unknown',
      keyVersion: 'unknown',
      status: 401,
      outcome: 'failure',
      reason: 'unknown_key',
      clientId: '',
    },
    material: 'sk_live_51HstrangerQwErTyUiOpAsDf',
  },
  { event: { ...base, gateway: 'aws-apigateway:a1b2c3d4e5/prod' }, material: acmeV2 },
]

describe('log formats round-trip through the real decoders', () => {
  it('covers every decoder preset (the mapping one is configured, not a format)', () => {
    expect([...FORMAT_PRESETS].sort()).toEqual([...PRESET_NAMES].sort())
  })

  for (const preset of FORMAT_PRESETS) {
    describe(preset, () => {
      const decodeAt = (gateway: string) => decoderFor(preset, gateway)

      it('decodes every event it can carry back to the same AuthEvent, field by field', () => {
        let exact = 0
        for (const e of sample) {
          const defaultGateway = e.gateway
          const loss = formatLoss(preset, e, defaultGateway)
          const decoded = decodeAt(defaultGateway)(formatLine(preset, e, scenario.materialOf(e)))
          if (loss === null) {
            expect(decoded).toEqual(withoutIdentitySource(e))
            exact++
          }
        }
        expect(exact).toBeGreaterThan(sample.length / 2)
      })

      it('says exactly which events it cannot carry (formatLoss)', () => {
        const events = [
          ...sample.map((e) => ({ event: e, material: scenario.materialOf(e) })),
          ...edges.map((x) => ({
            ...x,
            event: { ...x.event, keyFingerprint: x.material === '' ? '' : fingerprint(x.material) },
          })),
        ]
        for (const { event, material } of events) {
          for (const defaultGateway of ['gw-eu-1', 'gw-us-1']) {
            const decoded = decodeAt(defaultGateway)(formatLine(preset, event, material))
            const loss = formatLoss(preset, event, defaultGateway)
            const same = isDeepStrictEqual(decoded, withoutIdentitySource(event))
            if (same !== (loss === null)) {
              expect({ event, decoded, loss }).toEqual({
                event,
                decoded: withoutIdentitySource(event),
                loss: 'formatLoss disagrees',
              })
            }
          }
        }
      })

      it('never writes the raw key into a field the decoder keeps', () => {
        const e = { ...base, keyFingerprint: fingerprint(acmeV2) }
        const decoded = decodeAt('gw-eu-1')(formatLine(preset, e, acmeV2))
        expect(JSON.stringify(decoded)).not.toContain(acmeV2)
        expect(decoded.keyFingerprint).toBe(fingerprint(acmeV2))
      })
    })
  }

  it('envoy, nginx and canonical carry every event of the story exactly', () => {
    for (const preset of ['envoy', 'nginx', 'canonical'] as const) {
      expect(sample.filter((e) => formatLoss(preset, e, 'gw-eu-1') !== null)).toEqual([])
    }
  })

  it('kong carries the key version in consumer.custom_id and the client in consumer.username', () => {
    const e = { ...base, keyFingerprint: fingerprint(acmeV2) }
    const doc = JSON.parse(formatLine('kong', e, acmeV2))
    expect(doc.consumer).toMatchObject({ username: 'acme-checkout', custom_id: 'acme-payments:v2' })
    expect(doc.request.headers.apikey).toBe(acmeV2)
    expect(doc.started_at).toBe(e.time)
    expect(doc.request.id).toBe(e.eventId)
  })

  it('kong cannot tell a revoked key from any other rejection, and says so', () => {
    const e = { ...base, status: 401, outcome: 'failure' as const, reason: 'revoked' as const, clientId: '' }
    expect(formatLoss('kong', e, 'gw-eu-1')).toMatch(/cannot carry reason revoked/)
    expect(formatLoss('envoy', e, 'gw-eu-1')).toBeNull()
    expect(formatLoss('kong', { ...base, gateway: 'gw-eu-2' }, 'gw-eu-1')).toMatch(/logs no gateway name/)
  })
})
