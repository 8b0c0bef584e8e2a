// The OpenAPI document: valid OpenAPI 3.1, the same as docs/openapi.json, and
// built from the schemas the routes validate with (a request the schema refuses,
// the route refuses).
import { readFileSync } from 'node:fs'
import { validate } from '@readme/openapi-parser'
import { describe, expect, it } from 'vitest'
import { openApiDocument, ROUTE_DOCS } from './api-docs.ts'

describe('the OpenAPI document', () => {
  const doc = openApiDocument()

  it('is valid OpenAPI 3.1', async () => {
    const r = await validate(structuredClone(doc) as never)
    expect(r.valid ? [] : r.errors).toEqual([])
    expect(doc.openapi).toBe('3.1.0')
  })

  it('is what docs/openapi.json holds (run npm run openapi after changing a route)', () => {
    const file = JSON.parse(readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'))
    expect(file).toEqual(JSON.parse(JSON.stringify(doc)))
  })

  it('has one operation per documented route, each with a unique operationId', () => {
    const ops = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    )
    expect(ops).toHaveLength(ROUTE_DOCS.length)
    expect(new Set(ROUTE_DOCS.map((d) => d.operationId)).size).toBe(ROUTE_DOCS.length)
  })

  it('documents paging, path parameters, bodies and problem answers as the routes take them', () => {
    const keys = doc.paths['/api/v1/keys']!.get as {
      parameters: { name: string; in: string; required: boolean; schema: { maximum?: number } }[]
      responses: Record<string, unknown>
    }
    expect(keys.parameters.map((p) => [p.name, p.in, p.required, p.schema.maximum])).toEqual([
      ['order', 'query', false, undefined],
      ['contains', 'query', false, undefined],
      ['limit', 'query', false, 1000],
      ['cursor', 'query', false, undefined],
    ])
    expect(Object.keys(keys.responses)).toEqual(['200', '400', '401', '403', '500', '503'])
    const stragglers = doc.paths['/api/v1/keys/{keyId}/versions/{version}/stragglers']!.get as {
      parameters: { name: string; in: string; required: boolean }[]
    }
    expect(stragglers.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['keyId', 'path', true],
      ['version', 'path', true],
      ['lookback', 'query', false],
    ])
    const silence = doc.paths['/api/v1/silences']!.post as {
      requestBody: { content: { 'application/json': { schema: { required: string[] } } } }
    }
    expect(silence.requestBody.content['application/json'].schema.required).toEqual([
      'matchers',
      'created_by',
      'comment',
    ])
    expect((doc.paths['/healthz']!.get as { security: unknown[] }).security).toEqual([])
  })
})
