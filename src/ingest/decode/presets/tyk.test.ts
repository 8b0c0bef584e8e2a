import { describe, expect, it } from 'vitest'
import { decodeRecord, FALLBACK_ID, fp, testDecoder } from '../test-kit.ts'

// Tyk Pump analytics records (tyk-pump AnalyticsRecord JSON names).
const decoder = testDecoder({ preset: 'tyk', defaultGateway: 'tyk-gw-1' })
const RAW_KEY = '5a6340321df0e60a79bcfc01e3b5a3f2c8d94b7e8f0a1b2c3d4e5f6071829'

const success = {
  method: 'GET',
  host: 'api.example.com',
  path: '/orders/42',
  raw_path: '/orders/42',
  content_length: 0,
  user_agent: 'Go-http-client/1.1',
  day: 19,
  month: 9,
  year: 2024,
  hour: 22,
  response_code: 200,
  api_key: RAW_KEY,
  timestamp: '2024-09-19T22:10:39.789Z',
  api_version: 'Non Versioned',
  api_name: 'orders',
  api_id: '3643588ceabb49934de926e8c19d9410',
  org_id: '5a6340321df0e60a79bcfc01',
  oauth_id: '',
  request_time: 31,
  raw_request: '',
  raw_response: '',
  ip_address: '198.51.100.23',
  geo: {
    country: { iso_code: 'DE' },
    city: { geoname_id: 0, names: {} },
    location: { latitude: 0, longitude: 0, time_zone: '' },
  },
  network: { open_connections: 0, closed_connections: 0, bytes_in: 0, bytes_out: 0 },
  latency: { total: 31, upstream: 29 },
  tags: [`key-${RAW_KEY}`, 'org-5a6340321df0e60a79bcfc01', 'key_id:acme-orders', 'key_version:v3'],
  alias: 'acme-orders',
  track_path: false,
  expireAt: '2024-10-19T22:10:39.789Z',
}

describe('tyk preset', () => {
  it('decodes a request with key id and version from the key tags', () => {
    expect(decodeRecord(decoder, success)).toEqual({
      eventId: FALLBACK_ID,
      time: Date.parse('2024-09-19T22:10:39.789Z'),
      keyId: 'acme-orders',
      keyVersion: 'v3',
      keyFingerprint: fp(RAW_KEY),
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: 'acme-orders',
      sourceAddress: '198.51.100.23',
      userAgent: 'Go-http-client/1.1',
      method: 'GET',
      route: '/orders/42',
      gateway: 'tyk-gw-1',
      latencyMs: 31,
      identitySource: 'key_id',
    })
  })

  it('decodes a rejected unknown key (403 "Key not authorised")', () => {
    const record = {
      ...success,
      response_code: 403,
      api_key: 'deadbeefcafebabe0123456789abcdef0123456789abcdef01234567',
      tags: ['org-5a6340321df0e60a79bcfc01'],
      alias: '',
      request_time: 0,
      latency: { total: 0, upstream: 0 },
      timestamp: '2024-09-19T22:10:40Z',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: FALLBACK_ID,
      time: Date.parse('2024-09-19T22:10:40Z'),
      keyId: 'unknown',
      keyVersion: 'unknown',
      keyFingerprint: fp('deadbeefcafebabe0123456789abcdef0123456789abcdef01234567'),
      outcome: 'failure',
      reason: 'unknown_key',
      status: 403,
      clientId: '',
      sourceAddress: '198.51.100.23',
      userAgent: 'Go-http-client/1.1',
      method: 'GET',
      route: '/orders/42',
      gateway: 'tyk-gw-1',
      latencyMs: 0,
      identitySource: 'key_material',
    })
  })

  it('reads the key alias as key-id:version and the MongoDB pump names', () => {
    const record = {
      method: 'POST',
      path: '/orders',
      useragent: 'acme-shop/5.1',
      responsecode: 201,
      apikey: RAW_KEY,
      timestamp: '2024-09-19T22:10:39Z',
      ipaddress: '192.0.2.9',
      requesttime: 12,
      alias: 'acme-orders:v4',
      tags: [],
    }
    expect(decodeRecord(decoder, record)).toMatchObject({
      keyId: 'acme-orders',
      keyVersion: 'v4',
      status: 201,
      clientId: 'acme-orders:v4',
      sourceAddress: '192.0.2.9',
      userAgent: 'acme-shop/5.1',
      latencyMs: 12,
      identitySource: 'key_id',
    })
  })
})
