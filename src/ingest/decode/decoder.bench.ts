// Decode throughput: `npx vitest bench --run --project unit src/ingest/decode`.
// The target is ~100k records/s on one core for a ~300-byte Kong record.

import { bench, describe } from 'vitest'
import { createFingerprinter } from '../secrets/fingerprint.ts'
import { createDecoder } from './decoder.ts'
import { FP_V2, fp, KEY_V2, resolveFingerprint } from './test-kit.ts'

const ctx = { now: Date.UTC(2024, 8, 19, 22, 15), fallbackEventId: 'bench:0:0' }
const kong300 = Buffer.from(
  JSON.stringify({
    request: {
      id: '2f6946328ffc4946b8c9120704a4a155',
      method: 'GET',
      uri: '/v1/payments?limit=10',
      headers: { apikey: KEY_V2, 'user-agent': 'acme-billing/4.2.0' },
    },
    response: { status: 200 },
    latencies: { request: 43 },
    consumer: { username: 'acme-payments' },
    client_ip: '203.0.113.10',
    started_at: 1726783839123,
  }),
)
const kong = createDecoder({
  preset: 'kong',
  fingerprint: fp,
  resolveFingerprint,
  defaultGateway: 'kong-eu-1',
})
const kongUncached = createDecoder({
  preset: 'kong',
  fingerprint: createFingerprinter('pepper-for-tests-0123456789', { cacheSize: 0 }),
  resolveFingerprint,
  defaultGateway: 'kong-eu-1',
})
if (kong.decode(kong300, ctx).keyFingerprint !== FP_V2) throw new Error('bench fixture does not decode')

describe(`decode a ${kong300.length}-byte Kong record`, () => {
  bench('fingerprint cache on (default)', () => {
    kong.decode(kong300, ctx)
  })
  bench('fingerprint cache off', () => {
    kongUncached.decode(kong300, ctx)
  })
  bench('JSON.parse alone (floor)', () => {
    JSON.parse(kong300.toString('utf8'))
  })
})
