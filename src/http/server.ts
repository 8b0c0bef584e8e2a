// The HTTP surface: health, readiness and Prometheus metrics, plus the route
// modules registered by the app (API, status page). Every error, including the
// framework's own (unknown route, wrong method, bad URL, body limits, media
// types, malformed HTTP), leaves as application/problem+json with a code from
// problems.ts; unmatched requests are answered before their body is read.
import type { Socket } from 'node:net'
import Fastify, { LogController } from 'fastify'
import type { InputScrubber } from '../ingest/secrets/input-scrubber.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'
import {
  PROBLEM_CONTENT_TYPE,
  PROBLEMS,
  type ProblemCode,
  problemBody,
  problemFromError,
  sendProblem,
} from './problems.ts'

declare module 'fastify' {
  interface FastifyInstance {
    registeredRoutes(): { method: string; url: string }[]
  }
}

export interface ReadinessCheck {
  name: string
  check(): Promise<{ ok: boolean; detail?: string }>
}

/** Longest request target (path and query) served; longer ones get 414. */
export const MAX_URL_CHARS = 4096
/** Longest path segment (key ids, versions, silence ids are at most 256 characters). */
export const MAX_PARAM_CHARS = 256
/** Default body limit: lifecycle events and silences are a few hundred bytes. */
export const DEFAULT_MAX_BODY_BYTES = 65_536
/** A request must arrive whole within this time (slow-loris bound). */
const REQUEST_TIMEOUT_MS = 30_000

/** Route patterns by method, to tell "no such resource" (404) from "wrong method" (405). */
class RouteTable {
  readonly #routes: { pattern: RegExp; methods: Set<string> }[] = []
  add(url: string, methods: string[]) {
    const source = url
      .split('/')
      .map((seg) =>
        seg.startsWith(':') ? '[^/]+' : seg === '*' ? '.*' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('/')
    const existing = this.#routes.find((r) => r.pattern.source === `^${source}$`)
    if (existing) for (const m of methods) existing.methods.add(m)
    else this.#routes.push({ pattern: new RegExp(`^${source}$`), methods: new Set(methods) })
  }
  /** Methods allowed on `path` (empty: no such resource). */
  allowed(path: string): string[] {
    const methods = new Set<string>()
    for (const r of this.#routes) if (r.pattern.test(path)) for (const m of r.methods) methods.add(m)
    if (methods.size > 0) methods.add('OPTIONS')
    return [...methods].sort()
  }
}

/** Errors Node's HTTP parser raises before Fastify sees a request. */
function clientErrorProblem(code: string | undefined): { code: ProblemCode; detail: string } {
  if (code === 'HPE_HEADER_OVERFLOW')
    return { code: 'KS_HEADERS_TOO_LARGE', detail: 'the request line and headers exceed 16 KiB' }
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT' || code === 'ERR_HTTP_REQUEST_TIMEOUT_HEADERS')
    return { code: 'KS_REQUEST_TIMEOUT', detail: 'the request did not arrive in time' }
  return { code: 'KS_MALFORMED_REQUEST', detail: 'the request could not be parsed as HTTP/1.1' }
}

export function createHttpServer(opts: {
  logger: Logger
  registry: Registry
  checks: ReadinessCheck[]
  maxBodyBytes?: number
  /** Applied to every request's body, query and path parameters before any route sees them. */
  scrubInput?: InputScrubber
}) {
  const log = opts.logger.child({ component: 'http' })
  const app = Fastify({
    loggerInstance: log,
    // Request lines would drown the log at scrape and status-page rates; errors still log.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_CHARS },
    requestTimeout: REQUEST_TIMEOUT_MS,
    // Draining is answered below as a problem, not Fastify's plain 503.
    return503OnClosing: false,
    frameworkErrors: (err, _req, reply) => problemFromError(reply, err),
    clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket) {
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      const p = clientErrorProblem(err.code)
      log.debug({ code: p.code, parserCode: err.code }, 'Rejected a request that is not valid HTTP.')
      if (socket.writable) {
        const body = JSON.stringify(problemBody(p.code, p.detail))
        const status = PROBLEMS[p.code].status
        socket.write(
          `HTTP/1.1 ${status} ${PROBLEMS[p.code].title}\r\nContent-Type: ${PROBLEM_CONTENT_TYPE}\r\n` +
            `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        )
      }
      socket.destroy()
    },
  })
  // Only JSON bodies are accepted anywhere; text/plain would reach handlers as a string.
  app.removeContentTypeParser('text/plain')

  const routes = new RouteTable()
  const registered: { method: string; url: string }[] = []
  app.addHook('onRoute', (r) => {
    const methods = Array.isArray(r.method) ? r.method : [r.method]
    routes.add(r.url, methods)
    for (const method of methods) registered.push({ method, url: r.url })
  })
  // Every route served (HEAD twins of GET routes left out): the OpenAPI test holds it against the document.
  app.decorate('registeredRoutes', () => registered.filter((r) => r.method !== 'HEAD'))
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  // Root onRequest: runs before any route's auth and before the body is read.
  app.addHook('onRequest', async (req, reply) => {
    if (closing) {
      reply.header('connection', 'close')
      return sendProblem(reply, 'KS_SHUTTING_DOWN', 'the server is shutting down; retry on another instance')
    }
    if (req.url.length > MAX_URL_CHARS) {
      return sendProblem(reply, 'KS_URI_TOO_LONG', `the request URL exceeds ${MAX_URL_CHARS} characters`)
    }
    if (req.is404) {
      const path = req.url.split('?', 1)[0]!
      const allowed = routes.allowed(path)
      if (allowed.length === 0) return sendProblem(reply, 'KS_NOT_FOUND', 'no such route')
      reply.header('allow', allowed.join(', '))
      if (req.method === 'OPTIONS') return reply.code(204).send()
      return sendProblem(
        reply,
        'KS_METHOD_NOT_ALLOWED',
        `${req.method} is not allowed here; allowed: ${allowed.join(', ')}`,
      )
    }
  })
  // Bodies are JSON in UTF-8 without a content coding. This runs after every
  // onRequest hook (so after the token check) and before the body is read.
  app.addHook('preParsing', async (req, reply) => {
    const hasBody =
      req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
    if (!hasBody) return
    const coding = req.headers['content-encoding']
    if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') {
      sendProblem(
        reply,
        'KS_UNSUPPORTED_MEDIA_TYPE',
        'send the body without Content-Encoding (no gzip, br or deflate)',
      )
      return
    }
    const charset = /;\s*charset\s*=\s*"?([^";\s]*)/i.exec(req.headers['content-type'] ?? '')?.[1]
    if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
      sendProblem(
        reply,
        'KS_UNSUPPORTED_MEDIA_TYPE',
        'send the body as UTF-8: Content-Type: application/json; charset=utf-8',
      )
    }
  })
  app.setNotFoundHandler((_req, reply) => sendProblem(reply, 'KS_NOT_FOUND', 'no such route'))
  app.setErrorHandler((err, _req, reply) => problemFromError(reply, err))

  const scrub = opts.scrubInput
  if (scrub) {
    // The HTTP edge of "no raw secret is stored, logged, echoed or sent": one hook,
    // so every route (and every future one) only ever sees scrubbed client input.
    app.addHook('preValidation', async (req, reply) => {
      // Bounds apply to what the client sent: a fingerprint is shorter than the key
      // it replaces, so a too-long value must be refused before it is scrubbed. Every
      // query value is bounded by MAX_PARAM_CHARS (path parameters by the router).
      const { cursor, ...query } = (req.query ?? {}) as Record<string, unknown>
      for (const [name, value] of Object.entries(query)) {
        const values = Array.isArray(value) ? value : [value]
        if (values.some((v) => typeof v === 'string' && v.length > MAX_PARAM_CHARS)) {
          return sendProblem(
            reply,
            'KS_VALIDATION_FAILED',
            `query: ${scrub(name)}: at most ${MAX_PARAM_CHARS} characters`,
          )
        }
      }
      if (req.body !== undefined) req.body = scrub(req.body)
      // ?cursor= is the API's own opaque page token (high-entropy base64, so the
      // scrubber would take it for a key). It is only decoded and compared, never
      // stored, logged or echoed, and its schema bounds it (src/http/pagination.ts).
      req.query = { ...(scrub(query) as object), ...(cursor === undefined ? {} : { cursor }) }
      req.params = scrub(req.params)
    })
  }

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const results = await Promise.all(
      opts.checks.map(async (c) => {
        try {
          return { name: c.name, ...(await c.check()) }
        } catch (err) {
          return { name: c.name, ok: false, detail: (err as Error).message }
        }
      }),
    )
    const ok = results.every((r) => r.ok)
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ready' : 'not_ready', checks: results })
  })
  app.get('/metrics', async (_req, reply) => {
    const body = await opts.registry.metrics()
    return reply.type(opts.registry.contentType).send(body)
  })
  return app
}

export type HttpServer = ReturnType<typeof createHttpServer>
