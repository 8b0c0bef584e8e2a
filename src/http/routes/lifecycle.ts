// POST /api/v1/lifecycle (admin): record a lifecycle event; GET lists the log.
// A raw `secret` may be posted so keyshift can compute the fingerprint; it is
// fingerprinted at once and never stored, logged or echoed.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { KeyRegistry } from '../../registry/key-registry.ts'
import { lifecycleInputSchema, parseLifecycle } from '../../registry/lifecycle-input.ts'
import { keyVersionSchema, lifecycleEventSchema } from '../api-schemas.ts'
import type { TokenAuth } from '../auth.ts'
import type { RouteDoc } from '../openapi.ts'
import { nextCursorSchema, pageQueryShape, paginate, sortableNumber } from '../pagination.ts'
import { parseParams } from '../params.ts'
import { problemFromError } from '../problems.ts'

const lifecycleQuery = z.object({ ...pageQueryShape }).strict()

export const lifecycleRouteDocs: RouteDoc[] = [
  {
    method: 'POST',
    path: '/api/v1/lifecycle',
    operationId: 'recordLifecycleEvent',
    summary: 'Record a lifecycle event (create, activate, deprecate, deactivate, reactivate)',
    description:
      'A raw `secret` may be posted: it is fingerprinted at once and never stored, logged or echoed.',
    tags: ['lifecycle'],
    auth: 'admin',
    body: lifecycleInputSchema,
    ok: {
      status: 201,
      description: 'the event as recorded and the version it changed',
      schema: z.object({ recorded: lifecycleEventSchema, version: keyVersionSchema.nullable() }),
    },
    problems: [413, 415],
  },
  {
    method: 'GET',
    path: '/api/v1/lifecycle',
    operationId: 'listLifecycleEvents',
    summary: 'The lifecycle log, oldest first',
    tags: ['lifecycle'],
    auth: 'read',
    query: lifecycleQuery,
    ok: {
      status: 200,
      description: 'a page of lifecycle events',
      schema: z.object({ events: z.array(lifecycleEventSchema), next_cursor: nextCursorSchema }),
    },
  },
]

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
      const version = opts.keys.version(ev.keyId, ev.version) ?? null
      return reply.code(201).send({ recorded: { ...ev }, version })
    })
    app.get('/api/v1/lifecycle', { onRequest: opts.auth.require('read') }, async (req) => {
      const q = parseParams(lifecycleQuery, req.query, 'query')
      const page = paginate(
        opts.keys.events(),
        (e) => `${sortableNumber(e.time)}\u0000${JSON.stringify(e)}`,
        q,
      )
      return { events: page.items, next_cursor: page.next_cursor }
    })
  }
}
