// The HTTP surface: health, readiness and Prometheus metrics, plus the route
// modules registered by the app (API, status page). Fastify validates and logs.
import Fastify, { LogController } from 'fastify'
import type { InputScrubber } from '../ingest/secrets/input-scrubber.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'

export interface ReadinessCheck {
  name: string
  check(): Promise<{ ok: boolean; detail?: string }>
}

export function createHttpServer(opts: {
  logger: Logger
  registry: Registry
  checks: ReadinessCheck[]
  /** Applied to every request's body, query and path parameters before any route sees them. */
  scrubInput?: InputScrubber
}) {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'http' }),
    // Request lines would drown the log at scrape and status-page rates; errors still log.
    logController: new LogController({ disableRequestLogging: true }),
  })
  const scrub = opts.scrubInput
  if (scrub) {
    // The HTTP edge of "no raw secret is stored, logged, echoed or sent": one hook,
    // so every route (and every future one) only ever sees scrubbed client input.
    app.addHook('preValidation', async (req) => {
      if (req.body !== undefined) req.body = scrub(req.body)
      req.query = scrub(req.query)
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
