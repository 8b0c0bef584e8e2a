import { describe, expect, it } from 'vitest'
import type { FailureReason, Outcome } from '../../domain/auth-event.ts'
import type { Extracted } from './extracted.ts'
import { DECODE_REASON_DOCS, DECODE_REASONS, normalise, SkippedRecord } from './normalise.ts'
import {
  decodeErrorOf,
  event,
  FP_UNKNOWN,
  FP_V1,
  FP_V2,
  fp,
  KEY_UNKNOWN,
  KEY_V1,
  KEY_V2,
  NOW,
  normaliseCtx,
  T0,
} from './test-kit.ts'

const run = (x: Extracted) => normalise({ time: T0, ...x }, normaliseCtx)

describe('normalise', () => {
  it('builds the whole event from extracted values', () => {
    expect(
      run({
        eventId: 'req-1',
        time: '2024-09-19T22:10:39.123Z',
        keyId: 'acme-payments',
        keyVersion: 'v2',
        keyMaterial: `Bearer ${KEY_V2}`,
        status: '200',
        clientId: 4711,
        sourceAddress: '198.51.100.7:51234',
        userAgent: '  acme-billing/4.2.0  ',
        method: 'post',
        route: 'https://api.example.com:8443/v1/payments?limit=10#x',
        gateway: 'edge-eu-1',
        latencyMs: '12.5',
      }),
    ).toEqual({
      eventId: 'req-1',
      time: T0 + 123,
      keyId: 'acme-payments',
      keyVersion: 'v2',
      keyFingerprint: FP_V2,
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: '4711',
      sourceAddress: '198.51.100.7',
      userAgent: 'acme-billing/4.2.0',
      method: 'POST',
      route: '/v1/payments',
      gateway: 'edge-eu-1',
      latencyMs: 12.5,
      identitySource: 'key_id',
    })
  })

  it('uses the fallback event id and default gateway when the record has none', () => {
    expect(run({ keyId: 'k', eventId: '-', gateway: '' })).toEqual(
      event({ keyId: 'k', identitySource: 'key_id' }),
    )
  })

  describe('key and version', () => {
    it.each<[string, Extracted, { keyId: string; keyVersion: string; keyFingerprint: string }]>([
      [
        'explicit key id and version win',
        { keyId: 'acme-payments', keyVersion: 'v3', keyMaterial: KEY_V1 },
        { keyId: 'acme-payments', keyVersion: 'v3', keyFingerprint: FP_V1 },
      ],
      [
        'explicit version, key id from the registry',
        { keyVersion: 'v9', keyMaterial: KEY_V1 },
        { keyId: 'acme-payments', keyVersion: 'v9', keyFingerprint: FP_V1 },
      ],
      [
        'explicit version, nothing resolves: key unknown',
        { keyVersion: 'v9', keyMaterial: KEY_UNKNOWN },
        { keyId: 'unknown', keyVersion: 'v9', keyFingerprint: FP_UNKNOWN },
      ],
      [
        'no explicit version: the registry gives key and version',
        { keyId: 'gateway-name-for-acme', keyMaterial: KEY_V2 },
        { keyId: 'acme-payments', keyVersion: 'v2', keyFingerprint: FP_V2 },
      ],
      [
        'unresolved fingerprint keeps the record key id, version unknown',
        { keyId: 'acme-payments', keyMaterial: KEY_UNKNOWN },
        { keyId: 'acme-payments', keyVersion: 'unknown', keyFingerprint: FP_UNKNOWN },
      ],
      [
        'unresolved fingerprint and no key id: never dropped',
        { keyMaterial: KEY_UNKNOWN },
        { keyId: 'unknown', keyVersion: 'unknown', keyFingerprint: FP_UNKNOWN },
      ],
      [
        'an fp_ fingerprint from the record is used as is',
        { keyFingerprint: FP_V1, keyMaterial: KEY_V2 },
        { keyId: 'acme-payments', keyVersion: 'v1', keyFingerprint: FP_V1 },
      ],
      [
        'a foreign hash is fingerprinted like material',
        { keyFingerprint: 'a1b2c3d4e5f60718' },
        { keyId: 'unknown', keyVersion: 'unknown', keyFingerprint: fp('a1b2c3d4e5f60718') },
      ],
      [
        'material already fingerprinted by the scrubber',
        { keyMaterial: FP_V2 },
        { keyId: 'acme-payments', keyVersion: 'v2', keyFingerprint: FP_V2 },
      ],
      [
        'numeric key id and version are stringified',
        { keyId: 42, keyVersion: 2 },
        { keyId: '42', keyVersion: '2', keyFingerprint: '' },
      ],
      [
        'a scheme word without a token counts as none',
        { keyId: 'acme-payments', keyMaterial: 'Bearer' },
        { keyId: 'acme-payments', keyVersion: 'unknown', keyFingerprint: '' },
      ],
      [
        'redacted material counts as none',
        { keyId: 'acme-payments', keyMaterial: 'REDACTED' },
        { keyId: 'acme-payments', keyVersion: 'unknown', keyFingerprint: '' },
      ],
    ])('%s', (_, x, expected) => {
      expect(run({ status: 200, ...x })).toMatchObject(expected)
    })
  })

  describe('outcome and reason', () => {
    it.each<[string, Extracted, Outcome, FailureReason]>([
      ['200', { status: 200, keyMaterial: KEY_V1 }, 'success', 'none'],
      [
        '502 from upstream is still a successful authentication',
        { status: 502, keyMaterial: KEY_V1 },
        'success',
        'none',
      ],
      ['401 with an unknown key', { status: 401, keyMaterial: KEY_UNKNOWN }, 'failure', 'unknown_key'],
      ['401 without a credential', { status: 401 }, 'failure', 'missing_credential'],
      ['401 with a registered key', { status: 401, keyMaterial: KEY_V1 }, 'failure', 'other'],
      ['401 with a gateway-identified key', { status: 401, keyId: 'acme-payments' }, 'failure', 'other'],
      ['403 with a registered key', { status: 403, keyMaterial: KEY_V1 }, 'failure', 'insufficient_scope'],
      ['403 with an unknown key', { status: 403, keyMaterial: KEY_UNKNOWN }, 'failure', 'unknown_key'],
      ['403 without a credential', { status: 403 }, 'failure', 'missing_credential'],
      [
        'gateway reason wins over inference',
        { status: 401, keyMaterial: KEY_V1, reason: 'jwt_authn_access_denied{Jwt_is_expired}' },
        'failure',
        'expired',
      ],
      [
        'gateway failure reason makes a failure whatever the status',
        { status: 200, keyMaterial: KEY_V1, reason: 'EXPIRED_TOKEN' },
        'failure',
        'expired',
      ],
      [
        'gateway failure reason without a status',
        { keyMaterial: KEY_V1, reason: 'INVALID_API_KEY' },
        'failure',
        'unknown_key',
      ],
      [
        'unrecognised gateway reason falls back to inference',
        { status: 401, keyMaterial: KEY_UNKNOWN, reason: 'UNAUTHORIZED' },
        'failure',
        'unknown_key',
      ],
      ['429 is not an auth failure', { status: 429, keyMaterial: KEY_V1 }, 'success', 'rate_limited'],
      ['THROTTLED', { status: 429, keyMaterial: KEY_V1, reason: 'THROTTLED' }, 'success', 'rate_limited'],
      [
        '500 AUTHORIZER_FAILURE',
        { status: 500, keyMaterial: KEY_V1, reason: 'AUTHORIZER_FAILURE' },
        'success',
        'none',
      ],
      [
        'canonical reason from a mapping table',
        { status: 403, keyMaterial: KEY_V1, reason: 'revoked' },
        'failure',
        'revoked',
      ],
    ])('%s', (_, x, outcome, reason) => {
      expect(run(x)).toMatchObject({ outcome, reason })
    })

    it('keeps a failure without any key, attributed to the unknown key', () => {
      expect(run({ status: 401, route: '/v1/payments' })).toEqual(
        event({ status: 401, outcome: 'failure', reason: 'missing_credential', route: '/v1/payments' }),
      )
    })
  })

  describe('field handling', () => {
    it.each<[string, Extracted, Partial<ReturnType<typeof run>>]>([
      [
        'X-Forwarded-For list: first hop',
        { sourceAddress: '198.51.100.7, 10.0.0.12' },
        { sourceAddress: '198.51.100.7' },
      ],
      ['bracketed IPv6 with port', { sourceAddress: '[2001:db8::1]:443' }, { sourceAddress: '2001:db8::1' }],
      ['bare IPv6', { sourceAddress: '2001:db8::1' }, { sourceAddress: '2001:db8::1' }],
      ['route: query string dropped', { route: '/v1/pay?api_key=fp_x&limit=1' }, { route: '/v1/pay' }],
      ['route: URL without path', { route: 'https://api.example.com?x=1' }, { route: '/' }],
      ['status as string', { status: ' 403 ' }, { status: 403 }],
      ['status 0 means unknown', { status: 0 }, { status: 0 }],
      ['negative latency means unknown', { latencyMs: -1 }, { latencyMs: 0 }],
      ['latency rounded to µs', { latencyMs: 18.2345678 }, { latencyMs: 18.235 }],
      ['user agent truncated at 1024', { userAgent: 'u'.repeat(5000) }, { userAgent: 'u'.repeat(1024) }],
      ['route truncated at 2048', { route: `/${'r'.repeat(3000)}` }, { route: `/${'r'.repeat(2047)}` }],
    ])('%s', (_, x, expected) => {
      expect(run({ keyId: 'k', ...x })).toMatchObject(expected)
    })
  })

  describe('errors', () => {
    it.each<[string, Extracted, string]>([
      ['no time', { keyId: 'k', time: undefined }, 'missing_time'],
      ['time placeholder', { keyId: 'k', time: '-' }, 'missing_time'],
      ['unparseable time', { keyId: 'k', time: 'soon' }, 'bad_time'],
      ['time before 2000', { keyId: 'k', time: '1999-12-31T23:59:59Z' }, 'time_out_of_range'],
      ['time too far ahead', { keyId: 'k', time: NOW + 5 * 60_000 + 1 }, 'time_out_of_range'],
      ['success without any identity', { status: 200 }, 'not_auth_traffic'],
      ['429 without any identity', { status: 429 }, 'not_auth_traffic'],
      ['404 without any identity', { status: 404, route: '/nope' }, 'not_auth_traffic'],
      ['status not numeric', { keyId: 'k', status: 'OK' }, 'bad_status'],
      ['status below 100', { keyId: 'k', status: 99 }, 'bad_status'],
      ['status above 599', { keyId: 'k', status: 600 }, 'bad_status'],
      ['status fractional', { keyId: 'k', status: 200.5 }, 'bad_status'],
      ['status object', { keyId: 'k', status: { code: 200 } }, 'bad_type'],
      ['user agent object', { keyId: 'k', userAgent: { name: 'curl' } }, 'bad_type'],
      ['key id array', { keyId: ['a'] }, 'bad_type'],
      ['boolean client id', { keyId: 'k', clientId: true }, 'bad_type'],
      ['latency text', { keyId: 'k', latencyMs: 'fast' }, 'bad_type'],
      ['key id over 256 chars', { keyId: 'k'.repeat(257) }, 'too_large'],
      ['version over 64 chars', { keyId: 'k', keyVersion: 'v'.repeat(65) }, 'too_large'],
      ['key material over 8192 chars', { keyMaterial: 'x'.repeat(8193) }, 'too_large'],
      ['event id over 256 chars', { keyId: 'k', eventId: 'e'.repeat(257) }, 'too_large'],
    ])('%s → %s', (_, x, reason) => {
      expect(decodeErrorOf(() => normalise({ time: T0, ...x }, normaliseCtx)).reason).toBe(reason)
    })

    it('accepts an event exactly at the future-skew limit', () => {
      expect(run({ keyId: 'k', time: NOW + 5 * 60_000 }).time).toBe(NOW + 5 * 60_000)
    })

    it('never puts field values in error messages', () => {
      const secret = 'sk_live_51HsecretInAMessageQwErTy'
      for (const x of [
        { keyMaterial: secret.repeat(300) },
        { keyId: secret.repeat(10) },
        { keyId: 'k', time: secret },
        { keyId: 'k', status: secret },
      ]) {
        expect(decodeErrorOf(() => normalise({ time: T0, ...x }, normaliseCtx)).message).not.toContain(
          'secret',
        )
      }
    })
  })

  describe('identity sources', () => {
    const CRED = '4d8e4f32-6c1b-4a6e-9f0d-3b2a1c0e9d8f'
    it.each<
      [
        string,
        Extracted,
        { keyId: string; keyVersion: string; keyFingerprint: string; identitySource: string },
      ]
    >([
      [
        'registered key material',
        { keyMaterial: KEY_V1, consumer: 'acme' },
        { keyId: 'acme-payments', keyVersion: 'v1', keyFingerprint: FP_V1, identitySource: 'key_material' },
      ],
      [
        'unregistered material, consumer names the key',
        { keyMaterial: KEY_UNKNOWN, consumer: 'acme' },
        { keyId: 'acme', keyVersion: 'unknown', keyFingerprint: FP_UNKNOWN, identitySource: 'consumer' },
      ],
      [
        'credential id alone (hide_credentials): fingerprinted, consumer names the key',
        { credentialId: CRED, consumer: 'acme' },
        { keyId: 'acme', keyVersion: 'unknown', keyFingerprint: fp(CRED), identitySource: 'consumer' },
      ],
      [
        'credential id alone, no consumer',
        { credentialId: CRED },
        { keyId: 'unknown', keyVersion: 'unknown', keyFingerprint: fp(CRED), identitySource: 'credential' },
      ],
      [
        'material unregistered but the credential id is: the credential wins',
        { keyMaterial: KEY_UNKNOWN, credentialId: KEY_V2 },
        { keyId: 'acme-payments', keyVersion: 'v2', keyFingerprint: FP_V2, identitySource: 'credential' },
      ],
      [
        'key id beats client name, consumer and principal',
        { keyId: 'k1', clientName: 'n', consumer: 'c', principal: 'p' },
        { keyId: 'k1', keyVersion: 'unknown', keyFingerprint: '', identitySource: 'key_id' },
      ],
      [
        'client name beats consumer',
        { clientName: 'client_one', consumer: 'c' },
        { keyId: 'client_one', keyVersion: 'unknown', keyFingerprint: '', identitySource: 'client_name' },
      ],
      [
        'principal names the key when nothing is presented',
        { principal: 'user-42' },
        { keyId: 'user-42', keyVersion: 'unknown', keyFingerprint: '', identitySource: 'principal' },
      ],
      [
        'principal does not name a presented, unknown key',
        { principal: 'user-42', keyMaterial: KEY_UNKNOWN },
        {
          keyId: 'unknown',
          keyVersion: 'unknown',
          keyFingerprint: FP_UNKNOWN,
          identitySource: 'key_material',
        },
      ],
      [
        'a bare client id keeps the key unknown',
        { clientId: 'c-7' },
        { keyId: 'unknown', keyVersion: 'unknown', keyFingerprint: '', identitySource: 'client' },
      ],
    ])('%s', (_, x, expected) => {
      expect(run({ status: 200, ...x })).toMatchObject(expected)
      // The same identity, rejected: stored alike.
      expect(run({ status: 401, ...x })).toMatchObject({ ...expected, outcome: 'failure' })
    })

    it('a 403 for a named client is insufficient_scope, not unknown_key', () => {
      expect(run({ status: 403, clientName: 'client_one', keyMaterial: KEY_UNKNOWN })).toMatchObject({
        keyId: 'client_one',
        reason: 'insufficient_scope',
        identitySource: 'client_name',
      })
    })

    it('a request with no identity is kept when rejected and skipped otherwise', () => {
      expect(run({ status: 401 })).toMatchObject({
        keyId: 'unknown',
        outcome: 'failure',
        reason: 'missing_credential',
        identitySource: 'none',
      })
      const err = decodeErrorOf(() => run({ status: 200, route: '/healthz' }))
      expect(err).toBeInstanceOf(SkippedRecord)
      expect(err.reason).toBe('not_auth_traffic')
    })
  })

  it('documents every decode reason', () => {
    expect(Object.keys(DECODE_REASON_DOCS).sort()).toEqual([...DECODE_REASONS].sort())
  })
})
