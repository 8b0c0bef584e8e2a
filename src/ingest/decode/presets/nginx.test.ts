import { describe, expect, it } from 'vitest'
import { decodeRecord, FP_V1, FP_V2, KEY_V1, KEY_V2, testDecoder } from '../test-kit.ts'

// log_format keyshift escape=json '{"time_iso8601":"$time_iso8601",…}': every value a string.
const decoder = testDecoder({ preset: 'nginx' })

describe('nginx preset', () => {
  it('decodes a request with key id and version set by the auth layer', () => {
    const record = {
      time_iso8601: '2024-09-19T22:10:39+00:00',
      msec: '1726783839.123',
      request_id: '7c4a8d09ca3762af61e59520943dc264',
      remote_addr: '192.0.2.44',
      remote_user: '',
      request_method: 'GET',
      request_uri: '/v2/orders?page=2',
      uri: '/v2/orders',
      status: '200',
      body_bytes_sent: '1532',
      request_time: '0.012',
      upstream_response_time: '0.010',
      http_referer: '',
      http_user_agent:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      http_x_forwarded_for: '',
      http_x_api_key: KEY_V2,
      http_authorization: '',
      api_key_id: 'acme-payments',
      key_version: 'v2',
      hostname: 'edge-nginx-2',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: '7c4a8d09ca3762af61e59520943dc264',
      time: Date.parse('2024-09-19T22:10:39Z'),
      keyId: 'acme-payments',
      keyVersion: 'v2',
      keyFingerprint: FP_V2,
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: '',
      sourceAddress: '192.0.2.44',
      userAgent:
        'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36',
      method: 'GET',
      route: '/v2/orders',
      gateway: 'edge-nginx-2',
      latencyMs: 12,
      identitySource: 'key_id',
    })
  })

  it('decodes an auth_request rejection with its reason, using msec and time_local formats', () => {
    const record = {
      time_local: '19/Sep/2024:22:10:39 +0000',
      request_id: '0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a',
      remote_addr: '198.51.100.200',
      request_method: 'DELETE',
      request_uri: '/v2/orders/981',
      status: '403',
      request_time: '0.003',
      http_user_agent: 'acme-cli/0.9.1',
      http_authorization: `Bearer ${KEY_V1}`,
      auth_reason: 'key revoked',
      hostname: 'edge-nginx-2',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: '0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a',
      time: Date.parse('2024-09-19T22:10:39Z'),
      keyId: 'acme-payments',
      keyVersion: 'v1',
      keyFingerprint: FP_V1,
      outcome: 'failure',
      reason: 'revoked',
      status: 403,
      clientId: '',
      sourceAddress: '198.51.100.200',
      userAgent: 'acme-cli/0.9.1',
      method: 'DELETE',
      route: '/v2/orders/981',
      gateway: 'edge-nginx-2',
      latencyMs: 3,
      identitySource: 'key_material',
    })
  })

  it('decodes a 401 without any credential', () => {
    const record = {
      msec: '1726783839.500',
      remote_addr: '198.51.100.201',
      request_method: 'GET',
      uri: '/v2/orders',
      status: '401',
      http_x_api_key: '',
      request_time: '0.000',
    }
    expect(decodeRecord(decoder, record)).toMatchObject({
      time: Date.parse('2024-09-19T22:10:39.500Z'),
      keyFingerprint: '',
      outcome: 'failure',
      reason: 'missing_credential',
      gateway: 'edge-default',
    })
  })
})
