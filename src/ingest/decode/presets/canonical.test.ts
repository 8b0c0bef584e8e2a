import { describe, expect, it } from 'vitest'
import { createFingerprinter } from '../../secrets/fingerprint.ts'
import { createDecoder } from '../decoder.ts'

const fingerprint = createFingerprinter('example-pepper-0123456789')
const decoder = createDecoder({
  preset: 'canonical',
  fingerprint,
  resolveFingerprint: () => undefined,
  defaultGateway: 'canonical-default',
})
const ctx = { now: Date.parse('2026-11-28T12:00:00Z'), fallbackEventId: 'file:/x:1:0' }

describe('canonical preset', () => {
  it('reads the documented camelCase event unchanged', () => {
    const ev = {
      eventId: 'e-1',
      time: Date.parse('2026-11-28T11:59:00.250Z'),
      keyId: 'acme-payments',
      keyVersion: 'v1',
      outcome: 'failure',
      reason: 'revoked',
      status: 401,
      clientId: 'acme-batch',
      sourceAddress: '192.0.2.10',
      userAgent: 'batch/1.0',
      method: 'POST',
      route: '/v1/pay',
      gateway: 'gw-eu-1',
      latencyMs: 12,
    }
    expect(decoder.decode(Buffer.from(JSON.stringify(ev)), ctx)).toEqual({
      ...ev,
      keyFingerprint: '',
      identitySource: 'key_id',
    })
  })

  it('accepts snake_case, fingerprints key material and fills the default gateway', () => {
    const doc = {
      time: '2026-11-28T11:59:00Z',
      key_id: 'globex-api',
      key_version: 'v2',
      key_material: 'ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8',
      status: 200,
      client_id: 'globex-web',
      source_address: '198.51.100.4',
      user_agent: 'web/2',
      method: 'GET',
      route: '/v2/things?x=1',
      latency_ms: 3,
    }
    const out = decoder.decode(Buffer.from(JSON.stringify(doc)), ctx)
    expect(out).toEqual({
      eventId: 'file:/x:1:0',
      time: Date.parse('2026-11-28T11:59:00Z'),
      keyId: 'globex-api',
      keyVersion: 'v2',
      keyFingerprint: fingerprint('ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8'),
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: 'globex-web',
      sourceAddress: '198.51.100.4',
      userAgent: 'web/2',
      method: 'GET',
      route: '/v2/things',
      gateway: 'canonical-default',
      latencyMs: 3,
      identitySource: 'key_id',
    })
    expect(JSON.stringify(out)).not.toContain('CANARY')
  })
})
