import { describe, expect, it } from 'vitest'
import {
  decodeRecord,
  FP_UNKNOWN,
  FP_V1,
  FP_V2,
  KEY_UNKNOWN,
  KEY_V1,
  KEY_V2,
  testDecoder,
} from '../test-kit.ts'

// Shapes follow Kong's `kong.log.serialize()` (http-log / file-log plugins).
const decoder = testDecoder({ preset: 'kong', defaultGateway: 'kong-eu-1' })

const success = {
  request: {
    id: '2f6946328ffc4946b8c9120704a4a155',
    method: 'GET',
    uri: '/v1/payments?limit=10',
    url: 'https://api.example.com:8443/v1/payments?limit=10',
    size: 118,
    querystring: { limit: '10' },
    headers: {
      host: 'api.example.com',
      apikey: KEY_V2,
      'user-agent': 'acme-billing/4.2.0 (+https://acme.example)',
      accept: '*/*',
    },
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', client_verify: 'NONE' },
  },
  upstream_uri: '/payments?limit=10',
  upstream_status: '200',
  response: {
    status: 200,
    size: 934,
    headers: {
      'content-type': 'application/json',
      'x-kong-request-id': '2f6946328ffc4946b8c9120704a4a155',
      'x-kong-proxy-latency': '1',
      'x-kong-upstream-latency': '41',
    },
  },
  latencies: { kong: 1, proxy: 41, request: 43, receive: 0 },
  tries: [{ ip: '10.0.3.17', port: 8080, balancer_latency: 0 }],
  authenticated_entity: {
    id: '4d8e4f32-6c1b-4a6e-9f0d-3b2a1c0e9d8f',
    consumer_id: 'b0b5e7c2-1f4e-4d7a-9c3b-2a1d0e9f8c7b',
  },
  consumer: {
    id: 'b0b5e7c2-1f4e-4d7a-9c3b-2a1d0e9f8c7b',
    username: 'acme-payments',
    custom_id: 'acme-payments',
    created_at: 1726000000,
    tags: ['team:billing'],
  },
  route: {
    id: '8c1e5f3a-2b4d-4e6f-8a9b-0c1d2e3f4a5b',
    name: 'payments',
    paths: ['/v1/payments'],
    protocols: ['https'],
    strip_path: true,
  },
  service: {
    id: 'fb4eecf8-dec2-40ef-b779-16de7e2384c7',
    name: 'payments-api',
    host: 'payments.internal',
    port: 8080,
    protocol: 'http',
  },
  client_ip: '203.0.113.10',
  started_at: 1726783839123,
  source: 'upstream',
  workspace_name: 'default',
}

describe('kong preset', () => {
  it('decodes a proxied request with a registered key', () => {
    expect(decodeRecord(decoder, success)).toEqual({
      eventId: '2f6946328ffc4946b8c9120704a4a155',
      time: 1726783839123,
      keyId: 'acme-payments',
      keyVersion: 'v2',
      keyFingerprint: FP_V2,
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: 'acme-payments',
      sourceAddress: '203.0.113.10',
      userAgent: 'acme-billing/4.2.0 (+https://acme.example)',
      method: 'GET',
      route: '/v1/payments',
      gateway: 'kong-eu-1',
      latencyMs: 43,
      identitySource: 'key_material',
    })
  })

  it('decodes a key-auth rejection of an unknown key (401, no consumer)', () => {
    const record = {
      request: {
        method: 'POST',
        uri: `/v1/refunds?apikey=${KEY_UNKNOWN}`,
        url: `https://api.example.com/v1/refunds?apikey=${KEY_UNKNOWN}`,
        querystring: { apikey: KEY_UNKNOWN },
        headers: {
          host: 'api.example.com',
          'user-agent': 'curl/8.4.0',
          'x-kong-request-id': 'a1f0c4e2b3d54c6e8f7a9b0c1d2e3f40',
        },
        size: 95,
      },
      response: { status: 401, size: 96, headers: { 'content-type': 'application/json; charset=utf-8' } },
      latencies: { kong: 0, proxy: -1, request: 1, receive: 0 },
      route: { name: 'refunds', paths: ['/v1/refunds'] },
      client_ip: '198.51.100.99',
      started_at: 1726783840001,
      source: 'kong',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: 'a1f0c4e2b3d54c6e8f7a9b0c1d2e3f40',
      time: 1726783840001,
      keyId: 'unknown',
      keyVersion: 'unknown',
      keyFingerprint: FP_UNKNOWN,
      outcome: 'failure',
      reason: 'unknown_key',
      status: 401,
      clientId: '',
      sourceAddress: '198.51.100.99',
      userAgent: 'curl/8.4.0',
      method: 'POST',
      route: '/v1/refunds',
      gateway: 'kong-eu-1',
      latencyMs: 1,
      identitySource: 'key_material',
    })
  })

  it('reads key id and version from consumer custom_id and an ACL 403 as insufficient scope', () => {
    const record = {
      ...success,
      request: { ...success.request, id: 'e0d1c2b3a4958677f8e9d0c1b2a39485', headers: { apikey: KEY_V1 } },
      response: { status: 403, size: 52, headers: {} },
      consumer: {
        id: 'c9d8e7f6-a5b4-4c3d-9e2f-1a0b9c8d7e6f',
        username: 'acme-reporting',
        custom_id: 'acme-reporting:v7',
      },
      latencies: { kong: 2, proxy: -1, request: 2, receive: 0 },
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: 'e0d1c2b3a4958677f8e9d0c1b2a39485',
      time: 1726783839123,
      keyId: 'acme-reporting',
      keyVersion: 'v7',
      keyFingerprint: FP_V1,
      outcome: 'failure',
      reason: 'insufficient_scope',
      status: 403,
      clientId: 'acme-reporting',
      sourceAddress: '203.0.113.10',
      userAgent: '',
      method: 'GET',
      route: '/v1/payments',
      gateway: 'kong-eu-1',
      latencyMs: 2,
      identitySource: 'key_id',
    })
  })

  it('decodes a request without any key as a missing credential', () => {
    const record = {
      request: { method: 'GET', uri: '/v1/payments', headers: { 'user-agent': 'curl/8.4.0' } },
      response: { status: 401, headers: { 'x-kong-request-id': '9a8b7c6d5e4f30211203f4e5d6c7b8a9' } },
      client_ip: '198.51.100.5',
      started_at: 1726783841000,
      latencies: { request: 0 },
    }
    expect(decodeRecord(decoder, record)).toMatchObject({
      eventId: '9a8b7c6d5e4f30211203f4e5d6c7b8a9',
      keyId: 'unknown',
      keyVersion: 'unknown',
      keyFingerprint: '',
      outcome: 'failure',
      reason: 'missing_credential',
    })
  })
})
