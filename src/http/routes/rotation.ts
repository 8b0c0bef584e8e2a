// /api/v1 read routes for rotations: keys, one key with its versions and
// shares, stragglers, findings and readiness verdicts. Thin: validation and
// shaping only; the answers come from RotationService.
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { ValidationError } from '../../domain/errors.ts'
import type { RotationService } from '../../rotation/rotation-service.ts'
import { durationSchema } from '../../shared/duration.ts'
import type { TokenAuth } from '../auth.ts'
import { problemFromError } from '../problems.ts'

const idParam = z.string().min(1).max(256)
const isoOrMs = z.union([z.coerce.number().int().nonnegative(), z.string().datetime({ offset: true })])
const toMs = (v: number | string) => (typeof v === 'number' ? v : Date.parse(v))

function parse<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value)
  if (!r.success) {
    throw new ValidationError(
      `${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}`,
    )
  }
  return r.data
}

export function rotationRoutes(opts: { rotation: RotationService; auth: TokenAuth; clock: () => number }) {
  const { rotation, auth, clock } = opts
  return async function plugin(app: FastifyInstance) {
    const read = { preHandler: auth.require('read') }
    app.setErrorHandler((err, _req, reply) => problemFromError(reply, err))

    app.get('/api/v1/keys', read, async () => {
      const now = clock()
      const keys = await rotation.listKeys(now)
      return { now, keys }
    })

    app.get('/api/v1/keys/:keyId', read, async (req) => {
      const { keyId } = parse(z.object({ keyId: idParam }), req.params, 'path')
      const q = parse(
        z.object({ from: isoOrMs.optional(), to: isoOrMs.optional() }).strict(),
        req.query,
        'query',
      )
      const now = clock()
      const custom =
        q.from !== undefined ? { from: toMs(q.from), to: q.to !== undefined ? toMs(q.to) : now } : undefined
      if (custom && !(custom.from < custom.to)) throw new ValidationError('query: from must be before to')
      return rotation.keyDetail(keyId, now, custom)
    })

    app.get('/api/v1/keys/:keyId/versions/:version/stragglers', read, async (req) => {
      const p = parse(z.object({ keyId: idParam, version: idParam }), req.params, 'path')
      const q = parse(z.object({ lookback: durationSchema.optional() }).strict(), req.query, 'query')
      const now = clock()
      return {
        keyId: p.keyId,
        version: p.version,
        now,
        ...(await rotation.stragglers(p.keyId, p.version, now, q.lookback)),
      }
    })

    app.get('/api/v1/findings', read, async (req) => {
      const q = parse(z.object({ key: idParam.optional() }).strict(), req.query, 'query')
      const now = clock()
      return { now, findings: await rotation.findings(now, q.key) }
    })

    app.get('/api/v1/keys/:keyId/versions/:version/readiness', read, async (req) => {
      const p = parse(z.object({ keyId: idParam, version: idParam }), req.params, 'path')
      const q = parse(
        z
          .object({
            asked_by: z.string().max(256).optional(),
            // Dashboards that poll (the status page) opt out of the audit log; gates do not.
            audit: z.enum(['true', 'false']).default('true'),
          })
          .strict(),
        req.query,
        'query',
      )
      const now = clock()
      try {
        const v = await rotation.readiness(
          {
            keyId: p.keyId,
            version: p.version,
            askedBy: q.asked_by ?? `api:${req.ip}`,
            via: 'api',
            audit: q.audit === 'true',
          },
          now,
        )
        return { now, ...v }
      } catch (err) {
        // Fail closed: a store error is a verdict of `unknown`, never ready.
        req.log.warn({ err: (err as Error).message }, 'Readiness could not be evaluated; answering unknown.')
        return {
          now,
          keyId: p.keyId,
          version: p.version,
          verdict: 'unknown',
          rules: [],
          ingestLagMs: null,
          error: (err as Error).message,
        }
      }
    })
  }
}
