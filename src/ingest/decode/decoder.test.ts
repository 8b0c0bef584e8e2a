import { describe, expect, it } from 'vitest'
import { ConfigError, DecodeError } from '../../domain/errors.ts'
import { createDecoder, createDecoderFromConfig, decoderConfigSchema, PRESET_NAMES } from './decoder.ts'
import { DECODE_REASONS } from './normalise.ts'
import {
  decodeErrorOf,
  decodeRecord,
  FP_V1,
  fp,
  KEY_V1,
  NOW,
  resolveFingerprint,
  testDecoder,
} from './test-kit.ts'

const kong = testDecoder({ preset: 'kong' })
const kongRecord = (over: Record<string, unknown> = {}) => ({
  request: { method: 'GET', uri: '/v1/payments', headers: { apikey: KEY_V1 } },
  response: { status: 200 },
  client_ip: '203.0.113.10',
  started_at: 1726783839123,
  ...over,
})

describe('createDecoder', () => {
  const covered = new Set<string>()
  const cases: Array<[string, Buffer | unknown, string]> = [
    [
      'invalid UTF-8 that is not JSON either',
      Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x7d]),
      'invalid_utf8',
    ],
    ['truncated JSON', Buffer.from('{"request": {"method": "GET"'), 'invalid_json'],
    ['two JSON documents on one line', Buffer.from('{}{}'), 'invalid_json'],
    ['JSON array (a batch)', [kongRecord()], 'not_an_object'],
    ['JSON string', 'hello', 'not_an_object'],
    ['JSON null', null, 'not_an_object'],
    ['record over max_record_bytes', kongRecord({ pad: 'x'.repeat(70_000) }), 'too_large'],
    ['key id over its limit', kongRecord({ consumer: { username: 'k'.repeat(300) } }), 'too_large'],
    ['no time', kongRecord({ started_at: undefined }), 'missing_time'],
    ['unparseable time', kongRecord({ started_at: 'noon' }), 'bad_time'],
    ['time before 2000', kongRecord({ started_at: 946684799999 }), 'time_out_of_range'],
    ['time in the future', kongRecord({ started_at: NOW + 3_600_000 }), 'time_out_of_range'],
    ['status out of range', kongRecord({ response: { status: 999 } }), 'bad_status'],
    ['status not a number', kongRecord({ response: { status: 'OK' } }), 'bad_status'],
    ['object where a string belongs', kongRecord({ client_ip: { v4: '203.0.113.10' } }), 'bad_type'],
  ]
  it.each(cases)('rejects %s', (_, record, reason) => {
    const err = decodeErrorOf(() => decodeRecord(kong, record))
    expect(err).toBeInstanceOf(DecodeError)
    expect(err.code).toBe('KS_DECODE_FAILED')
    expect(err.retriable).toBe(false)
    expect(err.reason).toBe(reason)
    covered.add(err.reason)
  })

  it('has a test for every decode reason', () => {
    expect([...covered].sort()).toEqual([...DECODE_REASONS].sort())
  })

  it('accepts a UTF-8 BOM and non-ASCII text', () => {
    const bytes = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from(JSON.stringify(kongRecord({ request: { uri: '/v1/café', headers: { apikey: KEY_V1 } } }))),
    ])
    expect(decodeRecord(kong, bytes)).toMatchObject({ route: '/v1/café', keyFingerprint: FP_V1 })
  })

  it('keeps a record with invalid UTF-8 in a text field, the bad bytes as U+FFFD', () => {
    const json = JSON.stringify(
      kongRecord({ request: { uri: '/v1/caf@', headers: { apikey: KEY_V1, 'user-agent': 'sdk/1 (Ren@)' } } }),
    )
    // Latin-1 bytes where UTF-8 was expected: 0xe9 ('é') and a truncated 3-byte sequence.
    const bytes = Buffer.from(json, 'utf8')
    const at = (needle: string) => bytes.indexOf(Buffer.from(needle))
    bytes[at('caf@') + 3] = 0xe9
    const patched = Buffer.concat([
      bytes.subarray(0, at('Ren@') + 3),
      Buffer.from([0xe2, 0x82]),
      bytes.subarray(at('Ren@') + 4),
    ])
    expect(decodeRecord(kong, patched)).toMatchObject({
      route: '/v1/caf\uFFFD',
      userAgent: 'sdk/1 (Ren\uFFFD)',
      keyFingerprint: FP_V1,
    })
  })

  it('replaces lone UTF-16 surrogates in JSON strings with U+FFFD', () => {
    const json = JSON.stringify(
      kongRecord({ request: { uri: '/v1/x', headers: { apikey: KEY_V1, 'user-agent': 'UA-SURROGATE' } } }),
    ).replace('UA-SURROGATE', 'sdk\\ud800/2 \\udfff')
    expect(decodeRecord(kong, Buffer.from(json))).toMatchObject({
      userAgent: 'sdk\uFFFD/2 \uFFFD',
      keyFingerprint: FP_V1,
    })
  })

  it('scrubs the whole document before the preset reads it', () => {
    const leaked = 'sk_live_51HpathSegmentQwErTyUiOp'
    const ev = decodeRecord(
      kong,
      kongRecord({
        request: {
          method: 'DELETE',
          uri: `/v1/keys/${leaked}/revoke?x=1`,
          headers: { apikey: KEY_V1, 'user-agent': `acme-admin/1.0 key=${leaked}` },
        },
      }),
    )
    expect(ev.route).toBe(`/v1/keys/${fp(leaked)}/revoke`)
    expect(ev.userAgent).toBe(`acme-admin/1.0 key=${fp(leaked)}`)
  })

  it.each([
    ['svc-06/okhttp/4.12.0', '/v1/payment_intents/pi_3MtwBwLkdIwHu7ix28a3tqPa/confirm'],
    [
      'billing-worker-prod-7f9c8d6b5-x2k9p/okhttp/4.12.0',
      '/api/v1/silences/sil_0b5e7c21-f4e4-4d7a-9c3b-2a1d0e9f8c7b',
    ],
  ])('keeps the client identity %s and the route %s as they are', (userAgent, route) => {
    const ev = decodeRecord(
      kong,
      kongRecord({
        request: { method: 'POST', uri: route, headers: { apikey: KEY_V1, 'user-agent': userAgent } },
      }),
    )
    expect(ev.userAgent).toBe(userAgent)
    expect(ev.route).toBe(route)
  })

  it('scrubs configured secret fields, even ones a mapping reads', () => {
    const d = testDecoder({
      preset: 'mapping',
      mapping: { fields: { time: 't', key_id: 'k', client_id: 'meta.partner_ref' } },
      secretPaths: ['meta.partner_ref'],
    })
    expect(decodeRecord(d, { t: 1726783839, k: 'acme', meta: { partner_ref: 'P-1' } }).clientId).toBe(
      fp('P-1'),
    )
  })

  it('never keeps or reports a planted canary key', () => {
    const CANARY = 'ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8'
    const record = {
      request: {
        id: 'c0ffee00c0ffee00c0ffee00c0ffee00',
        method: 'GET',
        uri: `/v1/pay?api_key=${CANARY}`,
        url: `https://api.example.com/v1/pay?api_key=${CANARY}`,
        querystring: { api_key: CANARY },
        headers: {
          authorization: `Bearer ${CANARY}`,
          'user-agent': `probe ${CANARY}`,
          'x-request-id': CANARY,
        },
      },
      response: { status: 401 },
      consumer: { username: CANARY, custom_id: `${CANARY}:v2` },
      client_ip: CANARY,
      started_at: 1726783839123,
    }
    const ev = decodeRecord(kong, record)
    expect(JSON.stringify(ev)).not.toContain('CANARY')
    expect(ev.keyFingerprint).toBe(fp(CANARY))

    for (const bad of [
      Buffer.from(`{"apikey": "${CANARY}"`),
      Buffer.concat([Buffer.from(`{"apikey": "${CANARY}", "x": "`), Buffer.from([0xff]), Buffer.from('"}')]),
      Buffer.from(JSON.stringify({ ...record, started_at: CANARY })),
      Buffer.from(JSON.stringify({ ...record, response: { status: CANARY } })),
    ]) {
      const err = decodeErrorOf(() => decodeRecord(kong, bad))
      expect(`${err.message} ${String(err.cause ?? '')}`).not.toContain('CANARY')
    }
  })

  it('uses max_record_bytes and max_future_skew_ms', () => {
    const d = testDecoder({ preset: 'kong', maxRecordBytes: 1024, maxFutureSkewMs: 0 })
    expect(decodeErrorOf(() => decodeRecord(d, kongRecord({ pad: 'x'.repeat(1100) }))).reason).toBe(
      'too_large',
    )
    expect(decodeErrorOf(() => decodeRecord(d, kongRecord({ started_at: NOW + 1 }))).reason).toBe(
      'time_out_of_range',
    )
    expect(decodeRecord(d, kongRecord({ started_at: NOW })).time).toBe(NOW)
  })

  it.each([
    ['an unknown preset', { preset: 'apache' }, 'unknown preset "apache"'],
    ['preset mapping without a mapping', { preset: 'mapping' }, 'needs a mapping'],
    [
      'an invalid mapping',
      { preset: 'mapping', mapping: { fields: { time: 't' } } },
      'decoder.mapping.fields',
    ],
    ['a bad secret path', { preset: 'kong', secretPaths: ['a[b]'] }, 'decoder.secret_fields'],
  ])('rejects %s with a ConfigError', (_, opts, message) => {
    const make = () =>
      createDecoder({
        fingerprint: fp,
        resolveFingerprint,
        defaultGateway: 'g',
        ...(opts as { preset: 'kong' }),
      })
    expect(make).toThrow(ConfigError)
    expect(make).toThrow(message)
  })
})

describe('decoderConfigSchema', () => {
  it('accepts every preset', () => {
    for (const preset of PRESET_NAMES) expect(decoderConfigSchema.parse({ preset })).toEqual({ preset })
  })

  it('accepts a mapping config with all options', () => {
    const config = {
      preset: 'mapping',
      mapping: { fields: { time: 'ts', key_material: 'headers["x-api-key"]' }, time_format: 'epoch_ms' },
      secret_fields: ['body.card', 'headers["x-partner-token"]'],
      max_record_bytes: 131072,
      max_future_skew_ms: 60000,
    }
    expect(decoderConfigSchema.parse(config)).toEqual({
      ...config,
      mapping: { ...config.mapping, latency_unit: 'ms', reasons: {}, constants: {} },
    })
  })

  it.each([
    ['an unknown key', { preset: 'kong', presets: 'envoy' }, 'decoder: Unrecognized key'],
    ['an unknown preset', { preset: 'haproxy' }, 'decoder.preset'],
    [
      'mapping without preset mapping',
      { preset: 'kong', mapping: { fields: { time: 't', key_id: 'k' } } },
      'only used',
    ],
    ['preset mapping without mapping', { preset: 'mapping' }, 'decoder.mapping: preset "mapping" needs'],
    ['a bad secret field path', { preset: 'kong', secret_fields: ['a.'] }, 'decoder.secret_fields.0'],
    ['a tiny max_record_bytes', { preset: 'kong', max_record_bytes: 10 }, 'decoder.max_record_bytes'],
    ['a fractional skew', { preset: 'kong', max_future_skew_ms: 1.5 }, 'decoder.max_future_skew_ms'],
  ])('rejects %s, naming the field', (_, config, message) => {
    const make = () =>
      createDecoderFromConfig(config, { fingerprint: fp, resolveFingerprint, defaultGateway: 'g' })
    expect(make).toThrow(ConfigError)
    expect(make).toThrow(message)
  })

  it('builds a working decoder from config', () => {
    const d = createDecoderFromConfig(
      { preset: 'kong' },
      { fingerprint: fp, resolveFingerprint, defaultGateway: 'g' },
    )
    expect(decodeRecord(d, kongRecord())).toMatchObject({
      keyId: 'acme-payments',
      keyVersion: 'v1',
      gateway: 'g',
    })
  })
})
