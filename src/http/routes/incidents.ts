// /api/v1/incidents: open (admin), list, the live view, close and accept
// breakage (admin), and the report. Thin: validation and shaping only; the
// answers come from IncidentService. Free text is scrubbed by the service
// before it is stored or echoed.
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Incident } from '../../domain/incident.ts'
import {
  acceptBreakageSchema,
  closeIncidentSchema,
  incidentIdSchema,
  openIncidentSchema,
  parseAccept,
  parseClose,
  parseOpen,
} from '../../incident/incident-input.ts'
import type { IncidentService } from '../../incident/incident-service.ts'
import { reportMarkdown } from '../../incident/report-markdown.ts'
import { incidentReportSchema, incidentSummarySchema, incidentViewSchema } from '../api-schemas.ts'
import type { TokenAuth } from '../auth.ts'
import type { RouteDoc } from '../openapi.ts'
import { nextCursorSchema, pageQueryShape, paginate } from '../pagination.ts'
import { noQuery, parseParams } from '../params.ts'
import { problemFromError } from '../problems.ts'

/** An incident without its raw step list (GET /incidents/:id/report has the timeline). */
export function incidentSummary(i: Incident) {
  const { events: _events, ...rest } = i
  return rest
}

const idParams = z.object({ id: incidentIdSchema.describe('incident id (inc_…)') })
const listQuery = z
  .object({
    state: z.enum(['open', 'closed']).optional().describe('only open or only closed incidents'),
    key: z.string().min(1).max(256).optional().describe('only this key'),
    ...pageQueryShape,
  })
  .strict()
const reportQuery = z
  .object({ format: z.enum(['json', 'md']).default('json').describe('json, or md for a Markdown report') })
  .strict()

const tags = ['incidents']
const incidentAnswer = z.object({ incident: incidentSummarySchema })
export const incidentRouteDocs: RouteDoc[] = [
  {
    method: 'POST',
    path: '/api/v1/incidents',
    operationId: 'openIncident',
    summary: 'Open an incident for a leaked version (200 with the open one when it already exists)',
    tags,
    auth: 'admin',
    body: openIncidentSchema,
    ok: {
      status: 201,
      description: 'the incident opened (201), or the one already open (200)',
      schema: z.object({ created: z.boolean(), incident: incidentSummarySchema }),
    },
    problems: [404, 409, 413, 415],
  },
  {
    method: 'GET',
    path: '/api/v1/incidents',
    operationId: 'listIncidents',
    summary: 'Incidents, by id',
    tags,
    auth: 'read',
    query: listQuery,
    ok: {
      status: 200,
      description: 'a page of incidents',
      schema: z.object({
        now: z.number().int(),
        incidents: z.array(incidentSummarySchema),
        next_cursor: nextCursorSchema,
      }),
    },
  },
  {
    method: 'GET',
    path: '/api/v1/incidents/:id',
    operationId: 'getIncident',
    summary: 'The live view: known users moved or not, unknown sources, checklist, gate verdict',
    tags,
    auth: 'read',
    params: idParams,
    ok: { status: 200, description: 'the live view', schema: incidentViewSchema },
    problems: [404],
  },
  {
    method: 'POST',
    path: '/api/v1/incidents/:id/close',
    operationId: 'closeIncident',
    summary: 'Close an incident',
    tags,
    auth: 'admin',
    params: idParams,
    body: closeIncidentSchema,
    ok: { status: 200, description: 'the closed incident', schema: incidentAnswer },
    problems: [404, 409, 413, 415],
  },
  {
    method: 'POST',
    path: '/api/v1/incidents/:id/accept-breakage',
    operationId: 'acceptBreakage',
    summary: 'Accept that the listed known users break when the version is deactivated',
    tags,
    auth: 'admin',
    params: idParams,
    body: acceptBreakageSchema,
    ok: { status: 200, description: 'the incident', schema: incidentAnswer },
    problems: [404, 409, 413, 415],
  },
  {
    method: 'GET',
    path: '/api/v1/incidents/:id/report',
    operationId: 'getIncidentReport',
    summary: 'The incident report: timeline, checklist, users, unknown sources (JSON or Markdown)',
    tags,
    auth: 'read',
    params: idParams,
    query: reportQuery,
    ok: { status: 200, description: 'the report', schema: incidentReportSchema },
    problems: [404],
  },
]

export function incidentRoutes(opts: { incidents: IncidentService; auth: TokenAuth; clock: () => number }) {
  const { incidents, auth, clock } = opts
  return async function plugin(app: FastifyInstance) {
    const read = { onRequest: auth.require('read') }
    const admin = { onRequest: auth.require('admin') }
    app.setErrorHandler((err, _req, reply) => problemFromError(reply, err))

    app.post('/api/v1/incidents', admin, async (req, reply) => {
      parseParams(noQuery, req.query, 'query')
      const now = clock()
      const r = await incidents.open(parseOpen(req.body ?? {}, `api:${req.ip}`), 'api', now)
      return reply
        .code(r.created ? 201 : 200)
        .send({ created: r.created, incident: incidentSummary(r.incident) })
    })

    app.get('/api/v1/incidents', read, async (req) => {
      const q = parseParams(listQuery, req.query, 'query')
      const list = await incidents.list({
        ...(q.state ? { state: q.state } : {}),
        ...(q.key ? { keyId: q.key } : {}),
      })
      const page = paginate(list, (i) => i.id, q)
      return { now: clock(), incidents: page.items.map(incidentSummary), next_cursor: page.next_cursor }
    })

    app.get('/api/v1/incidents/:id', read, async (req) => {
      const { id } = parseParams(idParams, req.params, 'path')
      parseParams(noQuery, req.query, 'query')
      return incidents.view(id, clock())
    })

    app.post('/api/v1/incidents/:id/close', admin, async (req) => {
      const { id } = parseParams(idParams, req.params, 'path')
      parseParams(noQuery, req.query, 'query')
      const { incidentId: _ignored, ...r } = parseClose(req.body ?? {}, `api:${req.ip}`)
      return { incident: incidentSummary(await incidents.close(id, r, 'api', clock())) }
    })

    app.post('/api/v1/incidents/:id/accept-breakage', admin, async (req) => {
      const { id } = parseParams(idParams, req.params, 'path')
      parseParams(noQuery, req.query, 'query')
      const { incidentId: _ignored, ...r } = parseAccept(req.body ?? {})
      return { incident: incidentSummary(await incidents.acceptBreakage(id, r, 'api', clock())) }
    })

    app.get('/api/v1/incidents/:id/report', read, async (req, reply) => {
      const { id } = parseParams(idParams, req.params, 'path')
      const q = parseParams(reportQuery, req.query, 'query')
      const report = await incidents.report(id, clock())
      if (q.format === 'md') return reply.type('text/markdown; charset=utf-8').send(reportMarkdown(report))
      return report
    })
  }
}
