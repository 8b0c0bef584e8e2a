// The HTTP surface: health, readiness and Prometheus metrics, plus the route
// modules registered by the app (API, status page). Fastify validates and logs.
import Fastify, { LogController } from 'fastify'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'

export interface ReadinessCheck {
  name: string
  check(): Promise<{ ok: boolean; detail?: string }>
}

export function createHttpServer(opts: { logger: Logger; registry: Registry; checks: ReadinessCheck[] }) {
  const app = Fastify({
    loggerInstance: opts.logger.child({ component: 'http' }),
    // Request lines would drown the log at scrape and status-page rates; errors still log.
    logController: new LogController({ disableRequestLogging: true }),
  })
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
