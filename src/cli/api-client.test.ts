import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiRequestError, callApi, callApiAll, displayUrl } from './api-client.ts'

let server: Server
let base = ''
const seen: { method?: string; auth?: string; body: string }[] = []

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = ''
    req.on('data', (d) => {
      body += d
    })
    req.on('end', () => {
      seen.push({ method: req.method, auth: req.headers.authorization, body })
      if (req.url === '/ok') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"verdict":"ready"}')
      } else if (req.url?.startsWith('/list')) {
        // Three pages: cursor c1, then c2, then the end.
        const cursor = new URL(req.url, 'http://x').searchParams.get('cursor')
        const page =
          cursor === null
            ? { items: [1, 2], next_cursor: 'c1' }
            : cursor === 'c1'
              ? { items: [3, 4], next_cursor: 'c2' }
              : { items: [5], next_cursor: null }
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(page))
      } else if (req.url === '/html') {
        res.writeHead(200, { 'content-type': 'text/html' }).end('<html></html>')
      } else {
        res
          .writeHead(401, { 'content-type': 'application/problem+json' })
          .end('{"code":"KS_UNAUTHORIZED","detail":"a read token is required"}')
      }
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(() => new Promise<void>((r) => server.close(() => r())))

async function failure(p: Promise<unknown>): Promise<ApiRequestError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(err).toBeInstanceOf(ApiRequestError)
  return err as ApiRequestError
}

describe('callApi', () => {
  it('returns the JSON body and sends the bearer token and JSON body', async () => {
    expect(await callApi(base, '/ok', { token: 't0k', method: 'POST', body: { a: 1 } })).toEqual({
      verdict: 'ready',
    })
    expect(seen.at(-1)).toEqual({ method: 'POST', auth: 'Bearer t0k', body: '{"a":1}' })
  })

  it('names the URL, the status and the problem code of a refused request', async () => {
    const err = await failure(callApi(base, '/denied?asked_by=ci'))
    expect(err.message).toBe(
      `keyshift at ${base}/denied answered 401 KS_UNAUTHORIZED: a read token is required`,
    )
    expect(err.status).toBe(401)
  })

  it('names the URL and the cause when nothing answers', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const port = (closed.address() as AddressInfo).port
    await new Promise<void>((r) => closed.close(() => r()))
    const err = await failure(callApi(`http://127.0.0.1:${port}`, '/api/v1/keys'))
    expect(err.message).toBe(`cannot reach keyshift at http://127.0.0.1:${port}/api/v1/keys: ECONNREFUSED`)
    expect(err.status).toBeNull()
  })

  it('refuses a --url that is not a URL, and a 200 that is not JSON', async () => {
    expect((await failure(callApi('keyshift.internal', '/x'))).message).toBe(
      '--url "keyshift.internal" is not a URL (e.g. http://127.0.0.1:8080)',
    )
    expect((await failure(callApi(base, '/html'))).message).toBe(`keyshift at ${base}/html answered no JSON`)
  })

  it('never shows credentials or the query of a URL', () => {
    expect(displayUrl(new URL('https://ci:s3cret@keyshift.internal/api/v1/keys?token=abc'))).toBe(
      'https://keyshift.internal/api/v1/keys',
    )
  })
})

describe('callApiAll', () => {
  it('follows next_cursor until the last page', async () => {
    expect(await callApiAll<number>(base, '/list?limit=2', 'items')).toEqual([1, 2, 3, 4, 5])
  })
})
