// GET /api/v1/keys/:keyId/usage-bands (read): the usage-anomaly watch's scored
// 5-minute buckets of one key — observed requests, failure ratio and new source
// addresses against the band the detector expected — for the status page's chart
// (Grafana reads the same table). Thin: validation and shaping only.
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { UsageBandPoint } from '../../analysis/usage-anomaly.ts'
import { durationUpTo } from '../../shared/duration.ts'
import type { TokenAuth } from '../auth.ts'
import type { RouteDoc } from '../openapi.ts'
import { parseParams } from '../params.ts'
import { problemFromError } from '../problems.ts'

const MAX_LOOKBACK_MS = 8 * 86_400_000
const path = z.object({ keyId: z.string().min(1).max(256).describe('key id') })
const query = z
  .object({
    lookback: durationUpTo(MAX_LOOKBACK_MS).optional().describe('how far back, e.g. 6h, 24h (default), 7d'),
    version: z.string().max(64).optional().describe("one version's series (default: the key's total)"),
  })
  .strict()

const bandPoint = z.object({
  metric: z.enum(['requests', 'failure_ratio', 'new_sources']),
  bucket: z.number().int().describe('start of the 5-minute bucket, epoch milliseconds'),
  observed: z.number(),
  expected: z.number(),
  lower: z.number(),
  upper: z.number(),
  score: z.number().min(0).max(1),
})

export const usageRouteDocs: RouteDoc[] = [
  {
    method: 'GET',
    path: '/api/v1/keys/:keyId/usage-bands',
    operationId: 'getUsageBands',
    summary:
      "A key's requests, failure ratio and new source addresses per 5 min against the band its own pattern expects",
    tags: ['analysis'],
    auth: 'read',
    params: path,
    query,
    ok: {
      status: 200,
      description: 'scored buckets, by metric then time (empty until the watch has scored any)',
      schema: z.object({
        keyId: z.string(),
        version: z.string(),
        from: z.number().int(),
        to: z.number().int(),
        points: z.array(bandPoint),
      }),
    },
  },
]

export function usageRoutes(opts: {
  bands: { read(keyId: string, version: string, from: number, to: number): Promise<UsageBandPoint[]> }
  auth: TokenAuth
  clock: () => number
}) {
  return async function plugin(app: FastifyInstance) {
    app.setErrorHandler((err, _req, reply) => problemFromError(reply, err))
    app.get('/api/v1/keys/:keyId/usage-bands', { onRequest: opts.auth.require('read') }, async (req) => {
      const { keyId } = parseParams(path, req.params, 'path')
      const q = parseParams(query, req.query, 'query')
      const to = opts.clock()
      const from = to - (q.lookback ?? 86_400_000)
      const version = q.version ?? ''
      const points = await opts.bands.read(keyId, version, from, to)
      return {
        keyId,
        version,
        from,
        to,
        points: points.map(({ metric, bucket, observed, expected, lower, upper, score }) => ({
          metric,
          bucket,
          observed,
          expected,
          lower,
          upper,
          score,
        })),
      }
    })
  }
}
