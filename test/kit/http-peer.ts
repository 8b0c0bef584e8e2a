// A loopback HTTP server whose answers tests control: healthy, failing with a
// given status (for the first N requests, or until told otherwise), or hanging
// without an answer. The webhook and Slack receivers are built on it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

export interface FailureAnswer {
  status: number
  /** Retry-After header value: seconds, or an HTTP date. */
  retryAfter?: string | number | undefined
  body?: string | undefined
}

export interface PeerControl {
  /** While down, every request is answered with the failure (default 503). */
  setDown(down: boolean, answer?: Partial<FailureAnswer>): void
  /** While hanging, requests get no answer at all (client timeouts). */
  setHang(hang: boolean): void
  /** Answers the next `count` requests with the failure, then recovers. */
  failNext(count: number, answer?: Partial<FailureAnswer>): void
}

export interface RawRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: string
}

export interface HttpPeer extends PeerControl {
  url: string
  close(): Promise<void>
}

export interface HttpPeerOptions {
  /** Requests answered with the failure answer before the peer starts behaving. */
  failFirst?: number | undefined
  /** Failure status; default 503. */
  status?: number | undefined
  retryAfter?: string | number | undefined
}

/**
 * Starts a server on 127.0.0.1:0. `handle` sees every request the failure and
 * hang modes let through and returns the answer; `onRequest` sees every request.
 */
export async function startHttpPeer(
  opts: HttpPeerOptions,
  hooks: {
    onRequest?: (req: RawRequest) => void
    handle: (req: RawRequest) => FailureAnswer
    onFailureAnswer?: (req: RawRequest, answer: FailureAnswer) => void
    onHang?: (req: RawRequest) => void
  },
): Promise<HttpPeer> {
  let failing = opts.failFirst ?? 0
  let down = false
  let hang = false
  let failure: FailureAnswer = { status: opts.status ?? 503, retryAfter: opts.retryAfter }
  const sockets = new Set<Socket>()

  const send = (res: ServerResponse, a: FailureAnswer) => {
    const headers: Record<string, string> = { 'content-type': 'text/plain; charset=utf-8' }
    if (a.retryAfter !== undefined) headers['retry-after'] = String(a.retryAfter)
    res.writeHead(a.status, headers)
    res.end(a.body ?? '')
  }

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const headers: Record<string, string> = {}
      for (const [k, v] of Object.entries(req.headers)) {
        if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v
      }
      const raw: RawRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }
      hooks.onRequest?.(raw)
      if (hang) {
        hooks.onHang?.(raw)
        return // no answer; close() destroys the socket
      }
      if (down || failing > 0) {
        if (failing > 0) failing--
        // Like many real servers' error pages, the default answer echoes the request
        // path: notifiers must scrub URL tokens from quoted answers.
        const a = {
          ...failure,
          body: failure.body ?? `simulated failure ${failure.status} for ${raw.method} ${raw.path}`,
        }
        hooks.onFailureAnswer?.(raw, a)
        send(res, a)
        return
      }
      send(res, hooks.handle(raw))
    })
  })
  server.on('connection', (s: Socket) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  const merge = (answer?: Partial<FailureAnswer>) => {
    failure = {
      status: answer?.status ?? opts.status ?? 503,
      retryAfter: answer?.retryAfter,
      body: answer?.body,
    }
  }

  return {
    url: `http://127.0.0.1:${port}`,
    setDown(d, answer) {
      down = d
      if (d) merge(answer)
    },
    setHang(h) {
      hang = h
    },
    failNext(count, answer) {
      failing = count
      merge(answer)
    },
    async close() {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** A TCP port on 127.0.0.1 that nothing listens on (connection refused). */
export async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Resolves once `predicate` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function waitUntil(
  predicate: () => boolean,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
