import { describe, expect, it } from 'vitest'
import { decodeRecord, FP_V1, fp, testDecoder } from '../test-kit.ts'

// Istio's default JSON access log keys.
const decoder = testDecoder({ preset: 'envoy' })
const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImFjbWUtMjAyNCJ9.eyJzdWIiOiJhY21lLXBheW1lbnRzIiwiZXhwIjoxNzI2NzgwMDAwfQ.c2lnbmF0dXJlLWJ5dGVzLWhlcmU'

const base = {
  start_time: '2024-09-19T22:10:39.123Z',
  method: 'POST',
  path: '/v1/payments?idempotency_key=3f2a',
  protocol: 'HTTP/1.1',
  response_flags: '-',
  connection_termination_details: null,
  upstream_transport_failure_reason: null,
  bytes_received: 512,
  bytes_sent: 934,
  upstream_service_time: '36',
  x_forwarded_for: '198.51.100.7, 10.0.0.12',
  user_agent: 'okhttp/4.12.0',
  request_id: 'b6a1c3d2-5e4f-4a7b-9c8d-0e1f2a3b4c5d',
  authority: 'api.example.com',
  upstream_host: '10.0.3.17:8080',
  upstream_cluster: 'outbound|8080||payments.default.svc.cluster.local',
  upstream_local_address: '10.0.0.12:40112',
  downstream_local_address: '10.0.0.12:8443',
  downstream_remote_address: '10.0.0.12:51234',
  requested_server_name: 'api.example.com',
  route_name: 'default',
  hostname: 'envoy-edge-7f9c',
}

describe('envoy preset', () => {
  it('decodes a request that reached the upstream', () => {
    const record = {
      ...base,
      response_code: 200,
      response_code_details: 'via_upstream',
      duration: 38,
      x_api_key: 'sk_live_51HacmeV1aBcDeFgHiJkLmNoPq',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: 'b6a1c3d2-5e4f-4a7b-9c8d-0e1f2a3b4c5d',
      time: Date.parse('2024-09-19T22:10:39.123Z'),
      keyId: 'acme-payments',
      keyVersion: 'v1',
      keyFingerprint: FP_V1,
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: '',
      sourceAddress: '198.51.100.7',
      userAgent: 'okhttp/4.12.0',
      method: 'POST',
      route: '/v1/payments',
      gateway: 'envoy-edge-7f9c',
      latencyMs: 38,
      identitySource: 'key_material',
    })
  })

  it('decodes a jwt_authn rejection of an expired token', () => {
    const record = {
      ...base,
      method: 'GET',
      path: '/v1/balance',
      response_code: 401,
      response_code_details: 'jwt_authn_access_denied{Jwt_is_expired}',
      response_flags: '-',
      duration: 1,
      upstream_host: null,
      upstream_cluster: null,
      authorization: `Bearer ${JWT}`,
      key_id: 'acme-payments',
      x_forwarded_for: null,
      downstream_remote_address: '203.0.113.50:60123',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: 'b6a1c3d2-5e4f-4a7b-9c8d-0e1f2a3b4c5d',
      time: Date.parse('2024-09-19T22:10:39.123Z'),
      keyId: 'acme-payments',
      keyVersion: 'unknown',
      keyFingerprint: fp(JWT),
      outcome: 'failure',
      reason: 'expired',
      status: 401,
      clientId: '',
      sourceAddress: '203.0.113.50',
      userAgent: 'okhttp/4.12.0',
      method: 'GET',
      route: '/v1/balance',
      gateway: 'envoy-edge-7f9c',
      latencyMs: 1,
      identitySource: 'key_id',
    })
  })

  it.each([
    ['rbac_access_denied_matched_policy[none]', 403, 'failure', 'insufficient_scope'],
    ['jwt_authn_access_denied{Jwt_verification_fails}', 401, 'failure', 'invalid_signature'],
    ['request_rate_limited', 429, 'success', 'rate_limited'],
  ])('maps response_code_details %s', (details, code, outcome, reason) => {
    const record = {
      ...base,
      response_code: code,
      response_code_details: details,
      x_api_key: 'sk_live_51HacmeV1aBcDeFgHiJkLmNoPq',
    }
    expect(decodeRecord(decoder, record)).toMatchObject({ status: code, outcome, reason })
  })

  it('treats the RL response flag as rate limiting when no details are logged', () => {
    const record = {
      ...base,
      response_code: 429,
      response_flags: 'RL',
      x_api_key: 'sk_live_51HacmeV1aBcDeFgHiJkLmNoPq',
    }
    expect(decodeRecord(decoder, record)).toMatchObject({ outcome: 'success', reason: 'rate_limited' })
  })
})
