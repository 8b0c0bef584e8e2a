// /api/v1/incidents: open (admin), list, the live view, close and accept
// breakage (admin), and the report. Thin: validation and shaping only; the
// answers come from IncidentService. Free text is scrubbed by the service
// before it is stored or echoed.
import type { FastifyInstance } from 'fastify'
import { z } from 'zod'
import type { Incident } from '../../domain/incident.ts'
import { incidentIdSchema, parseAccept, parseClose, parseOpen } from '../../incident/incident-input.ts'
import type { IncidentService } from '../../incident/incident-service.ts'
import { reportMarkdown } from '../../incident/report-markdown.ts'
import type { TokenAuth } from '../auth.ts'
import { noQuery, parseParams } from '../params.ts'
import { problemFromError } from '../problems.ts'

/** An incident without its raw step list (GET /incidents/:id/report has the timeline). */
export function incidentSummary(i: Incident) {
  const { events: _events, ...rest } = i
  return rest
}

const idParams = z.object({ id: incidentIdSchema })

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
      const q = parseParams(
        z
          .object({
            state: z.enum(['open', 'closed']).optional(),
            key: z.string().min(1).max(256).optional(),
          })
          .strict(),
        req.query,
        'query',
      )
      const list = await incidents.list({
        ...(q.state ? { state: q.state } : {}),
        ...(q.key ? { keyId: q.key } : {}),
      })
      return { now: clock(), incidents: list.map(incidentSummary) }
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
      const q = parseParams(
        z.object({ format: z.enum(['json', 'md']).default('json') }).strict(),
        req.query,
        'query',
      )
      const report = await incidents.report(id, clock())
      if (q.format === 'md') return reply.type('text/markdown; charset=utf-8').send(reportMarkdown(report))
      return report
    })
  }
}
