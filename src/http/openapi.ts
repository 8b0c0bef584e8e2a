// The HTTP API's contract: every route module describes its routes as RouteDocs
// built from the zod schemas the route validates requests with (and those of
// src/http/api-schemas.ts for its answers). buildOpenApi turns them into the
// OpenAPI 3.1 document served at /api/v1/openapi.json and kept in
// docs/openapi.json; the contract test checks that every registered route is in
// it and that every documented answer is what the route sends.
import { z } from 'zod'
import { problemSchema } from './api-schemas.ts'
import { PROBLEMS } from './problems.ts'

export type HttpMethod = 'GET' | 'POST' | 'DELETE'

export interface RouteDoc {
  method: HttpMethod
  /** Fastify syntax: `/api/v1/keys/:keyId`. */
  path: string
  operationId: string
  summary: string
  description?: string
  tags: string[]
  /** Which bearer token the route needs when tokens are configured. */
  auth: 'none' | 'read' | 'admin'
  params?: z.ZodObject
  query?: z.ZodObject
  body?: z.ZodType
  ok: {
    status: number
    description: string
    /** JSON answer; absent for non-JSON content (contentType). */
    schema?: z.ZodType
    contentType?: string
  }
  /** Problem statuses the route answers beyond those every route may (400, 401, 403, 5xx). */
  problems?: number[]
}

const toJson = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', reused: 'inline' })
  return rest
}

const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')

function parameters(doc: RouteDoc) {
  const out: Record<string, unknown>[] = []
  for (const [where, schema] of [
    ['path', doc.params],
    ['query', doc.query],
  ] as const) {
    if (!schema) continue
    for (const [name, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
      const json = toJson(field, 'input') as { description?: string }
      const { description, ...fieldSchema } = json
      out.push({
        name,
        in: where,
        required: where === 'path' || !field.safeParse(undefined).success,
        ...(description ? { description } : {}),
        schema: fieldSchema,
      })
    }
  }
  return out
}

const PROBLEM_REF = { $ref: '#/components/schemas/Problem' }
const statusTitle = (status: number) =>
  Object.values(PROBLEMS)
    .filter((p) => p.status === status)
    .map((p) => p.title)
    .join('; ')

function responses(doc: RouteDoc) {
  const out: Record<string, unknown> = {
    [doc.ok.status]: {
      description: doc.ok.description,
      content: {
        [doc.ok.contentType ?? 'application/json']: doc.ok.schema
          ? { schema: toJson(doc.ok.schema, 'output') }
          : { schema: { type: 'string' } },
      },
    },
  }
  const problems = new Set([400, 500, 503, ...(doc.problems ?? [])])
  if (doc.auth !== 'none') {
    problems.add(401)
    problems.add(403)
  }
  for (const status of [...problems].sort()) {
    out[status] = {
      description: statusTitle(status),
      content: { 'application/problem+json': { schema: PROBLEM_REF } },
    }
  }
  return out
}

export function buildOpenApi(docs: readonly RouteDoc[], version: string) {
  const paths: Record<string, Record<string, unknown>> = {}
  for (const d of [...docs].sort(
    (a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method),
  )) {
    const key = openApiPath(d.path)
    paths[key] ??= {}
    const p = paths[key]
    p[d.method.toLowerCase()] = {
      operationId: d.operationId,
      summary: d.summary,
      ...(d.description ? { description: d.description } : {}),
      tags: d.tags,
      ...(d.auth === 'none' ? { security: [] } : { 'x-keyshift-token': d.auth }),
      ...(d.params || d.query ? { parameters: parameters(d) } : {}),
      ...(d.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: toJson(d.body, 'input') } },
            },
          }
        : {}),
      responses: responses(d),
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'keyshift HTTP API',
      version,
      description:
        'Key rotation state: traffic share per key version, stragglers, findings, readiness verdicts, ' +
        'lifecycle events, silences and alerts. Every error is application/problem+json (RFC 9457) ' +
        'with a stable code (docs/errors.md). Lists are paginated with ?limit= and ?cursor=.',
      license: { name: 'Apache-2.0', identifier: 'Apache-2.0' },
    },
    jsonSchemaDialect: 'https://spec.openapi.org/oas/3.1/dialect/base',
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A read token (http.read_tokens) for GET routes, an admin token (http.admin_tokens) for ' +
            'writes. Without configured tokens the API is open, on loopback only.',
        },
      },
      schemas: { Problem: toJson(problemSchema, 'output') },
    },
  }
}
