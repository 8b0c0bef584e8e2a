// Builders of gateway log records for ingest tests: valid Kong http-log
// records with unique request ids, and every kind of malformed input the
// pipeline must dead-letter without stopping.

export interface KongSpec {
  i: number
  time: number
  keyId?: string
  version?: string
  client?: string
  status?: number
  address?: string
  route?: string
}

/** A Kong `http-log` record as `kong.log.serialize()` writes it. */
export function kongRecord(s: KongSpec): Record<string, unknown> {
  const keyId = s.keyId ?? `key-${s.i % 17}`
  const version = s.version ?? (s.i % 3 === 0 ? 'v1' : 'v2')
  return {
    request: {
      id: `req-${s.i.toString(36).padStart(8, '0')}`,
      method: 'GET',
      uri: s.route ?? `/v1/orders/${s.i % 50}`,
      url: `https://api.example.com${s.route ?? `/v1/orders/${s.i % 50}`}`,
      headers: { 'user-agent': `client-sdk/${1 + (s.i % 4)}.0`, host: 'api.example.com' },
      querystring: {},
      size: 120,
    },
    response: { status: s.status ?? 200, size: 512, headers: {} },
    consumer: { username: s.client ?? `client-${s.i % 23}`, custom_id: `${keyId}:${version}` },
    client_ip: s.address ?? `203.0.113.${s.i % 200}`,
    started_at: s.time,
    latencies: { request: 10 + (s.i % 40), kong: 2, proxy: 8 },
    service: { name: 'orders' },
    route: { name: 'orders' },
  }
}

export function kongLine(s: KongSpec): string {
  return JSON.stringify(kongRecord(s))
}

/** Deterministic PRNG (mulberry32) so malformed inputs are reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const MALFORMED_KINDS = [
  'random_bytes',
  'bad_utf8',
  'not_json',
  'json_array',
  'wrong_types',
  'missing_time',
  'batch_missing_time',
  'absurd_time',
  'future_time',
  'huge_field',
  'bad_status',
  'empty',
] as const
export type MalformedKind = (typeof MALFORMED_KINDS)[number]

/** One malformed record of `kind`; `now` anchors the time-based kinds. */
export function malformed(kind: MalformedKind, i: number, now: number, rnd: () => number): Buffer {
  const good = kongRecord({ i: 10_000_000 + i, time: now - 60_000 })
  switch (kind) {
    case 'random_bytes': {
      const b = Buffer.alloc(16 + Math.floor(rnd() * 300))
      for (let j = 0; j < b.length; j++) b[j] = Math.floor(rnd() * 256)
      // A leading 0xff can never start valid UTF-8 JSON.
      b[0] = 0xff
      return b
    }
    case 'bad_utf8':
      return Buffer.concat([
        Buffer.from('{"request":{"id":"'),
        Buffer.from([0xc3, 0x28, 0xa0, 0xa1]),
        Buffer.from('"}}'),
      ])
    case 'not_json':
      return Buffer.from(`GET /v1/orders HTTP/1.1 200 ${i}`)
    case 'json_array':
      // A batch is split into its elements; elements that are not objects are rejected.
      return Buffer.from(JSON.stringify([1, 'two']))
    case 'wrong_types':
      return Buffer.from(JSON.stringify({ ...good, started_at: { when: 'yesterday' } }))
    case 'missing_time': {
      const { started_at: _t, ...rest } = good
      return Buffer.from(JSON.stringify(rest))
    }
    case 'batch_missing_time': {
      // A Kong http-log batch (queue.max_batch_size > 1) whose one element has no time.
      const { started_at: _t, ...rest } = good
      return Buffer.from(JSON.stringify([rest]))
    }
    case 'absurd_time':
      return Buffer.from(JSON.stringify({ ...good, started_at: -62_135_596_800_000 }))
    case 'future_time':
      return Buffer.from(JSON.stringify({ ...good, started_at: now + 10 * 365 * 86_400_000 }))
    case 'huge_field':
      // Mostly a huge identifying field (cheap to produce); about every 49th a record over the 64 KiB limit.
      if (i % 49 === 0) {
        return Buffer.from(
          JSON.stringify({
            ...good,
            request: { ...(good.request as object), uri: `/${'a'.repeat(70_000)}` },
          }),
        )
      }
      return Buffer.from(
        JSON.stringify({ ...good, consumer: { username: 'c'.repeat(5_000), custom_id: 'key-1:v1' } }),
      )
    case 'bad_status':
      return Buffer.from(JSON.stringify({ ...good, response: { status: 9999 } }))
    case 'empty':
      return Buffer.from('{}')
  }
}
