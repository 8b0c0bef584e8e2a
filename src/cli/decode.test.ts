import { describe, expect, it } from 'vitest'
import { DecodeError } from '../domain/errors.ts'
import { createDecoder } from '../ingest/decode/decoder.ts'
import { fp, NOW, resolveFingerprint } from '../ingest/decode/test-kit.ts'
import { addToTotals, type DecodeTotals, describeLine } from './decode.ts'

const nginx = createDecoder({ preset: 'nginx', fingerprint: fp, resolveFingerprint, defaultGateway: 'edge' })
const decode = (line: string) =>
  nginx.decodeAll(Buffer.from(line, 'utf8'), { now: NOW, fallbackEventId: 'decode:7' })
const T = '2024-09-19T22:10:39+00:00'

describe('describeLine', () => {
  it('prints one JSON line per event, tagged with the input line', () => {
    const r = decode(
      JSON.stringify({
        time: T,
        request: 'GET /v1/payments?api_key=sk_live_0123456789abcdef HTTP/1.1',
        status: '200',
        remote_addr: '203.0.113.9',
        request_time: '0.041',
      }),
    )
    const out = describeLine(7, r)
    expect(out).toHaveLength(1)
    expect(JSON.parse(out[0]!)).toEqual({
      line: 7,
      event: {
        eventId: 'decode:7',
        time: Date.parse(T),
        keyId: 'unknown',
        keyVersion: 'unknown',
        keyFingerprint: fp('sk_live_0123456789abcdef'),
        outcome: 'success',
        reason: 'none',
        status: 200,
        clientId: '',
        sourceAddress: '203.0.113.9',
        userAgent: '',
        method: 'GET',
        route: '/v1/payments',
        gateway: 'edge',
        latencyMs: 41,
        identitySource: 'key_material',
      },
    })
    expect(out[0]).not.toContain('sk_live_')
  })

  it('prints a skip for identity-less traffic and a dead letter with its reason', () => {
    expect(
      describeLine(3, decode(JSON.stringify({ time: T, request: 'GET /healthz HTTP/1.1', status: 200 }))),
    ).toEqual(['{"line":3,"skipped":"not_auth_traffic","requests":1}'])
    expect(describeLine(4, decode('not json'))).toEqual([
      '{"line":4,"deadLetter":"invalid_json","detail":"record is not valid JSON"}',
    ])
  })

  it('prints a batch line’s events and its dead letter together', () => {
    const r = {
      events: [],
      skipped: 2,
      rejected: new DecodeError('missing_time', '1 of 3 batch elements rejected: no time'),
    }
    expect(describeLine(9, r)).toEqual([
      '{"line":9,"skipped":"not_auth_traffic","requests":2}',
      '{"line":9,"deadLetter":"missing_time","detail":"1 of 3 batch elements rejected: no time"}',
    ])
  })
})

describe('addToTotals', () => {
  it('counts lines, events, skipped requests and dead-lettered lines', () => {
    const t: DecodeTotals = { lines: 0, events: 0, skipped: 0, deadLettered: 0 }
    addToTotals(t, { events: [], skipped: 2, rejected: new DecodeError('bad_time', 'x') })
    addToTotals(
      t,
      decode(JSON.stringify({ time: T, request: 'GET /a?key=sk_live_0123456789abcdef', status: 403 })),
    )
    addToTotals(t, decode('{"time":'))
    expect(t).toEqual({ lines: 3, events: 1, skipped: 2, deadLettered: 2 })
  })
})
