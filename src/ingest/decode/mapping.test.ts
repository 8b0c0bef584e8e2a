import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../domain/errors.ts'
import {
  createMappedPreset,
  type FieldMappingInput,
  fieldMappingSchema,
  mappingSecretPaths,
  parseFieldMapping,
} from './mapping.ts'
import { decodeRecord, FP_UNKNOWN, FP_V1, KEY_UNKNOWN, KEY_V1, testDecoder } from './test-kit.ts'

const mapping: FieldMappingInput = {
  fields: {
    event_id: ['req.id', 'trace.id'],
    time: 'ts',
    key_id: 'auth.key_ref',
    key_material: ['req.headers["x-api-key"]', 'req.query.api_key'],
    status: ['res.code', 'status'],
    reason: 'err',
    client_id: 'auth.client',
    source_address: 'client.ip',
    user_agent: 'req.headers["user-agent"]',
    method: 'req.method',
    route: 'req.path',
    latency_ms: 'dur_s',
  },
  time_format: 'epoch_s',
  latency_unit: 's',
  reasons: { KEY_EXPIRED: 'expired', e_quota: 'rate_limited' },
  constants: { gateway: 'edge-eu-1' },
}

describe('mapping preset', () => {
  const decoder = testDecoder({ preset: 'mapping', mapping })

  it('maps a record with the first paths', () => {
    const record = {
      ts: 1726783839,
      req: {
        id: 'r-1',
        method: 'get',
        path: '/v3/things?x=1',
        headers: { 'x-api-key': KEY_V1, 'user-agent': 'thing-client/1.0' },
      },
      res: { code: 200 },
      client: { ip: '192.0.2.1' },
      auth: { client: 'acme' },
      dur_s: 0.25,
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: 'r-1',
      time: 1726783839000,
      keyId: 'acme-payments',
      keyVersion: 'v1',
      keyFingerprint: FP_V1,
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: 'acme',
      sourceAddress: '192.0.2.1',
      userAgent: 'thing-client/1.0',
      method: 'GET',
      route: '/v3/things',
      gateway: 'edge-eu-1',
      latencyMs: 250,
      identitySource: 'key_material',
    })
  })

  it('falls back to later paths and applies the reason table', () => {
    const record = {
      ts: '1726783839',
      trace: { id: 't-9' },
      req: { query: { api_key: KEY_UNKNOWN } },
      status: '403',
      err: 'key_expired',
      auth: { key_ref: 'acme-payments' },
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: 't-9',
      time: 1726783839000,
      keyId: 'acme-payments',
      keyVersion: 'unknown',
      keyFingerprint: FP_UNKNOWN,
      outcome: 'failure',
      reason: 'expired',
      status: 403,
      clientId: '',
      sourceAddress: '',
      userAgent: '',
      method: '',
      route: '',
      gateway: 'edge-eu-1',
      latencyMs: 0,
      identitySource: 'key_id',
    })
  })

  it('maps a table reason to a non-failure reason', () => {
    const record = { ts: 1726783839, req: { headers: { 'x-api-key': KEY_V1 } }, status: 429, err: 'E_QUOTA' }
    expect(decodeRecord(decoder, record)).toMatchObject({ outcome: 'success', reason: 'rate_limited' })
  })

  it('lists the mapped key-material and fingerprint paths as secret paths', () => {
    expect(mappingSecretPaths(parseFieldMapping(mapping))).toEqual([
      'req.headers["x-api-key"]',
      'req.query.api_key',
    ])
  })

  it('reads a key from a query parameter of a URL field, after scrubbing', () => {
    const d = testDecoder({
      preset: 'mapping',
      mapping: {
        fields: { time: 'ts', key_material: ['req.url?key', 'req.url?access_token'], route: 'req.url' },
      },
    })
    const ev = decodeRecord(d, { ts: 1726783839, req: { url: `/v1/things?page=2&key=${KEY_V1}` } })
    expect(ev).toMatchObject({
      keyId: 'acme-payments',
      keyVersion: 'v1',
      keyFingerprint: FP_V1,
      route: '/v1/things',
      identitySource: 'key_material',
    })
    expect(
      decodeRecord(d, { ts: 1726783839, req: { url: `https://api.example.com/x?access_token=${KEY_V1}` } }),
    ).toMatchObject({ keyFingerprint: FP_V1 })
    // The whole URL is not made a secret: only its key parameter is fingerprinted.
    expect(
      mappingSecretPaths(parseFieldMapping({ fields: { time: 't', key_material: 'req.url?key' } })),
    ).toEqual([])
  })

  it('maps identity fields: credential id, client name, consumer, principal', () => {
    const d = testDecoder({
      preset: 'mapping',
      mapping: { fields: { time: 'ts', principal: 'auth.sub', consumer: 'auth.consumer', status: 'code' } },
    })
    expect(decodeRecord(d, { ts: 1726783839, code: 200, auth: { sub: 'user-9' } })).toMatchObject({
      keyId: 'user-9',
      identitySource: 'principal',
    })
    expect(decodeRecord(d, { ts: 1726783839, code: 401, auth: { consumer: 'acme' } })).toMatchObject({
      keyId: 'acme',
      outcome: 'failure',
      identitySource: 'consumer',
    })
  })

  it('uses constants when no path yields a value', () => {
    const preset = createMappedPreset({
      fields: { time: 't', gateway: 'gw' },
      constants: { key_id: 'fixed-key', key_version: 'v1', client_id: 'c', gateway: 'g-const' },
    })
    expect(preset({ t: 1, gw: 'g-doc' })).toMatchObject({
      keyId: 'fixed-key',
      keyVersion: 'v1',
      clientId: 'c',
      gateway: 'g-doc',
      timeFormat: 'auto',
    })
    expect(preset({ t: 1 })).toMatchObject({ gateway: 'g-const' })
  })

  it.each<[string, unknown, string]>([
    ['unknown top-level key', { ...mapping, extra: 1 }, 'Unrecognized key'],
    ['unknown canonical field', { fields: { time: 't', key_id: 'k', keyid: 'x' } }, 'Unrecognized key'],
    ['bad path syntax', { fields: { time: 't', key_id: 'a..b' } }, 'mapping.fields.key_id: empty segment'],
    ['missing time', { fields: { key_id: 'k' } }, 'mapping.fields.time'],
    ['no key field at all', { fields: { time: 't' } }, 'map at least one identity: fields.key_id'],
    ['unknown reason', { fields: { time: 't', key_id: 'k' }, reasons: { X: 'nope' } }, 'mapping.reasons.X'],
    ['bad time format', { fields: { time: 't', key_id: 'k' }, time_format: 'unix' }, 'mapping.time_format'],
  ])('rejects %s with a ConfigError naming the field', (_, input, message) => {
    expect(() => createMappedPreset(input as FieldMappingInput)).toThrow(ConfigError)
    expect(() => createMappedPreset(input as FieldMappingInput)).toThrow(message)
  })

  it('fills defaults', () => {
    expect(fieldMappingSchema.parse({ fields: { time: 't', key_id: 'k' } })).toEqual({
      fields: { time: 't', key_id: 'k' },
      time_format: 'auto',
      latency_unit: 'ms',
      reasons: {},
      constants: {},
    })
  })
})
