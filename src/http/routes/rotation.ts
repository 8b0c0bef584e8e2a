// /api/v1 read routes for rotations: keys, one key with its versions and
// shares, stragglers, findings and readiness verdicts. Thin: validation and
// shaping only; the answers come from RotationService.
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { ValidationError } from '../../domain/errors.ts'
import type { OpenAlertOfKey } from '../../rotation/key-attention.ts'
import type { RotationService, VerdictRequest } from '../../rotation/rotation-service.ts'
import { durationUpTo } from '../../shared/duration.ts'
import { instantParamSchema, instantToMs } from '../../shared/instant.ts'
import {
  findingSchema,
  keyDetailSchema,
  keyListEntrySchema,
  placeStatusSchema,
  readinessSchema,
  stragglerReportSchema,
} from '../api-schemas.ts'
import type { TokenAuth } from '../auth.ts'
import type { RouteDoc } from '../openapi.ts'
import { decodeCursor, encodeCursor, nextCursorSchema, pageQueryShape, paginate } from '../pagination.ts'
import { noQuery, parseParams } from '../params.ts'
import { problemFromError } from '../problems.ts'

const idParam = z.string().min(1).max(256)
/** Longest lookback or custom window accepted: the longest retention the store can hold. */
export const MAX_WINDOW_MS = 3_650 * 86_400_000
const lookbackParam = durationUpTo(MAX_WINDOW_MS)

const keyPath = z.object({ keyId: idParam.describe('key id') })
const versionPath = z.object({
  keyId: idParam.describe('key id'),
  version: idParam.describe('version label'),
})
const keysQuery = z
  .object({
    order: z
      .enum(['key', 'attention'])
      .default('key')
      .describe(
        'key: by key id (default); attention: keys that need a person first (critical, warning, info, then the rest), each by key id',
      ),
    contains: z
      .string()
      .min(1)
      .max(256)
      .optional()
      .describe('only keys whose id contains this text (case-insensitive)'),
    ...pageQueryShape,
  })
  .strict()
/** Most keys one findings request may name (`?keys=`): one page of the status page, with room. */
const MAX_FINDINGS_KEYS = 100
const keyDetailQuery = z
  .object({
    from: instantParamSchema.optional().describe('start of a custom share window (epoch ms or RFC 3339)'),
    to: instantParamSchema.optional().describe('end of the custom window (default now)'),
  })
  .strict()
const stragglersQuery = z
  .object({ lookback: lookbackParam.optional().describe('how far back, e.g. 6h, 24h (default), 7d') })
  .strict()
const findingsQuery = z
  .object({
    key: idParam.optional().describe('only this key'),
    keys: z
      .string()
      .min(1)
      .max(MAX_FINDINGS_KEYS * 257)
      .transform((s) => [...new Set(s.split(','))])
      .refine(
        (ks) => ks.every((k) => k.length >= 1 && k.length <= 256),
        'key ids of 1–256 characters, comma-separated',
      )
      .refine((ks) => ks.length <= MAX_FINDINGS_KEYS, `at most ${MAX_FINDINGS_KEYS} keys`)
      .optional()
      .describe(
        `only these keys, comma-separated (at most ${MAX_FINDINGS_KEYS}); \`unknown\` adds unknown-key surges`,
      ),
    ...pageQueryShape,
  })
  .strict()
  .refine((q) => q.key === undefined || q.keys === undefined, 'key and keys: give one of them, not both')
const readinessQuery = z
  .object({
    asked_by: z.string().max(256).optional().describe('who asks, for the audit log (default api:<address>)'),
    // Dashboards that poll (the status page) opt out of the audit log; gates do not.
    audit: z.enum(['true', 'false']).default('true').describe('record the verdict in the audit log'),
  })
  .strict()

const tags = ['rotation']
export const rotationRouteDocs: RouteDoc[] = [
  {
    method: 'GET',
    path: '/api/v1/keys',
    operationId: 'listKeys',
    summary: 'Keys registered or seen in the last 24 h, by key id or needs-attention first',
    tags,
    auth: 'read',
    query: keysQuery,
    ok: {
      status: 200,
      description: 'a page of keys',
      schema: z.object({
        now: z.number().int(),
        keys: z.array(keyListEntrySchema),
        next_cursor: nextCursorSchema,
        total: z.number().int().describe('keys matching (?contains=), over all pages'),
        attention: z
          .object({ critical: z.number().int(), warning: z.number().int(), info: z.number().int() })
          .describe('keys matching, over all pages, by the level of what needs attention'),
      }),
    },
  },
  {
    method: 'GET',
    path: '/api/v1/keys/:keyId',
    operationId: 'getKey',
    summary: 'One key: versions, shares over 5 min, 1 h, 24 h (and from..to), hourly series, trends',
    tags,
    auth: 'read',
    params: keyPath,
    query: keyDetailQuery,
    ok: { status: 200, description: 'the key', schema: keyDetailSchema },
  },
  {
    method: 'GET',
    path: '/api/v1/keys/:keyId/versions/:version/stragglers',
    operationId: 'getStragglers',
    summary: 'Clients still on a version, and clients that moved off it',
    tags,
    auth: 'read',
    params: versionPath,
    query: stragglersQuery,
    ok: { status: 200, description: 'stragglers and moved clients', schema: stragglerReportSchema },
  },
  {
    method: 'GET',
    path: '/api/v1/findings',
    operationId: 'listFindings',
    summary: 'Open rotation findings, by finding id',
    tags,
    auth: 'read',
    query: findingsQuery,
    ok: {
      status: 200,
      description: 'a page of findings',
      schema: z.object({
        now: z.number().int(),
        findings: z.array(findingSchema),
        next_cursor: nextCursorSchema,
      }),
    },
  },
  {
    method: 'GET',
    path: '/api/v1/places',
    operationId: 'listPlaces',
    summary: 'Every gateway and source heard from within the readiness lookback, silent ones first',
    description: 'A place silent longer than its bound makes the verdicts of the keys it carried unknown.',
    tags,
    auth: 'read',
    query: noQuery,
    ok: {
      status: 200,
      description: 'the places',
      schema: z.object({ now: z.number().int(), places: z.array(placeStatusSchema) }),
    },
  },
  {
    method: 'GET',
    path: '/api/v1/keys/:keyId/versions/:version/readiness',
    operationId: 'getReadiness',
    summary: 'May this version be deactivated now? ready, not_ready or unknown, rule by rule',
    description: 'Fails closed: when the store cannot answer, the verdict is unknown with the error.',
    tags,
    auth: 'read',
    params: versionPath,
    query: readinessQuery,
    ok: { status: 200, description: 'the verdict', schema: readinessSchema },
  },
]

export function rotationRoutes(opts: {
  rotation: RotationService
  auth: TokenAuth
  clock: () => number
  /** The gate's verdict (IncidentService.verdict: incident rules while an incident is open); default rotation.readiness. */
  verdict?: (req: VerdictRequest, now: number) => Promise<object>
  /** Open alerts (GET /api/v1/alerts), for each key's attention in the key list; default none. */
  openAlerts?: (now: number) => Promise<readonly OpenAlertOfKey[]>
}) {
  const { rotation, auth, clock } = opts
  const verdict = opts.verdict ?? ((req: VerdictRequest, now: number) => rotation.readiness(req, now))
  const openAlerts = opts.openAlerts ?? (async () => [])
  return async function plugin(app: FastifyInstance) {
    const read = { onRequest: auth.require('read') }
    app.setErrorHandler((err, _req, reply) => problemFromError(reply, err))

    app.get('/api/v1/keys', read, async (req) => {
      const q = parseParams(keysQuery, req.query, 'query')
      const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor)
      const now = clock()
      const page = await rotation.keyListPage(now, openAlerts(now), {
        order: q.order,
        contains: q.contains,
        limit: q.limit,
        after,
      })
      return {
        now,
        keys: page.keys,
        next_cursor: page.more && page.lastSortKey !== null ? encodeCursor(page.lastSortKey) : null,
        total: page.total,
        attention: page.attention,
      }
    })

    app.get('/api/v1/keys/:keyId', read, async (req) => {
      const { keyId } = parseParams(keyPath, req.params, 'path')
      const q = parseParams(keyDetailQuery, req.query, 'query')
      const now = clock()
      const custom =
        q.from !== undefined
          ? { from: instantToMs(q.from), to: q.to !== undefined ? instantToMs(q.to) : now }
          : undefined
      if (custom && !(custom.from < custom.to)) throw new ValidationError('query: from must be before to')
      if (custom && custom.to - custom.from > MAX_WINDOW_MS)
        throw new ValidationError('query: from..to spans more than 3650 days; narrow the window')
      return rotation.keyDetail(keyId, now, custom)
    })

    app.get('/api/v1/keys/:keyId/versions/:version/stragglers', read, async (req) => {
      const p = parseParams(versionPath, req.params, 'path')
      const q = parseParams(stragglersQuery, req.query, 'query')
      const now = clock()
      return {
        keyId: p.keyId,
        version: p.version,
        now,
        ...(await rotation.stragglers(p.keyId, p.version, now, q.lookback)),
      }
    })

    app.get('/api/v1/findings', read, async (req) => {
      const q = parseParams(findingsQuery, req.query, 'query')
      const now = clock()
      const page = paginate(await rotation.findings(now, q.keys ?? q.key), (f) => f.id, q)
      return { now, findings: page.items, next_cursor: page.next_cursor }
    })

    // Every gateway and source heard from within the readiness lookback, silent ones first.
    app.get('/api/v1/places', read, async (req) => {
      parseParams(noQuery, req.query, 'query')
      const now = clock()
      return { now, places: await rotation.places(now) }
    })

    app.get('/api/v1/keys/:keyId/versions/:version/readiness', read, async (req) => {
      const p = parseParams(versionPath, req.params, 'path')
      const q = parseParams(readinessQuery, req.query, 'query')
      const now = clock()
      try {
        const v = await verdict(
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
