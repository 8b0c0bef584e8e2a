// Every route keyshift serves, documented: the health and metrics endpoints, the
// status page, and the /api/v1 route modules. The app serves the OpenAPI document
// built from this list; `npm run openapi` writes it to docs/openapi.json.
import { z } from 'zod'
import { PACKAGE_VERSION } from '../shared/package-version.ts'
import { buildOpenApi, type RouteDoc } from './openapi.ts'
import { incidentRouteDocs } from './routes/incidents.ts'
import { lifecycleRouteDocs } from './routes/lifecycle.ts'
import { rotationRouteDocs } from './routes/rotation.ts'
import { silenceRouteDocs } from './routes/silences.ts'
import { usageRouteDocs } from './routes/usage.ts'
import { STATUS_PAGE_ASSETS } from './status-page/routes.ts'

const readyz = z.object({
  status: z.enum(['ready', 'not_ready']),
  checks: z.array(z.object({ name: z.string(), ok: z.boolean(), detail: z.string().optional() })),
})

export const SERVER_ROUTE_DOCS: RouteDoc[] = [
  {
    method: 'GET',
    path: '/healthz',
    operationId: 'healthz',
    summary: 'Liveness: the process serves HTTP',
    tags: ['operations'],
    auth: 'none',
    ok: { status: 200, description: 'alive', schema: z.object({ status: z.literal('ok') }) },
  },
  {
    method: 'GET',
    path: '/readyz',
    operationId: 'readyz',
    summary: 'Readiness: the store answers and every source consumes (503 with the failing checks otherwise)',
    tags: ['operations'],
    auth: 'none',
    ok: { status: 200, description: 'ready', schema: readyz },
  },
  {
    method: 'GET',
    path: '/metrics',
    operationId: 'metrics',
    summary: 'Prometheus metrics (text exposition format)',
    tags: ['operations'],
    auth: 'none',
    ok: { status: 200, description: 'metrics', contentType: 'text/plain; version=0.0.4' },
  },
  {
    method: 'GET',
    path: '/api/v1/openapi.json',
    operationId: 'openapi',
    summary: 'This document',
    tags: ['operations'],
    auth: 'none',
    ok: { status: 200, description: 'the OpenAPI 3.1 document', contentType: 'application/json' },
  },
]

const STATUS_PAGE_DOCS: RouteDoc[] = STATUS_PAGE_ASSETS.map((a) => ({
  method: 'GET',
  path: a.path,
  operationId: `statusPage${a.file.replace(/[^A-Za-z]/g, '')}`,
  summary: a.path === '/' ? 'The status page' : `Status page asset ${a.file}`,
  tags: ['status page'],
  auth: 'none',
  ok: { status: 200, description: a.file, contentType: a.contentType.split(';')[0]! },
}))

export const ROUTE_DOCS: readonly RouteDoc[] = [
  ...SERVER_ROUTE_DOCS,
  ...STATUS_PAGE_DOCS,
  ...rotationRouteDocs,
  ...lifecycleRouteDocs,
  ...silenceRouteDocs,
  ...incidentRouteDocs,
  ...usageRouteDocs,
]

export function openApiDocument() {
  return buildOpenApi(ROUTE_DOCS, PACKAGE_VERSION)
}
