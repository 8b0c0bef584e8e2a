import { describe, expect, it } from 'vitest'
import {
  decodeRecord,
  FALLBACK_ID,
  FP_UNKNOWN,
  FP_V1,
  KEY_UNKNOWN,
  KEY_V1,
  testDecoder,
} from '../test-kit.ts'

const decoder = testDecoder({ preset: 'aws-apigateway' })

// REST API access log with AWS's JSON key names; every $context value is rendered as a string.
const success = {
  requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
  extendedRequestId: 'BQGRzHQNoAMFzXA=',
  ip: '203.0.113.25',
  caller: '-',
  user: '-',
  requestTime: '19/Sep/2024:22:10:39 +0000',
  requestTimeEpoch: '1726783839456',
  httpMethod: 'GET',
  resourcePath: '/pets/{petId}',
  path: '/prod/pets/42',
  status: '200',
  protocol: 'HTTP/1.1',
  responseLength: '312',
  apiId: 'a1b2c3d4e5',
  stage: 'prod',
  apiKeyId: '9x8y7z6w5v',
  apiKey: KEY_V1,
  userAgent: 'aws-sdk-js/3.600.0',
  responseLatency: '27',
  responseType: '-',
}

describe('aws-apigateway preset', () => {
  it('decodes a request with a valid API key', () => {
    expect(decodeRecord(decoder, success)).toEqual({
      eventId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
      time: 1726783839456,
      keyId: 'acme-payments',
      keyVersion: 'v1',
      keyFingerprint: FP_V1,
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: '',
      sourceAddress: '203.0.113.25',
      userAgent: 'aws-sdk-js/3.600.0',
      method: 'GET',
      route: '/pets/{petId}',
      gateway: 'aws-apigateway:a1b2c3d4e5/prod',
      latencyMs: 27,
      identitySource: 'key_material',
    })
  })

  it('decodes INVALID_API_KEY (403) as an unknown key', () => {
    const record = {
      ...success,
      requestId: '5d2e8f10-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
      requestTimeEpoch: '1726783839999',
      status: '403',
      apiKeyId: '-',
      apiKey: KEY_UNKNOWN,
      responseType: 'INVALID_API_KEY',
      responseLatency: '2',
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: '5d2e8f10-1a2b-4c3d-8e9f-0a1b2c3d4e5f',
      time: 1726783839999,
      keyId: 'unknown',
      keyVersion: 'unknown',
      keyFingerprint: FP_UNKNOWN,
      outcome: 'failure',
      reason: 'unknown_key',
      status: 403,
      clientId: '',
      sourceAddress: '203.0.113.25',
      userAgent: 'aws-sdk-js/3.600.0',
      method: 'GET',
      route: '/pets/{petId}',
      gateway: 'aws-apigateway:a1b2c3d4e5/prod',
      latencyMs: 2,
      identitySource: 'key_material',
    })
  })

  it.each([
    ['EXPIRED_TOKEN', '403', 'failure', 'expired'],
    ['ACCESS_DENIED', '403', 'failure', 'insufficient_scope'],
    ['UNAUTHORIZED', '401', 'failure', 'other'],
    ['MISSING_AUTHENTICATION_TOKEN', '403', 'failure', 'missing_credential'],
    ['INVALID_SIGNATURE', '403', 'failure', 'invalid_signature'],
    ['THROTTLED', '429', 'success', 'rate_limited'],
    ['QUOTA_EXCEEDED', '429', 'success', 'rate_limited'],
  ])('maps responseType %s', (responseType, status, outcome, reason) => {
    expect(decodeRecord(decoder, { ...success, responseType, status })).toMatchObject({ outcome, reason })
  })

  it('reads $context-shaped nested records and HTTP API route keys', () => {
    const record = {
      context: {
        requestId: 'Jx8tYhD3oAMEbQw=',
        requestTimeEpoch: 1726783839000,
        httpMethod: 'POST',
        routeKey: 'POST /orders/{id}',
        status: 401,
        apiId: 'z9y8x7w6v5',
        stage: '$default',
        responseLatency: 4,
        identity: { sourceIp: '192.0.2.8', userAgent: 'Go-http-client/2.0', apiKeyId: '-', apiKey: '-' },
        authorizer: { principalId: 'acme-orders', error: 'Unauthorized' },
        error: { responseType: 'UNAUTHORIZED', message: 'Unauthorized' },
      },
    }
    expect(decodeRecord(decoder, record)).toEqual({
      eventId: 'Jx8tYhD3oAMEbQw=',
      time: 1726783839000,
      // No key presented: the authorizer's principal names the key, so its
      // successes and failures land on the same identity.
      keyId: 'acme-orders',
      keyVersion: 'unknown',
      keyFingerprint: '',
      outcome: 'failure',
      reason: 'other',
      status: 401,
      clientId: 'acme-orders',
      sourceAddress: '192.0.2.8',
      userAgent: 'Go-http-client/2.0',
      method: 'POST',
      route: '/orders/{id}',
      gateway: 'aws-apigateway:z9y8x7w6v5/$default',
      latencyMs: 4,
      identitySource: 'principal',
    })
  })

  it('falls back to the CLF requestTime and the fallback event id', () => {
    const { requestId: _, requestTimeEpoch: __, ...rest } = success
    expect(decodeRecord(decoder, rest)).toMatchObject({ eventId: FALLBACK_ID, time: 1726783839000 })
  })
})
