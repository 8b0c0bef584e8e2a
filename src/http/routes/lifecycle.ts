// POST /api/v1/lifecycle (admin): record a lifecycle event; GET lists the log.
// A raw `secret` may be posted so keyshift can compute the fingerprint; it is
// fingerprinted at once and never stored, logged or echoed.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import type { KeyRegistry } from '../../registry/key-registry.ts'
import { parseLifecycle } from '../../registry/lifecycle-input.ts'
import type { TokenAuth } from '../auth.ts'
import { noQuery, parseParams } from '../params.ts'
import { problemFromError } from '../problems.ts'

export function lifecycleRoutes(opts: {
  keys: KeyRegistry
  auth: TokenAuth
  fingerprint: (material: string) => string
  clock: () => number
}) {
  return async function plugin(app: FastifyInstance) {
    app.setErrorHandler((err, _req, reply) => problemFromError(reply, err))
    app.post('/api/v1/lifecycle', { onRequest: opts.auth.require('admin') }, async (req, reply) => {
      const ev = parseLifecycle(req.body, {
        now: opts.clock(),
        fingerprint: opts.fingerprint,
        origin: 'api',
        defaultEventId: `api:${randomUUID()}`,
      })
      await opts.keys.record([ev])
      const version = opts.keys.version(ev.keyId, ev.version)
      return reply.code(201).send({ recorded: { ...ev }, version })
    })
    app.get('/api/v1/lifecycle', { onRequest: opts.auth.require('read') }, async (req) => {
      parseParams(noQuery, req.query, 'query')
      return { events: opts.keys.events() }
    })
  }
}
