import { describe, expect, it } from 'vitest'
import { decodeRecord, FP_V2, fp, KEY_V2, testDecoder } from '../test-kit.ts'

// Traefik `accessLog.format: json` with headers kept (`fields.headers.defaultMode: keep`).
const decoder = testDecoder({ preset: 'traefik', defaultGateway: 'traefik-lb-a' })

const success = {
  ClientAddr: '203.0.113.77:53122',
  ClientHost: '203.0.113.77',
  ClientPort: '53122',
  ClientUsername: '-',
  DownstreamContentSize: 612,
  DownstreamStatus: 200,
  Duration: 18234567,
  OriginContentSize: 612,
  OriginDuration: 17000000,
  OriginStatus: 200,
  Overhead: 1234567,
  RequestAddr: 'api.example.com',
  RequestContentSize: 0,
  RequestCount: 4821,
  RequestHost: 'api.example.com',
  RequestMethod: 'GET',
  RequestPath: '/v1/invoices?status=open',
  RequestPort: '-',
  RequestProtocol: 'HTTP/2.0',
  RequestScheme: 'https',
  RetryAttempts: 0,
  RouterName: 'invoices@docker',
  ServiceAddr: '10.0.5.9:8080',
  ServiceName: 'invoices@docker',
  ServiceURL: 'http://10.0.5.9:8080',
  StartLocal: '2024-09-19T22:10:39.250120755Z',
  StartUTC: '2024-09-19T22:10:39.250120755Z',
  TLSCipher: 'TLS_AES_128_GCM_SHA256',
  TLSVersion: '1.3',
  entryPointName: 'websecure',
  level: 'info',
  msg: '',
  'request_User-Agent': 'acme-invoicer/2.3.1',
  'request_X-Api-Key': KEY_V2,
  'request_X-Request-Id': '0f8e3b2a-9c1d-4e5f-8a7b-6c5d4e3f2a1b',
  time: '2024-09-19T22:10:39Z',
}

describe('traefik preset', () => {
  it('decodes a forwarded request', () => {
    expect(decodeRecord(decoder, success)).toEqual({
      eventId: '0f8e3b2a-9c1d-4e5f-8a7b-6c5d4e3f2a1b',
      time: Date.parse('2024-09-19T22:10:39.250Z'),
      keyId: 'acme-payments',
      keyVersion: 'v2',
      keyFingerprint: FP_V2,
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: '',
      sourceAddress: '203.0.113.77',
      userAgent: 'acme-invoicer/2.3.1',
      method: 'GET',
      route: '/v1/invoices',
      gateway: 'traefik-lb-a',
      latencyMs: 18.235,
      identitySource: 'key_material',
    })
  })

  it('decodes a ForwardAuth rejection (401, no origin) of an unknown bearer token', () => {
    const token = 'Zx81kPq2Lm90TyRe47WcVb35NaHs'
    const record = {
      ...success,
      DownstreamStatus: 401,
      OriginStatus: 0,
      OriginDuration: 0,
      Duration: 2100000,
      RequestMethod: 'POST',
      RequestPath: '/v1/invoices',
      'request_X-Api-Key': undefined,
      request_Authorization: `Bearer ${token}`,
      'request_X-Request-Id': undefined,
      TraceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      ClientUsername: '-',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: '4bf92f3577b34da6a3ce929d0e0e4736',
      time: Date.parse('2024-09-19T22:10:39.250Z'),
      keyId: 'unknown',
      keyVersion: 'unknown',
      keyFingerprint: fp(token),
      outcome: 'failure',
      reason: 'unknown_key',
      status: 401,
      clientId: '',
      sourceAddress: '203.0.113.77',
      userAgent: 'acme-invoicer/2.3.1',
      method: 'POST',
      route: '/v1/invoices',
      gateway: 'traefik-lb-a',
      latencyMs: 2.1,
      identitySource: 'key_material',
    })
  })

  it('treats a redacted header as no credential', () => {
    const record = { ...success, DownstreamStatus: 401, 'request_X-Api-Key': 'REDACTED' }
    expect(decodeRecord(decoder, record)).toMatchObject({ keyFingerprint: '', reason: 'missing_credential' })
  })
})
