// The HTTP API against its OpenAPI document, on the real app (embedded ClickHouse,
// the ingest pipeline, the registry): every route served is documented and every
// documented route is served; each answers with the documented status, content
// type and body (parsed with the very schema the document was generated from, no
// undocumented top-level field); lists page with ?limit= and ?cursor=.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { openApiDocument, ROUTE_DOCS } from '../../src/http/api-docs.ts'
import type { RouteDoc } from '../../src/http/openapi.ts'
import { parseLifecycle } from '../../src/registry/lifecycle-input.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'

const MIN = 60_000
const HOUR = 3_600_000
const NOW = Date.now()
const dir = mkdtempSync(join(tmpdir(), 'ks-api-contract-'))
let app: App
let base = ''

const LIFECYCLE = [
  ...['acme', 'beta', 'gamma'].flatMap((k) => [
    { key_id: k, version: 'v1', action: 'create', time: NOW - 48 * HOUR },
    { key_id: k, version: 'v1', action: 'activate', time: NOW - 48 * HOUR + MIN },
  ]),
  { key_id: 'acme', version: 'v2', action: 'create', time: NOW - 3 * HOUR },
  { key_id: 'acme', version: 'v2', action: 'activate', time: NOW - 2 * HOUR },
  { key_id: 'acme', version: 'v1', action: 'deprecate', time: NOW - HOUR },
]

beforeAll(async () => {
  app = await createApp(
    parseConfig({
      instance: 'api-contract',
      data_dir: join(dir, 'data'),
      log: { level: 'silent' },
      http: { port: 0 },
      secrets: { pepper: 'api-contract-pepper-0123456789' },
    }),
    { logger: silentLogger() },
  )
  await app.start()
  base = app.url()!
  await app.keys.record(
    LIFECYCLE.map((doc, i) =>
      parseLifecycle(doc, {
        now: NOW,
        fingerprint: app.fingerprint,
        origin: 'test',
        defaultEventId: `lc-${i}`,
      }),
    ),
  )
  app.registerDecoder('test:seed', {
    preset: 'canonical',
    secret_fields: [],
    max_record_bytes: 65_536,
    max_future_skew_ms: 300_000,
  })
  const events = Array.from({ length: 60 }, (_, i) => ({
    eventId: `contract-${i}`,
    time: NOW - 2 * MIN - (i % 30) * MIN,
    keyId: i < 40 ? 'acme' : 'beta',
    keyVersion: i < 15 ? 'v1' : i < 40 ? 'v2' : 'v1',
    status: i % 10 === 0 ? 401 : 200,
    clientId: `client-${i % 4}`,
    sourceAddress: '192.0.2.10',
    userAgent: 'contract/1',
    method: 'GET',
    route: '/v1/things',
    gateway: 'gw-1',
    latencyMs: 5,
  }))
  await app.pipeline.submit(
    'test:seed',
    0,
    events.map((e, i) => ({
      value: Buffer.from(JSON.stringify(e)),
      partition: 0,
      offset: BigInt(i),
      nextOffset: BigInt(i + 1),
    })),
  )
  await app.pipeline.drain()
})

afterAll(async () => {
  await app?.stop()
  rmSync(dir, { recursive: true, force: true })
})

const PARAMS: Record<string, string> = { keyId: 'acme', version: 'v1' }
const urlOf = (d: RouteDoc, params: Record<string, string>) =>
  `${base}${d.path.replace(/:([A-Za-z]+)/g, (_, name: string) => encodeURIComponent(params[name] ?? ''))}`

const BODIES: Record<string, unknown> = {
  createSilence: {
    matchers: { key: ['acme'] },
    duration: '2h',
    created_by: 'contract-test',
    comment: 'maintenance window',
  },
  recordLifecycleEvent: { key_id: 'gamma', version: 'v2', action: 'create', actor: 'contract-test' },
  openIncident: { key_id: 'acme', version: 'v1', reason: 'leaked', note: 'pasted in a public gist' },
  acceptBreakage: { actor: 'contract-test', why: 'the batch job is retired next week' },
  closeIncident: { actor: 'contract-test', note: 'rotated' },
}

/** Writes first (an incident and a silence for the routes that read them), the incident closed last but one. */
const ORDER = [
  'openIncident',
  'createSilence',
  'recordLifecycleEvent',
  'acceptBreakage',
  'closeIncident',
  'expireSilence',
]
const rank = (d: RouteDoc) => {
  const i = ORDER.indexOf(d.operationId)
  return i === -1 ? (d.method === 'GET' ? 4.5 : 99) : i
}

/** Parses `body` with the documented schema; top-level fields must all be documented. */
function expectDocumented(d: RouteDoc, body: unknown) {
  const schema = d.ok.schema!
  const r = schema.safeParse(body)
  expect(r.success ? [] : r.error.issues, `${d.operationId} body`).toEqual([])
  if (schema instanceof z.ZodObject) {
    const documented = Object.keys(schema.shape)
    const extra = Object.keys(body as object).filter((k) => !documented.includes(k))
    expect(extra, `${d.operationId}: fields the document does not name`).toEqual([])
  }
}

describe('the HTTP API and its OpenAPI document', () => {
  it('serves exactly the documented routes', () => {
    const served = app
      .http!.registeredRoutes()
      .map((r) => `${r.method} ${r.url}`)
      .sort()
    expect(served).toEqual(ROUTE_DOCS.map((d) => `${d.method} ${d.path}`).sort())
  })

  it('serves the document at /api/v1/openapi.json', async () => {
    const res = await fetch(`${base}/api/v1/openapi.json`)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual(JSON.parse(JSON.stringify(openApiDocument())))
  })

  it('answers every documented route as documented', async () => {
    const checked: string[] = []
    const params = { ...PARAMS }
    const ids = { silence: '', incident: '' }
    for (const d of [...ROUTE_DOCS].sort((a, b) => rank(a) - rank(b))) {
      const body = BODIES[d.operationId]
      params.id = d.path.startsWith('/api/v1/incidents') ? ids.incident : ids.silence
      const res = await fetch(urlOf(d, params), {
        method: d.method,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      })
      expect(res.status, `${d.method} ${d.path}`).toBe(d.ok.status)
      const type = res.headers.get('content-type') ?? ''
      expect(type.split(';')[0], `${d.method} ${d.path} content type`).toBe(
        (d.ok.contentType ?? 'application/json').split(';')[0],
      )
      if (d.ok.schema) {
        const json = await res.json()
        expectDocumented(d, json)
        if (d.operationId === 'createSilence') ids.silence = (json as { silence: { id: string } }).silence.id
        if (d.operationId === 'openIncident')
          ids.incident = (json as { incident: { id: string } }).incident.id
      } else {
        await res.arrayBuffer()
      }
      checked.push(d.operationId)
    }
    expect(checked).toHaveLength(ROUTE_DOCS.length)
  })

  it('pages every list with ?limit= and ?cursor=, each item once', async () => {
    const all = (await (await fetch(`${base}/api/v1/lifecycle?limit=1000`)).json()) as {
      events: unknown[]
      next_cursor: string | null
    }
    expect(all.next_cursor).toBeNull()
    const paged: unknown[] = []
    let cursor: string | null = null
    let pages = 0
    do {
      const q: string = cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`
      const page = (await (await fetch(`${base}/api/v1/lifecycle?limit=4${q}`)).json()) as typeof all
      paged.push(...page.events)
      cursor = page.next_cursor
      pages++
    } while (cursor !== null)
    expect(paged).toEqual(all.events)
    expect(pages).toBe(Math.ceil(all.events.length / 4))

    const first = (await (await fetch(`${base}/api/v1/keys?limit=2`)).json()) as {
      keys: { keyId: string }[]
      next_cursor: string | null
    }
    expect(first.keys.map((k) => k.keyId)).toEqual(['acme', 'beta'])
    const second = (await (
      await fetch(`${base}/api/v1/keys?limit=2&cursor=${encodeURIComponent(first.next_cursor!)}`)
    ).json()) as typeof first
    expect(second).toMatchObject({ keys: [{ keyId: 'gamma' }], next_cursor: null })

    const bad = await fetch(`${base}/api/v1/keys?cursor=nonsense`)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { detail: string }).detail).toBe(
      'query: cursor: not a cursor this API issued; start again without ?cursor=',
    )
    expect((await fetch(`${base}/api/v1/keys?limit=1001`)).status).toBe(400)
  })

  it('lists keys that need attention first, finds keys by part of their id, and reads findings of a few keys', async () => {
    type KeyPage = {
      keys: { keyId: string; attention: { level: string | null; reasons: string[] } }[]
      next_cursor: string | null
      total: number
      attention: { critical: number; warning: number; info: number }
    }
    const keys = async (q: string) => (await (await fetch(`${base}/api/v1/keys?${q}`)).json()) as KeyPage
    // acme is mid-rotation (v1 deprecated, v2 active): at least info; the id order would put it first anyway,
    // so ask from the other end: beta and gamma come after it only in attention order.
    const byAttention = await keys('order=attention&limit=1')
    expect(byAttention.keys.map((k) => k.keyId)).toEqual(['acme'])
    expect(byAttention.keys[0]!.attention.reasons).toContain('rotation in progress: v1 not yet deactivated')
    expect(byAttention.total).toBe(3)
    const rest = await keys(`order=attention&cursor=${encodeURIComponent(byAttention.next_cursor!)}`)
    expect(rest.keys.map((k) => k.keyId).sort()).toEqual(['beta', 'gamma'])
    expect(rest.next_cursor).toBeNull()
    const counted = [...byAttention.keys, ...rest.keys].filter((k) => k.attention.level !== null).length
    expect(byAttention.attention.critical + byAttention.attention.warning + byAttention.attention.info).toBe(
      counted,
    )

    expect((await keys('contains=CM')).keys.map((k) => k.keyId)).toEqual(['acme'])
    expect(await keys('contains=e')).toMatchObject({ total: 2, keys: [{ keyId: 'acme' }, { keyId: 'beta' }] })
    expect(await keys('contains=zzz')).toMatchObject({ total: 0, keys: [], next_cursor: null })
    expect((await fetch(`${base}/api/v1/keys?order=size`)).status).toBe(400)

    type Findings = { findings: { keyId: string }[] }
    const read = async (q: string) => (await (await fetch(`${base}/api/v1/findings${q}`)).json()) as Findings
    // Findings slide with the clock's minute: compare reads taken while every key's findings stood still.
    let before: Findings
    let some: Findings
    let after: Findings
    let tries = 0
    do {
      before = await read('')
      some = await read('?keys=acme,beta')
      after = await read('')
    } while (JSON.stringify(before.findings) !== JSON.stringify(after.findings) && ++tries < 5)
    expect(after.findings).toEqual(before.findings)
    expect(some.findings).toEqual(before.findings.filter((f) => f.keyId === 'acme' || f.keyId === 'beta'))
    const both = await fetch(`${base}/api/v1/findings?key=acme&keys=acme,beta`)
    expect(both.status).toBe(400)
    expect(((await both.json()) as { detail: string }).detail).toContain('give one of them, not both')
    const many = Array.from({ length: 101 }, (_, i) => `k${i}`).join(',')
    expect((await fetch(`${base}/api/v1/findings?keys=${many}`)).status).toBe(400)
  })
})
