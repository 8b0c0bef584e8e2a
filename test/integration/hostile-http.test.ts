// Hostile HTTP requests against the real daemon (createApp over embedded
// ClickHouse, a real listening socket): each row is one request an attacker or
// a broken client may send, with the exact status and problem code it must get.
// Every error must be application/problem+json with a code documented in
// docs/errors.md, must not echo the canary planted in it, and must not write a
// log line at error level or a stack trace (any client can send these).
import { mkdtempSync, readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { createLogger } from '../../src/telemetry/logger.ts'

const ADMIN = 'hostile-admin-token-0123456789'
const READ = 'hostile-read-token-0123456789'
const CANARY = 'sk_live_CANARYhostile7Qx9Zt3Lm5Np8Rv2'
const DOC = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')

interface Row {
  name: string
  /** The raw request, without the Host and Connection headers (added here). */
  request: string | (() => string)
  status: number
  /** Problem code; null for an answer without a problem body (204, HEAD). */
  code: string | null
  allow?: string
}

const admin = `Authorization: Bearer ${ADMIN}\r\n`
const read = `Authorization: Bearer ${READ}\r\n`
const get = (target: string, headers = '') => `GET ${target} HTTP/1.1\r\n${headers}`
const withBody = (method: string, target: string, headers: string, body: string) =>
  `${method} ${target} HTTP/1.1\r\n${headers}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
const json = 'Content-Type: application/json\r\n'
const stragglers = '/api/v1/keys/acme/versions/v1/stragglers'
const deep = `${'['.repeat(5_000)}${']'.repeat(5_000)}`

const ROWS: Row[] = [
  // Routing
  { name: 'unknown route', request: get('/nope'), status: 404, code: 'KS_NOT_FOUND' },
  { name: 'unknown API route', request: get(`/api/v1/${CANARY}`, read), status: 404, code: 'KS_NOT_FOUND' },
  { name: 'unknown route, unauthenticated', request: get('/api/v2/keys'), status: 404, code: 'KS_NOT_FOUND' },
  {
    name: 'empty key id (trailing slash)',
    request: get('/api/v1/keys/', read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'POST to a GET-only route',
    request: withBody('POST', '/healthz', json, '{}'),
    status: 405,
    code: 'KS_METHOD_NOT_ALLOWED',
    allow: 'GET, HEAD, OPTIONS',
  },
  {
    name: 'PUT on the key list',
    request: withBody('PUT', '/api/v1/keys', admin + json, '{}'),
    status: 405,
    code: 'KS_METHOD_NOT_ALLOWED',
    allow: 'GET, HEAD, OPTIONS',
  },
  {
    name: 'DELETE on lifecycle',
    request: `DELETE /api/v1/lifecycle HTTP/1.1\r\n${admin}`,
    status: 405,
    code: 'KS_METHOD_NOT_ALLOWED',
    allow: 'GET, HEAD, OPTIONS, POST',
  },
  {
    name: 'PATCH on a silence',
    request: withBody('PATCH', '/api/v1/silences/sil_1', admin + json, '{}'),
    status: 405,
    code: 'KS_METHOD_NOT_ALLOWED',
    allow: 'DELETE, OPTIONS',
  },
  {
    name: 'OPTIONS on a route',
    request: 'OPTIONS /api/v1/silences HTTP/1.1\r\n',
    status: 204,
    code: null,
    allow: 'GET, HEAD, OPTIONS, POST',
  },
  {
    name: 'TRACE (would reflect the request)',
    request: `TRACE /healthz HTTP/1.1\r\nX-Echo: ${CANARY}\r\n`,
    status: 405,
    code: 'KS_METHOD_NOT_ALLOWED',
    allow: 'GET, HEAD, OPTIONS',
  },
  {
    name: 'WebDAV method',
    request: `PROPFIND /api/v1/keys HTTP/1.1\r\n${admin}`,
    status: 405,
    code: 'KS_METHOD_NOT_ALLOWED',
    allow: 'GET, HEAD, OPTIONS',
  },
  { name: 'OPTIONS on no route', request: 'OPTIONS /nope HTTP/1.1\r\n', status: 404, code: 'KS_NOT_FOUND' },
  { name: 'HEAD on no route', request: 'HEAD /nope HTTP/1.1\r\n', status: 404, code: null },
  { name: 'HEAD without a token', request: 'HEAD /api/v1/keys HTTP/1.1\r\n', status: 401, code: null },
  // URLs
  { name: 'bad percent-encoding', request: get('/%zz'), status: 400, code: 'KS_VALIDATION_FAILED' },
  {
    name: 'truncated UTF-8 escape in a key id',
    request: get(`/api/v1/keys/${CANARY}%E0%A4%A`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'path segment over 256 characters',
    request: get(`/api/v1/keys/${CANARY}${'a'.repeat(300)}`, read),
    status: 414,
    code: 'KS_URI_TOO_LONG',
  },
  {
    name: 'path over 4096 characters',
    request: get(`/${'a'.repeat(5_000)}`),
    status: 414,
    code: 'KS_URI_TOO_LONG',
  },
  {
    name: 'query over 4096 characters',
    request: get(`/healthz?q=${CANARY}${'a'.repeat(5_000)}`),
    status: 414,
    code: 'KS_URI_TOO_LONG',
  },
  // HTTP framing
  {
    name: 'headers over 16 KiB',
    request: get('/healthz', `X-Pad: ${CANARY}${'a'.repeat(20_000)}\r\n`),
    status: 431,
    code: 'KS_HEADERS_TOO_LARGE',
  },
  {
    name: 'garbage request line',
    request: `${CANARY} nonsense\r\n`,
    status: 400,
    code: 'KS_MALFORMED_REQUEST',
  },
  {
    name: 'header line without a colon',
    request: get('/healthz', `${CANARY}\r\n`),
    status: 400,
    code: 'KS_MALFORMED_REQUEST',
  },
  {
    name: 'Content-Length and Transfer-Encoding together (smuggling)',
    request: `POST /api/v1/lifecycle HTTP/1.1\r\n${admin}${json}Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
    status: 400,
    code: 'KS_MALFORMED_REQUEST',
  },
  {
    name: 'non-numeric Content-Length',
    request: `POST /api/v1/lifecycle HTTP/1.1\r\n${admin}${json}Content-Length: abc\r\n\r\n`,
    status: 400,
    code: 'KS_MALFORMED_REQUEST',
  },
  {
    name: 'NUL byte in a header value',
    request: get('/healthz', `X-A: ${CANARY}\u0000\r\n`),
    status: 400,
    code: 'KS_MALFORMED_REQUEST',
  },
  {
    name: 'HTTP/2 preface on the HTTP/1.1 port',
    request: 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
    status: 400,
    code: 'KS_MALFORMED_REQUEST',
  },
  // Authentication comes before the body
  {
    name: '10 MB body without a token',
    request: `POST /api/v1/lifecycle HTTP/1.1\r\n${json}Content-Length: 10485760\r\n\r\n{"secret":"${CANARY}"`,
    status: 401,
    code: 'KS_UNAUTHORIZED',
  },
  {
    name: '10 MB body with a read token on an admin route',
    request: `POST /api/v1/silences HTTP/1.1\r\n${read}${json}Content-Length: 10485760\r\n\r\n{`,
    status: 403,
    code: 'KS_FORBIDDEN',
  },
  {
    name: '10 MB body (declared) with an admin token',
    request: `POST /api/v1/lifecycle HTTP/1.1\r\n${admin}${json}Content-Length: 10485760\r\n\r\n{`,
    status: 413,
    code: 'KS_PAYLOAD_TOO_LARGE',
  },
  {
    name: '100 KB chunked body with an admin token',
    request: () =>
      `POST /api/v1/lifecycle HTTP/1.1\r\n${admin}${json}Transfer-Encoding: chunked\r\n\r\n` +
      `${(100_000).toString(16)}\r\n${'x'.repeat(100_000)}\r\n0\r\n\r\n`,
    status: 413,
    code: 'KS_PAYLOAD_TOO_LARGE',
  },
  {
    name: 'wrong bearer token',
    request: get('/api/v1/keys', `Authorization: Bearer ${CANARY}\r\n`),
    status: 401,
    code: 'KS_UNAUTHORIZED',
  },
  {
    name: 'Basic credentials',
    request: get('/api/v1/keys', `Authorization: Basic ${Buffer.from(`a:${CANARY}`).toString('base64')}\r\n`),
    status: 401,
    code: 'KS_UNAUTHORIZED',
  },
  {
    name: 'read token on a lifecycle write',
    request: withBody('POST', '/api/v1/lifecycle', read + json, '{}'),
    status: 403,
    code: 'KS_FORBIDDEN',
  },
  // Media types and bodies
  {
    name: 'form body',
    request: withBody(
      'POST',
      '/api/v1/lifecycle',
      `${admin}Content-Type: application/x-www-form-urlencoded\r\n`,
      `secret=${CANARY}`,
    ),
    status: 415,
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'text/plain body',
    request: withBody('POST', '/api/v1/silences', `${admin}Content-Type: text/plain\r\n`, CANARY),
    status: 415,
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'XML body',
    request: withBody(
      'POST',
      '/api/v1/lifecycle',
      `${admin}Content-Type: application/xml\r\n`,
      `<a>${CANARY}</a>`,
    ),
    status: 415,
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'body without a Content-Type',
    request: withBody('POST', '/api/v1/lifecycle', admin, `{"secret":"${CANARY}"}`),
    status: 415,
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'gzip-encoded body',
    request: withBody(
      'POST',
      '/api/v1/lifecycle',
      `${admin}${json}Content-Encoding: gzip\r\n`,
      `{"secret":"${CANARY}"}`,
    ),
    status: 415,
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'gzip-encoded body without a token',
    request: withBody(
      'POST',
      '/api/v1/lifecycle',
      `${json}Content-Encoding: gzip\r\n`,
      `{"secret":"${CANARY}"}`,
    ),
    status: 401,
    code: 'KS_UNAUTHORIZED',
  },
  {
    name: 'JSON declared as UTF-16',
    request: withBody(
      'POST',
      '/api/v1/silences',
      `${admin}Content-Type: application/json; charset=utf-16\r\n`,
      '{}',
    ),
    status: 415,
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'a JSON-like vendor media type',
    request: withBody(
      'POST',
      '/api/v1/lifecycle',
      `${admin}Content-Type: application/vnd.api+json\r\n`,
      '{}',
    ),
    status: 415,
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
  },
  {
    name: 'invalid JSON',
    request: withBody('POST', '/api/v1/lifecycle', admin + json, `{"secret": ${CANARY}`),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'empty JSON body',
    request: withBody('POST', '/api/v1/lifecycle', admin + json, ''),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: '__proto__ in the body',
    request: withBody('POST', '/api/v1/silences', admin + json, '{"__proto__":{"admin":true}}'),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'JSON array instead of an object',
    request: withBody('POST', '/api/v1/lifecycle', admin + json, '[1,2,3]'),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'JSON nested 5000 deep',
    request: withBody('POST', '/api/v1/silences', admin + json, deep),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  // Query and path parameters
  {
    name: 'lookback of 99999999999999999d',
    request: get(`${stragglers}?lookback=99999999999999999d`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'lookback of 3651d',
    request: get(`${stragglers}?lookback=3651d`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'lookback of 0d',
    request: get(`${stragglers}?lookback=0d`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'negative lookback',
    request: get(`${stragglers}?lookback=-1d`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'lookback given twice',
    request: get(`${stragglers}?lookback=1d&lookback=2d`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'from beyond year 9999',
    request: get('/api/v1/keys/acme?from=99999999999999999999', read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'from not a time',
    request: get(`/api/v1/keys/acme?from=${CANARY}`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'from after to',
    request: get('/api/v1/keys/acme?from=2000&to=1000', read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'window over 3650 days',
    request: get('/api/v1/keys/acme?from=0&to=253402300799999', read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'unknown query parameter',
    request: get(`/api/v1/findings?${CANARY}=1`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'audit flag not a boolean',
    request: get('/api/v1/keys/acme/versions/v1/readiness?audit=maybe', read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'incidents listed with an unknown parameter',
    request: get(`/api/v1/incidents?${CANARY}=1`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'incident id not inc_…',
    request: get(`/api/v1/incidents/${CANARY}.x/report`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'read token opening an incident',
    request: withBody('POST', '/api/v1/incidents', read + json, `{"note":"${CANARY}"}`),
    status: 403,
    code: 'KS_FORBIDDEN',
  },
  {
    name: 'incident opened with an unknown field',
    request: withBody(
      'POST',
      '/api/v1/incidents',
      admin + json,
      '{"key_id":"acme","version":"v1","reason":"leaked","extra":1}',
    ),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'silences listed with an unknown parameter',
    request: get(`/api/v1/silences?${CANARY}=1`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'silences: expired not a boolean',
    request: get(`/api/v1/silences?expired=${CANARY}`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'key list with a parameter',
    request: get(`/api/v1/keys?${CANARY}=1`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'alerts with a parameter',
    request: get(`/api/v1/alerts?${CANARY}=1`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'lifecycle log with a parameter',
    request: get(`/api/v1/lifecycle?${CANARY}=1`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'asked_by over 256 characters',
    request: get(`/api/v1/keys/acme/versions/v1/readiness?asked_by=${CANARY}${'a'.repeat(300)}`, read),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'silence id with a key in it and a forbidden character',
    request: `DELETE /api/v1/silences/${CANARY}.x HTTP/1.1\r\n${admin}`,
    status: 404,
    code: 'KS_NOT_FOUND',
  },
  // Times beyond what the store holds (2299-12-31)
  {
    name: 'lifecycle time of 2^53-1 ms',
    request: withBody(
      'POST',
      '/api/v1/lifecycle',
      admin + json,
      '{"key_id":"acme","version":"v9","action":"create","time":9007199254740991}',
    ),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'lifecycle expires_at in year 9999',
    request: withBody(
      'POST',
      '/api/v1/lifecycle',
      admin + json,
      '{"key_id":"acme","version":"v9","action":"create","expires_at":"9999-12-31T00:00:00Z"}',
    ),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'silence starting in year 285 000',
    request: withBody(
      'POST',
      '/api/v1/silences',
      admin + json,
      '{"matchers":{"key":["acme"]},"starts_at":9007199254740000,"duration":"2h","created_by":"a","comment":"b"}',
    ),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'silence duration outside the grammar',
    request: withBody(
      'POST',
      '/api/v1/silences',
      admin + json,
      '{"matchers":{"key":["acme"]},"duration":"forever","created_by":"a","comment":"b"}',
    ),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  {
    name: 'silence duration of 10^400 days',
    request: withBody(
      'POST',
      '/api/v1/silences',
      admin + json,
      `{"matchers":{"key":["acme"]},"duration":"1${'0'.repeat(40)}d","created_by":"a","comment":"b"}`,
    ),
    status: 400,
    code: 'KS_VALIDATION_FAILED',
  },
  { name: 'unknown key', request: get('/api/v1/keys/no-such-key', read), status: 404, code: 'KS_NOT_FOUND' },
  {
    name: 'silence id with forbidden characters',
    request: `DELETE /api/v1/silences/a.b HTTP/1.1\r\n${admin}`,
    status: 404,
    code: 'KS_NOT_FOUND',
  },
]

interface Response {
  status: number
  headers: Record<string, string>
  body: string
}

/** Sends raw bytes, reads one HTTP/1.1 response (Content-Length framed, or to close). */
function send(port: number, request: string): Promise<Response> {
  const head = request.indexOf('\r\n')
  // Host and Connection go right after the request line (when there is one).
  const text =
    head === -1
      ? request
      : `${request.slice(0, head + 2)}Host: 127.0.0.1\r\nConnection: close\r\n${request.slice(head + 2)}${
          request.includes('\r\n\r\n') ? '' : '\r\n'
        }`
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1')
    let buf = Buffer.alloc(0)
    let done = false
    const finish = () => {
      if (done) return
      const raw = buf.toString('latin1')
      const end = raw.indexOf('\r\n\r\n')
      if (end === -1) return
      const lines = raw.slice(0, end).split('\r\n')
      const headers: Record<string, string> = {}
      for (const l of lines.slice(1)) {
        const i = l.indexOf(':')
        headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim()
      }
      const status = Number(lines[0]!.split(' ')[1])
      const body = buf.subarray(Buffer.byteLength(raw.slice(0, end + 4), 'latin1'))
      const length = Number(headers['content-length'] ?? Number.NaN)
      const isHead = text.startsWith('HEAD ')
      if (!isHead && Number.isFinite(length) && body.length < length) return
      done = true
      socket.destroy()
      resolve({ status, headers, body: body.toString('utf8') })
    }
    socket.on('data', (d) => {
      buf = Buffer.concat([buf, d])
      finish()
    })
    socket.on('close', () => {
      finish()
      if (!done) reject(new Error(`connection closed without a response: ${buf.toString('latin1')}`))
    })
    // The server may answer (and close) before it reads the whole request.
    socket.on('error', () => {})
    socket.write(text)
  })
}

let app: App
let port: number
const logLines: string[] = []
const answers: Response[] = []

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-hostile-'))
  const sink = new Writable({
    write(chunk, _enc, cb) {
      logLines.push(...String(chunk).split('\n').filter(Boolean))
      cb()
    },
  })
  app = await createApp(
    parseConfig({
      instance: 'hostile-http',
      data_dir: join(dir, 'data'),
      http: { port: 0, admin_tokens: [ADMIN], read_tokens: [READ] },
      secrets: { pepper: 'hostile-pepper-0123456789abcdef' },
      log: { level: 'trace' },
    }),
    { logger: createLogger({ level: 'trace', destination: sink }) },
  )
  await app.start()
  port = Number(new URL(app.url()!).port)
  // Every row is sent once, in order; the tests below judge the answers and the log.
  for (const row of ROWS)
    answers.push(await send(port, typeof row.request === 'function' ? row.request() : row.request))
})

afterAll(async () => {
  await app?.stop()
})

/** What a row got: status, problem code (null without a body) and Allow, in the row's own shape. */
function observed(r: Response) {
  let code: string | null = null
  let shape = 'no body'
  if (r.body !== '') {
    try {
      const p = JSON.parse(r.body) as { code?: string; status?: number; type?: string }
      code = p.code ?? null
      shape =
        r.headers['content-type'] === 'application/problem+json; charset=utf-8' &&
        p.status === r.status &&
        p.type === `https://keyshift.dev/errors/${p.code}`
          ? 'problem'
          : `not a problem: ${r.headers['content-type']} ${r.body.slice(0, 120)}`
    } catch {
      shape = `not JSON: ${r.body.slice(0, 120)}`
    }
  }
  return { status: r.status, code, shape, ...(r.headers.allow ? { allow: r.headers.allow } : {}) }
}

describe('hostile HTTP requests', () => {
  it(`answers each of the ${ROWS.length} rows with its exact status and problem code`, () => {
    expect(ROWS.map((row, i) => ({ name: row.name, ...observed(answers[i]!) }))).toEqual(
      ROWS.map((r) => ({
        name: r.name,
        status: r.status,
        code: r.code,
        shape: r.code === null ? 'no body' : 'problem',
        ...(r.allow ? { allow: r.allow } : {}),
      })),
    )
  })

  it('echoes nothing planted in the request', () => {
    expect(ROWS.filter((_, i) => answers[i]!.body.includes('CANARY')).map((r) => r.name)).toEqual([])
  })

  it('documents every code in the table in docs/errors.md with its status', () => {
    const undocumented = ROWS.filter(
      (r) => r.code !== null && !DOC.includes(`| \`${r.code}\` | ${r.status} |`),
    )
    expect(undocumented.map((r) => `${r.code} ${r.status}`)).toEqual([])
  })

  it('logs none of them at error level, with a stack, or with the canary', () => {
    const bad = logLines.filter((l) => {
      const level = (JSON.parse(l) as { level: string }).level
      return level === 'error' || level === 'fatal' || l.includes('"stack"') || l.includes('CANARY')
    })
    expect(bad).toEqual([])
  })

  it('still serves normal requests afterwards', async () => {
    const r = await send(port, get('/healthz'))
    expect(r.status).toBe(200)
    expect(JSON.parse(r.body)).toEqual({ status: 'ok' })
    // No row stored anything that breaks a listing (a far-future silence once did).
    const silences = await send(port, get('/api/v1/silences?expired=true', read))
    expect({ status: silences.status, body: JSON.parse(silences.body) }).toEqual({
      status: 200,
      body: { silences: [], next_cursor: null },
    })
    const lifecycle = await send(port, get('/api/v1/lifecycle', read))
    expect({ status: lifecycle.status, body: JSON.parse(lifecycle.body) }).toEqual({
      status: 200,
      body: { events: [], next_cursor: null },
    })
  })
})
