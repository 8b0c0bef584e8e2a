// Silences and open alerts. GET /api/v1/silences (read) lists silences that
// have not ended (`?expired=true` adds those ended within 7 days); POST
// (admin) creates one; DELETE /api/v1/silences/:id (admin) ends one now.
// GET /api/v1/alerts (read) lists pending and firing alerts with their
// silences. Every instance answers from the store; the leader applies new
// silences at its next evaluation.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import { type AlertView, listOpenAlerts } from '../../alerting/alert-view.ts'
import { isSilenceActive, newSilence, silenceInputSchema } from '../../alerting/pipeline/silence.ts'
import type { Silence } from '../../alerting/pipeline/types.ts'
import type { AlertPipelineStore } from '../../alerting/pipeline.ts'
import type { EvaluationRound } from '../../evaluation/evaluator.ts'
import type { AlertStore } from '../../store/clickhouse/alert-store.ts'
import { alertViewSchema, silenceViewSchema } from '../api-schemas.ts'
import type { TokenAuth } from '../auth.ts'
import type { RouteDoc } from '../openapi.ts'
import { nextCursorSchema, pageQueryShape, paginate, sortableNumber } from '../pagination.ts'
import { parseParams } from '../params.ts'
import { problemFromError, sendProblem } from '../problems.ts'

export interface SilenceRoutesOptions {
  auth: TokenAuth
  silences: Pick<AlertStore, 'listSilences' | 'saveSilence' | 'expireSilence'> &
    Pick<AlertPipelineStore, 'loadAlertStates' | 'silences'>
  clock?: () => number
  /** Silence ids; default `sil_<uuid>`. */
  newId?: () => string
  /** This instance's last evaluation round (null while it does not evaluate): shown with the alerts. */
  evaluation?: () => EvaluationRound | null
}

/** What the last evaluation round on the answering instance cost; null when it does not evaluate (not the leader). */
const evaluationRoundSchema = z
  .object({
    at: z.string().describe('when the round started (ISO 8601)'),
    duration_ms: z.number().describe('how long it took: store reads, analysis and the alert pipeline'),
    keys_read: z
      .number()
      .int()
      .describe('keys whose findings it read from the store (the others kept theirs)'),
    keys_total: z.number().int().describe('keys it covered'),
    readiness_read: z.number().int().describe('readiness verdicts it read (the others kept theirs)'),
    readiness_candidates: z.number().int().describe('versions whose deactivation readiness is watched'),
  })
  .nullable()

export interface SilenceView {
  id: string
  state: 'active' | 'pending' | 'expired'
  matchers: Silence['matchers']
  starts_at: string
  ends_at: string
  created_by: string
  comment: string
  created_at: string
  updated_at: string
}

const EXPIRED_SHOWN_MS = 7 * 86_400_000
const listQuery = z
  .object({
    expired: z
      .enum(['true', 'false', '1', '0'])
      .optional()
      .describe('also list silences that ended within the last 7 days'),
    ...pageQueryShape,
  })
  .strict()
const alertsQuery = z.object({ ...pageQueryShape }).strict()
const silencePath = z.object({ id: z.string().min(1).max(256).describe('silence id (sil_…)') })

export const silenceRouteDocs: RouteDoc[] = [
  {
    method: 'GET',
    path: '/api/v1/silences',
    operationId: 'listSilences',
    summary: 'Silences that have not ended, by start time',
    tags: ['alerts'],
    auth: 'read',
    query: listQuery,
    ok: {
      status: 200,
      description: 'a page of silences',
      schema: z.object({ silences: z.array(silenceViewSchema), next_cursor: nextCursorSchema }),
    },
  },
  {
    method: 'POST',
    path: '/api/v1/silences',
    operationId: 'createSilence',
    summary: 'Mute matching alerts for a while (ends_at or duration)',
    tags: ['alerts'],
    auth: 'admin',
    body: silenceInputSchema,
    ok: { status: 201, description: 'the silence', schema: z.object({ silence: silenceViewSchema }) },
    problems: [413, 415],
  },
  {
    method: 'DELETE',
    path: '/api/v1/silences/:id',
    operationId: 'expireSilence',
    summary: 'End a silence now',
    tags: ['alerts'],
    auth: 'admin',
    params: silencePath,
    ok: { status: 200, description: 'the ended silence', schema: z.object({ silence: silenceViewSchema }) },
    problems: [404],
  },
  {
    method: 'GET',
    path: '/api/v1/alerts',
    operationId: 'listAlerts',
    summary: 'Pending and firing alerts with the silences that mute them',
    tags: ['alerts'],
    auth: 'read',
    query: alertsQuery,
    ok: {
      status: 200,
      description: 'a page of open alerts',
      schema: z.object({
        alerts: z.array(alertViewSchema),
        next_cursor: nextCursorSchema,
        evaluation: evaluationRoundSchema,
      }),
    },
  },
]
const iso = (t: number) => new Date(t).toISOString()

export function toSilenceView(s: Silence, now: number): SilenceView {
  return {
    id: s.id,
    state: isSilenceActive(s, now) ? 'active' : s.startsAt > now ? 'pending' : 'expired',
    matchers: s.matchers,
    starts_at: iso(s.startsAt),
    ends_at: iso(s.endsAt),
    created_by: s.createdBy,
    comment: s.comment,
    created_at: iso(s.createdAt),
    updated_at: iso(s.updatedAt),
  }
}

export function silenceRoutes(opts: SilenceRoutesOptions) {
  const clock = opts.clock ?? Date.now
  const newId = opts.newId ?? (() => `sil_${randomUUID()}`)
  return async function plugin(app: FastifyInstance) {
    app.setErrorHandler((err, _req, reply) => problemFromError(reply, err))

    app.get('/api/v1/silences', { onRequest: opts.auth.require('read') }, async (req) => {
      const q = parseParams(listQuery, req.query, 'query')
      const now = clock()
      const expired = q.expired === 'true' || q.expired === '1'
      const list = await opts.silences.listSilences({
        now,
        ...(expired ? { includeExpiredSince: now - EXPIRED_SHOWN_MS } : {}),
      })
      const page = paginate(list, (x) => `${sortableNumber(x.startsAt)}\u0000${x.id}`, q)
      return { silences: page.items.map((x) => toSilenceView(x, now)), next_cursor: page.next_cursor }
    })

    app.post('/api/v1/silences', { onRequest: opts.auth.require('admin') }, async (req, reply) => {
      const now = clock()
      const s = newSilence(req.body, now, newId())
      await opts.silences.saveSilence(s)
      req.log.info(
        { silenceId: s.id, matchers: s.matchers, endsAt: iso(s.endsAt), createdBy: s.createdBy },
        'Silence created.',
      )
      return reply.code(201).send({ silence: toSilenceView(s, now) })
    })

    app.delete<{ Params: { id: string } }>(
      '/api/v1/silences/:id',
      { onRequest: opts.auth.require('admin') },
      async (req, reply) => {
        if (!/^[A-Za-z0-9_-]{1,128}$/.test(req.params.id)) {
          // Not echoed: the id is whatever the client put in the path.
          return sendProblem(reply, 'KS_NOT_FOUND', 'no silence with that id (ids are sil_… as listed)')
        }
        const now = clock()
        const s = await opts.silences.expireSilence(req.params.id, now)
        req.log.info({ silenceId: s.id }, 'Silence expired.')
        return { silence: toSilenceView(s, now) }
      },
    )

    app.get('/api/v1/alerts', { onRequest: opts.auth.require('read') }, async (req) => {
      const q = parseParams(alertsQuery, req.query, 'query')
      const alerts: AlertView[] = await listOpenAlerts(opts.silences, clock())
      const page = paginate(alerts, (a) => `${a.id}\u0000${a.channel}`, q)
      const r = opts.evaluation?.() ?? null
      const evaluation = r && {
        at: iso(r.at),
        duration_ms: Math.round(r.durationMs),
        keys_read: r.keysTouched,
        keys_total: r.keysTotal,
        readiness_read: r.readinessRead,
        readiness_candidates: r.readinessCandidates,
      }
      return { alerts: page.items, next_cursor: page.next_cursor, evaluation }
    })
  }
}
