import { describe, expect, it } from 'vitest'
import { createFingerprinter } from './fingerprint.ts'
import {
  DEPTH_LIMIT_PLACEHOLDER,
  isCredentialFieldName,
  looksLikeKey,
  MAX_SCRUB_DEPTH,
  safeCutOffset,
  scrubBytes,
  scrubDocument,
  scrubText,
  scrubTextCounted,
  scrubTruncatedBytes,
} from './scrub.ts'

const fp = createFingerprinter('pepper-for-tests-0123456789')
const KEY = 'ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8'
const F = fp(KEY)
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhY21lIn0.c2lnbmF0dXJlMTIz'
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64')

describe('looksLikeKey', () => {
  it.each([
    // known formats
    ['sk_live_51HacmeV2zYxWvUtSrQpOnMlKj', true],
    ['sk_test_4eC39HqLyjWDarjtT1zdp7dc', true],
    ['pk_live_51HacmeQwErTy', true],
    ['rk_live_51HacmeQwErTy', true],
    [KEY, true],
    ['ghp_16C7e42F292c6912E7710c838347Ae178B4a', true],
    ['gho_16C7e42F292c6912E7710c838347Ae178B4a', true],
    ['github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz', true],
    ['xoxb-2048-4096-abcdefABCDEF123456', true],
    ['xoxp-2048-4096-abcdefABCDEF123456', true],
    ['AKIAIOSFODNN7EXAMPLE', true],
    ['AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY', true],
    ['glpat-xxxxXXXX1234abcd5678', true],
    // known formats are recognised by shape even when not random at all
    ['ks_live_aaaaaaaaaaaaaaaa', true],
    ['ghp_aaaaaaaaaaaaaaaaaaaaaaaaaaaa', true],
    ['AKIAAAAAAAAAAAAAAAAA', true],
    [JWT, true],
    ['Bearer abcdefgh12345678', true],
    [`Basic ${b64('acme:s3cr3t')}`, true],
    // generic high-entropy tokens
    ['aB3dE5fG7hJ9kL1mN3pQ5rS7', true],
    ['Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MA==', true],
    ['5a6340321df0e60a79bcfc01e3b5a3f2c8d94b7e8f0a1b2c', true], // 48-hex Tyk-style raw key
    // not key material
    ['2024-09-19T22:10:39.310Z', false],
    ['203.0.113.10', false],
    ['2001:db8::8a2e:370:7334', false],
    ['fb4eecf8-dec2-40ef-b779-16de7e2384c7', false],
    ['2f6946328ffc4946b8c9120704a4a155', false], // 32-hex request id
    ['1-5759e988-bd862e3fe1be46a994272793', false], // X-Ray trace id
    ['/v1/payments/3b7c2f1e9a8d4c6b5e0f1a2b', false],
    ['https://api.example.com/v1/payments', false],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36', false],
    ['python-requests/2.31.0', false],
    ['ip-10-0-1-23.eu-west-1.compute.internal', false],
    ['payments-api-production', false], // no digits
    ['short123', false],
    ['fp_7db674c13224c9e680d57ace9f02e905', false],
    ['aaaaaaaaaaaaaaaaaaaaaaaa1', false], // long but not random
    ['Bearer token', false],
  ])('%s → %s', (value, expected) => {
    expect(looksLikeKey(value)).toBe(expected)
  })
})

describe('isCredentialFieldName', () => {
  it.each([
    ['apikey', true],
    ['api_key', true],
    ['api-key', true],
    ['apiKey', true],
    ['x-api-key', true],
    ['X-Api-Key', true],
    ['http_x_api_key', true],
    ['request_X-Api-Key', true],
    ['authorization', true],
    ['request_Authorization', true],
    ['http_authorization', true],
    ['proxy-authorization', true],
    ['auth', true],
    ['basic_auth', true],
    ['token', true],
    ['access_token', true],
    ['accessToken', true],
    ['x-auth-token', true],
    ['client_secret', true],
    ['clientSecret', true],
    ['password', true],
    ['userPassword', true],
    ['passwd', true],
    ['credential', true],
    ['credentials', true],
    ['key_material', true],
    ['signature', true],
    ['x-hub-signature', true],
    ['cookie', true],
    ['set-cookie', true],
    ['private_key', true],
    ['aws_secret_access_key', true],
    ['session_id', true],
    // not credentials
    ['apiKeyId', false],
    ['api_key_id', false],
    ['key_id', false],
    ['key_version', false],
    ['keyFingerprint', false],
    ['token_type', false],
    ['authenticated_entity', false],
    ['authorizer', false],
    ['author', false],
    ['user-agent', false],
    ['oauth_id', false],
    ['request_id', false],
  ])('%s → %s', (name, expected) => {
    expect(isCredentialFieldName(name)).toBe(expected)
  })
})

describe('scrubText', () => {
  it.each([
    [
      'query parameter',
      `GET /v1/pay?api_key=${KEY}&limit=10 HTTP/1.1`,
      `GET /v1/pay?api_key=${F}&limit=10 HTTP/1.1`,
    ],
    ['header line with Bearer', `Authorization: Bearer ${KEY}`, `Authorization: ${F}`],
    [
      'header inside a quoted curl argument',
      'curl -H "Authorization: Bearer abc123def456ghi789" https://api',
      `curl -H "Authorization: ${fp('abc123def456ghi789')}" https://api`,
    ],
    [
      'JSON credential pairs, string and number',
      '{"user":"bob","password":"hunter2","pin":1234,"token": 987654}',
      `{"user":"bob","password":"${fp('hunter2')}","pin":1234,"token": "${fp('987654')}"}`,
    ],
    [
      'escaped JSON inside JSON',
      '{"msg":"{\\"apikey\\":\\"short1\\"}"}',
      `{"msg":"{\\"apikey\\":\\"${fp('short1')}\\"}"}`,
    ],
    [
      'known key in prose',
      `msg="auth failed for key ${KEY} from 10.0.0.1"`,
      `msg="auth failed for key ${F} from 10.0.0.1"`,
    ],
    ['JWT in prose', `token ${JWT} rejected`, `token ${fp(JWT)} rejected`],
    [
      'high-entropy cookie value keeps its name',
      'session=abcDEF123ghiJKL456mno; theme=dark',
      `session=${fp('abcDEF123ghiJKL456mno')}; theme=dark`,
    ],
    [
      'credential query parameter in a URL, non-key shaped value',
      'https://api.example.com/v1/x?access_token=ya29.A0ARrdaM-abc&fields=id',
      `https://api.example.com/v1/x?access_token=${fp('ya29.A0ARrdaM-abc')}&fields=id`,
    ],
    ['known key glued to a tag', `tags=key-${KEY}`, `tags=key-${F}`],
    [
      'low-entropy known key glued to a tag',
      'tag:x-ks_live_aaaaaaaaaaaaaaaa',
      `tag:x-${fp('ks_live_aaaaaaaaaaaaaaaa')}`,
    ],
    ['key in a path segment', `/v1/keys/${KEY}/revoke`, `/v1/keys/${F}/revoke`],
    ['Bearer credential in prose', `sent Bearer ${KEY}.`, `sent Bearer ${fp(`${KEY}.`)}`],
  ])('%s', (_, input, expected) => {
    expect(scrubText(input, fp)).toBe(expected)
  })

  it.each([
    ['prose mentioning schemes', 'Bearer authentication required; Basic auth disabled'],
    ['placeholder credential values', 'x-api-key: - authorization=REDACTED'],
    [
      'timestamps, IPs, UUIDs, user agents, hex ids',
      '2024-09-19T22:10:39.310Z 203.0.113.10 fb4eecf8-dec2-40ef-b779-16de7e2384c7 "Mozilla/5.0 (X11; Linux x86_64)" ' +
        'python-requests/2.31.0 trace=2f6946328ffc4946b8c9120704a4a155',
    ],
    ['a fingerprint', `key=${F}`],
  ])('leaves %s alone', (_, input) => {
    expect(scrubTextCounted(input, fp)).toEqual({ text: input, replaced: 0 })
  })
})

describe('scrubBytes', () => {
  it('scrubs valid UTF-8 as text and keeps other characters', () => {
    const out = scrubBytes(Buffer.from(`apikey=${KEY} ✓ naïve`, 'utf8'), fp)
    expect(out.toString('utf8')).toBe(`apikey=${F} ✓ naïve`)
  })

  it('preserves every non-key byte of invalid UTF-8 input', () => {
    const input = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`apikey=${KEY}`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(` Bearer ${KEY}`),
      Buffer.from([0x80, 0x0a]),
    ])
    const expected = Buffer.concat([
      Buffer.from([0xff, 0xfe]),
      Buffer.from(`apikey=${F}`),
      Buffer.from([0xc3, 0x28]),
      Buffer.from(` Bearer ${F}`),
      Buffer.from([0x80, 0x0a]),
    ])
    expect(scrubBytes(input, fp).equals(expected)).toBe(true)
  })
})

describe('scrubDocument', () => {
  const kongLike = {
    request: {
      id: '2f6946328ffc4946b8c9120704a4a155',
      method: 'GET',
      uri: `/v1/pay?api_key=${KEY}&limit=10`,
      url: `https://api.example.com/v1/pay?api_key=${KEY}&limit=10`,
      querystring: { api_key: KEY, limit: '10' },
      headers: {
        host: 'api.example.com',
        authorization: `Bearer ${KEY}`,
        'user-agent': 'acme-billing/4.2.0 (+https://acme.example)',
        'x-api-key': '-',
      },
    },
    consumer: { id: 'b0b5e7c2-1f4e-4d7a-9c3b-2a1d0e9f8c7b', username: 'acme-payments' },
    client_ip: '203.0.113.10',
    started_at: 1726783839123,
    when: '2024-09-19T22:10:39.310Z',
    tags: ['team:billing', `key-${KEY}`],
    password: 12345,
    tls: true,
    note: null,
  }

  it('replaces credentials and key-shaped values, keeps everything else (exact output)', () => {
    const frozen = structuredClone(kongLike)
    const r = scrubDocument(kongLike, { fingerprint: fp })
    expect(r).toEqual({
      value: {
        request: {
          id: '2f6946328ffc4946b8c9120704a4a155',
          method: 'GET',
          uri: `/v1/pay?api_key=${F}&limit=10`,
          url: `https://api.example.com/v1/pay?api_key=${F}&limit=10`,
          querystring: { api_key: F, limit: '10' },
          headers: {
            host: 'api.example.com',
            authorization: F,
            'user-agent': 'acme-billing/4.2.0 (+https://acme.example)',
            'x-api-key': '-',
          },
        },
        consumer: { id: 'b0b5e7c2-1f4e-4d7a-9c3b-2a1d0e9f8c7b', username: 'acme-payments' },
        client_ip: '203.0.113.10',
        started_at: 1726783839123,
        when: '2024-09-19T22:10:39.310Z',
        tags: ['team:billing', `key-${F}`],
        password: fp('12345'),
        tls: true,
        note: null,
      },
      replaced: 6,
    })
    expect(kongLike).toEqual(frozen) // input not mutated
    expect(r.value).not.toBe(kongLike)
  })

  it('scrubs explicitly configured paths, with wildcards, array levels and whole subtrees', () => {
    const doc = {
      meta: { Client_Ref: 'plain-looking-value', other: 'kept' },
      items: [{ pin: '1234' }, { pin: '5678' }],
      body: { nested: { a: 'x1', b: [7, 'y2'] } },
      rows: [{ k: 'kept' }, { k: 'second' }],
    }
    const r = scrubDocument(doc, {
      fingerprint: fp,
      extraSecretPaths: ['meta.client_ref', 'items.pin', 'body', 'rows[1].k', 'missing.path'],
    })
    expect(r).toEqual({
      value: {
        meta: { Client_Ref: fp('plain-looking-value'), other: 'kept' },
        items: [{ pin: fp('1234') }, { pin: fp('5678') }],
        body: { nested: { a: fp('x1'), b: [fp('7'), fp('y2')] } },
        rows: [{ k: 'kept' }, { k: fp('second') }],
      },
      replaced: 7,
    })
    expect(
      scrubDocument({ a: { b: 's1', c: 's2' } }, { fingerprint: fp, extraSecretPaths: ['a.*'] }).value,
    ).toEqual({
      a: { b: fp('s1'), c: fp('s2') },
    })
  })

  it('judges objects held by credential-named fields field by field', () => {
    const doc = {
      auth: {
        type: 'key-auth',
        key_id: 'acme-payments',
        clientId: 'acme',
        key: 'plain-secret',
        header: 'Bearer abc12345678',
      },
      token: {
        value: 'tok-123',
        expiresAt: '2024-10-01T00:00:00Z',
        scopes: ['read', 'write'],
        meta: { note: 'n1' },
      },
      authorization: ['Bearer abc12345678', 'Basic Zm9vOmJhcg=='],
    }
    expect(scrubDocument(doc, { fingerprint: fp })).toEqual({
      value: {
        auth: {
          type: 'key-auth',
          key_id: 'acme-payments',
          clientId: 'acme',
          key: fp('plain-secret'),
          header: fp('abc12345678'),
        },
        token: {
          value: fp('tok-123'),
          expiresAt: '2024-10-01T00:00:00Z',
          scopes: ['read', 'write'],
          meta: { note: fp('n1') },
        },
        authorization: [fp('abc12345678'), fp('foo:bar')],
      },
      replaced: 6,
    })
  })

  it('copies on write: a new root, unchanged subtrees shared, the input untouched', () => {
    const doc = { a: { b: 1 }, c: { token: 'x1' } }
    const r = scrubDocument(doc, { fingerprint: fp }).value as typeof doc
    expect(r).not.toBe(doc)
    expect(r.a).toBe(doc.a)
    expect(r.c).toEqual({ token: fp('x1') })
    expect(doc.c.token).toBe('x1')
  })

  it('scrubs key-shaped object keys', () => {
    expect(scrubDocument({ querystring: { [KEY]: true } }, { fingerprint: fp })).toEqual({
      value: { querystring: { [F]: true } },
      replaced: 1,
    })
  })

  it('does not let a __proto__ key change the prototype', () => {
    const doc = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": 1}')
    const r = scrubDocument(doc, { fingerprint: fp }).value as Record<string, unknown>
    expect(Object.getPrototypeOf(r)).toBe(Object.prototype)
    expect((r as { polluted?: string }).polluted).toBeUndefined()
    expect(Object.keys(r)).toEqual(['__proto__', 'a'])
  })

  it(`replaces anything nested deeper than ${MAX_SCRUB_DEPTH} levels`, () => {
    let deep: unknown = { token: KEY }
    for (let i = 0; i < 40; i++) deep = { d: deep }
    const out = JSON.stringify(scrubDocument(deep, { fingerprint: fp }).value)
    expect(out).toContain(DEPTH_LIMIT_PLACEHOLDER)
    expect(out).not.toContain(KEY)
  })

  it('rejects a secret path that does not parse', () => {
    expect(() => scrubDocument({}, { fingerprint: fp, extraSecretPaths: ['a..b'] })).toThrow(/empty segment/)
  })
})

describe('canary: a planted key never survives, its fingerprint does', () => {
  const CANARY = 'ks_live_CANARY7d3f9a1b2c4e5f60718293a4b5c6d7e8'
  const CANARY_B64 = b64(`${CANARY}:`)
  const doc = {
    request: {
      uri: `/v1/pay?api_key=${CANARY}&x=1`,
      url: `https://api.example.com/v1/pay?apikey=${encodeURIComponent(CANARY)}`,
      querystring: { api_key: CANARY },
      headers: {
        authorization: `Bearer ${CANARY}`,
        apikey: CANARY,
        'proxy-authorization': `Basic ${CANARY_B64}`,
        cookie: `session=${CANARY}; theme=dark`,
        'x-forwarded-client-cert': `Hash=abc;Subject="CN=${CANARY}"`,
      },
    },
    nested: [[{ note: `used ${CANARY} here` }], [CANARY], [[[`key-${CANARY}`]]]],
    zq_x91: CANARY,
    [CANARY]: 'as a field name',
    raw: `{"authorization":"Basic ${CANARY_B64}"}`,
    message: `GET /?token=${CANARY} 401`,
  }

  it('scrubDocument', () => {
    const out = JSON.stringify(scrubDocument(doc, { fingerprint: fp }).value)
    expect(out).not.toContain(CANARY)
    expect(out).not.toContain(CANARY_B64)
    expect(out).not.toContain('CANARY')
    expect(out).toContain(F)
  })

  it('scrubText on a malformed, non-JSON line', () => {
    const line =
      `2024-09-19 22:10:39 ERROR {"apikey": "${CANARY}", "authorization": "Basic ${CANARY_B64}" ` +
      `truncated... retry with key=${CANARY} x-api-key: ${CANARY} Authorization: Bearer ${CANARY}`
    const out = scrubText(line, fp)
    expect(out).not.toContain('CANARY')
    expect(out).not.toContain(CANARY_B64)
    expect(out).toContain(F)
  })

  it('scrubBytes with invalid UTF-8 around the key', () => {
    const buf = Buffer.concat([
      Buffer.from([0xc0, 0xaf, 0xff]),
      Buffer.from(CANARY),
      Buffer.from([0xed, 0xa0, 0x80]),
      Buffer.from(`"apikey":"${CANARY}"`),
      Buffer.from([0xfe]),
      Buffer.from(`?token=${CANARY}`),
      Buffer.from([0xe2, 0x82]),
    ])
    const out = scrubBytes(buf, fp)
    expect(out.includes(Buffer.from('CANARY'))).toBe(false)
    expect(out.includes(Buffer.from(F))).toBe(true)
    expect(out.subarray(0, 3).equals(Buffer.from([0xc0, 0xaf, 0xff]))).toBe(true)
    expect(out.subarray(-2).equals(Buffer.from([0xe2, 0x82]))).toBe(true)
  })
})

describe('scrubTruncatedBytes (a line cut at the line limit)', () => {
  // 11 characters of the canary: shorter than any rule's minimum, so plain
  // scrubbing keeps them. The truncated path must not.
  const FRAGMENT = KEY.slice(0, 11)
  const cut = (text: string) => scrubTruncatedBytes(Buffer.from(text, 'latin1'), fp).toString('latin1')

  // [case, truncated line, what plain scrubbing would leak, what the truncated path keeps]
  it.each([
    [
      'a JSON string value the cut fell into goes, with its quote',
      `{"route":"/v1/pay","headers":{"apikey":"${FRAGMENT}`,
      true,
      '{"route":"/v1/pay","headers":{"apikey"',
    ],
    [
      'free text: the partial token goes back to the last delimiter',
      `GET /v1/pay?x=${FRAGMENT}`,
      true,
      'GET ',
    ],
    ['an escaped quote does not close the string', `{"note":"he said \\"${FRAGMENT}`, true, '{"note"'],
    [
      'a closed string stays; complete keys before the cut are fingerprinted',
      `{"token":"${KEY}","x": ${FRAGMENT}`,
      true,
      `{"token":"${F}","x": `,
    ],
    [
      'a cut right after a delimiter keeps everything before it',
      'curl/8.4.0 svc-06 ',
      false,
      'curl/8.4.0 svc-06 ',
    ],
  ])('%s', (_name, input, plainLeaks, expected) => {
    expect(scrubBytes(Buffer.from(input, 'latin1'), fp).toString('latin1').includes(FRAGMENT)).toBe(
      plainLeaks,
    )
    expect(cut(input)).toBe(expected)
  })

  it('finds the cut point without scrubbing (offsets are in characters of the latin1 text)', () => {
    expect(safeCutOffset('{"a":"bc')).toBe(4)
    expect(safeCutOffset('{"a":"b"} tail')).toBe(10)
    expect(safeCutOffset('')).toBe(0)
  })
})

describe('scrubText: a full stop after a key', () => {
  it.each([
    [`rotated after ${KEY} leaked.`, `rotated after ${F} leaked.`],
    [`the leaked key was ${KEY}.`, `the leaked key was ${F}.`],
    [`see ${KEY}... and more`, `see ${F}... and more`],
    ['okhttp/4.12.0.', 'okhttp/4.12.0.'],
  ])('%s', (input, expected) => {
    expect(scrubText(input, fp)).toBe(expected)
  })
})
