// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${var} in these strings is Grafana's variable syntax
// The shipped Grafana dashboards and provisioning. Structure: portable JSON
// (data sources only through variables), raw-SQL ClickHouse targets in the
// plugin's shape, Prometheus expressions over metrics keyshift declares.
// Behaviour: every ClickHouse panel, variable and annotation query is expanded
// as Grafana and the plugin would (test/support/grafana-macros.ts) and run
// against the embedded store, migrated and seeded with a small hand-built data
// set; the results are compared column for column and value for value.
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { parseConfig } from '../../src/config/load.ts'
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse/client.ts'
import { migrate } from '../../src/store/clickhouse/migrations.ts'
import {
  type ExpandOptions,
  expandQuery,
  legacyArgumentCapture,
  type Variables,
} from '../support/grafana-macros.ts'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const dashboardDir = path.join(repoRoot, 'grafana/dashboards')
const CH_TYPE = 'grafana-clickhouse-datasource'

// ---------------------------------------------------------------------------
// Dashboard model (the parts the tests read)

interface DsRef {
  type: string
  uid: string
}
interface Target {
  refId: string
  datasource?: DsRef
  editorType?: string
  format?: number
  queryType?: string
  rawSql?: string
  expr?: string
}
interface Panel {
  id: number
  type: string
  title: string
  datasource?: DsRef
  targets?: Target[]
  panels?: Panel[]
}
interface TemplateVar {
  name: string
  type: string
  query: unknown
  datasource?: DsRef
  multi?: boolean
  includeAll?: boolean
}
interface Annotation {
  name: string
  datasource: DsRef
  target: Target
}
interface Dashboard {
  uid: string
  title: string
  schemaVersion: number
  tags: string[]
  panels: Panel[]
  templating: { list: TemplateVar[] }
  annotations: { list: Annotation[] }
}

const files = readdirSync(dashboardDir)
  .filter((f) => f.endsWith('.json'))
  .sort()
const dashboards = new Map<string, Dashboard>(
  files.map((f) => [f, JSON.parse(readFileSync(path.join(dashboardDir, f), 'utf8')) as Dashboard]),
)
const board = (file: string) => dashboards.get(file)!
const allPanels = (panels: Panel[]): Panel[] => panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])])
const chTargets = (p: Panel) => (p.targets ?? []).filter((t) => t.datasource?.type === CH_TYPE)

/** Every `datasource` value anywhere in the document, with its JSON path. */
function datasourceRefs(node: unknown, at = '$'): { at: string; ref: unknown }[] {
  if (Array.isArray(node)) return node.flatMap((v, i) => datasourceRefs(v, `${at}[${i}]`))
  if (node === null || typeof node !== 'object') return []
  return Object.entries(node).flatMap(([k, v]) => [
    ...(k === 'datasource' ? [{ at: `${at}.datasource`, ref: v }] : []),
    ...datasourceRefs(v, `${at}.${k}`),
  ])
}

/** Every ClickHouse SQL text of a dashboard: panel targets, variable queries, annotations. */
function clickhouseQueries(d: Dashboard): { where: string; sql: string }[] {
  return [
    ...allPanels(d.panels).flatMap((p) =>
      chTargets(p).map((t) => ({ where: `panel ${p.id}`, sql: t.rawSql ?? '' })),
    ),
    ...d.templating.list
      .filter((v) => v.type === 'query' && v.datasource?.type === CH_TYPE)
      .map((v) => ({ where: `variable ${v.name}`, sql: (v.query as { rawSql: string }).rawSql })),
    ...d.annotations.list
      .filter((a) => a.datasource.type === CH_TYPE)
      .map((a) => ({ where: `annotation ${a.name}`, sql: a.target.rawSql ?? '' })),
  ]
}

// ---------------------------------------------------------------------------
// Structure

describe('dashboard JSON', () => {
  it('ships the four dashboards with distinct uids, all tagged keyshift', () => {
    expect(files).toEqual([
      'auth-failures.json',
      'pipeline-health.json',
      'rotation-overview.json',
      'stragglers.json',
    ])
    const uids = files.map((f) => board(f).uid)
    expect(new Set(uids).size).toBe(uids.length)
    for (const f of files) {
      expect(board(f).tags, f).toContain('keyshift')
      expect(board(f).schemaVersion, f).toBeGreaterThanOrEqual(39)
    }
  })

  it.each(files)('%s: file-provisionable and portable (no __inputs, no data source ids)', (file) => {
    const raw = readFileSync(path.join(dashboardDir, file), 'utf8')
    const d = board(file)
    expect(d).not.toHaveProperty('__inputs')
    expect(raw).not.toMatch(/"datasourceId"|"uid":\s*"keyshift-(clickhouse|prometheus)"|\$\{DS_/)
    const vars = new Map(d.templating.list.map((v) => [v.name, v]))
    expect(vars.get('datasource')).toMatchObject({ type: 'datasource', query: CH_TYPE })
    for (const { at, ref } of datasourceRefs(d)) {
      // A data source variable itself has no `datasource`; every other reference goes through one.
      expect(ref, at).toBeTypeOf('object')
      const r = ref as DsRef
      if (r.type === CH_TYPE) expect(r.uid, at).toBe('${datasource}')
      else {
        expect(r, at).toEqual({ type: 'prometheus', uid: '${prom}' })
        expect(vars.get('prom'), file).toMatchObject({ type: 'datasource', query: 'prometheus' })
      }
    }
  })

  it.each(files)('%s: unique panel ids; every target in the plugin raw-SQL shape or PromQL', (file) => {
    const panels = allPanels(board(file).panels)
    const ids = panels.map((p) => p.id)
    expect(new Set(ids).size, `${file} panel ids ${ids}`).toBe(ids.length)
    for (const p of panels) {
      expect(p.targets?.length, `${file} panel ${p.id}`).toBeGreaterThan(0)
      for (const t of p.targets ?? []) {
        const where = `${file} panel ${p.id} ${t.refId}`
        expect(t.datasource, where).toEqual(p.datasource)
        if (t.datasource?.type === CH_TYPE) {
          // sqlutil.FormatQueryOption: 0 time series (long to wide), 1 table.
          const timeSeries = p.type === 'timeseries'
          expect(t, where).toMatchObject({
            editorType: 'sql',
            format: timeSeries ? 0 : 1,
            queryType: timeSeries ? 'timeseries' : 'table',
          })
          expect(t.rawSql, where).toMatch(/^SELECT|^WITH/)
        } else {
          expect(t.expr, where).toMatch(/keyshift_/)
        }
      }
      const refIds = (p.targets ?? []).map((t) => t.refId)
      expect(new Set(refIds).size, `${file} panel ${p.id} refIds`).toBe(refIds.length)
    }
  })

  it.each(files)('%s: every variable the queries and titles use is defined', (file) => {
    const d = board(file)
    const defined = new Set(d.templating.list.map((v) => v.name))
    const texts = [
      ...clickhouseQueries(d).map((q) => q.sql),
      ...allPanels(d.panels).flatMap((p) => [p.title, ...(p.targets ?? []).map((t) => t.expr ?? '')]),
    ]
    for (const text of texts) {
      for (const m of text.matchAll(/\$\{(\w+)[^}]*\}|\$(\w+)/g)) {
        const name = (m[1] ?? m[2])!
        if (!name.startsWith('__')) expect(defined, `$${name} in ${file}`).toContain(name)
      }
    }
  })

  it.each(files)('%s: argument-less macros are parenthesised (safe on older plugin versions)', (file) => {
    for (const q of clickhouseQueries(board(file)))
      expect(legacyArgumentCapture(q.sql), `${file} ${q.where}`).toEqual([])
  })

  it('gives the rotation dashboards key and version variables over ClickHouse', () => {
    for (const file of ['rotation-overview.json', 'stragglers.json', 'auth-failures.json']) {
      const vars = board(file).templating.list
      for (const name of ['key', 'version']) {
        expect(
          vars.find((v) => v.name === name),
          `${file} $${name}`,
        ).toMatchObject({
          type: 'query',
          datasource: { type: CH_TYPE, uid: '${datasource}' },
          query: { editorType: 'sql' },
        })
      }
    }
  })
})

// ---------------------------------------------------------------------------
// Prometheus expressions

/** Metric names declared under src/ (prom-client `name: 'keyshift_…'`). */
function declaredMetrics(): Set<string> {
  const walk = (dir: string): string[] =>
    readdirSync(dir).flatMap((name) => {
      const full = path.join(dir, name)
      if (statSync(full).isDirectory()) return walk(full)
      return name.endsWith('.ts') && !name.endsWith('.test.ts') ? [full] : []
    })
  const out = new Set<string>()
  for (const file of walk(path.join(repoRoot, 'src'))) {
    for (const m of readFileSync(file, 'utf8').matchAll(/name:\s*'(keyshift_[a-z0-9_]+)'/g)) out.add(m[1]!)
  }
  return out
}

const promExprs = files.flatMap((file) =>
  allPanels(board(file).panels).flatMap((p) =>
    (p.targets ?? [])
      .filter((t) => t.expr !== undefined)
      .map((t) => ({ where: `${file} panel ${p.id}`, expr: t.expr! })),
  ),
)

describe('Prometheus panels', () => {
  it('query only metrics keyshift declares (histograms through _bucket)', () => {
    const declared = declaredMetrics()
    expect(promExprs.length).toBeGreaterThan(0)
    for (const { where, expr } of promExprs) {
      for (const [name] of expr.matchAll(/\bkeyshift_[a-z0-9_]+/g)) {
        const base = name.replace(/_(bucket|sum|count)$/, '')
        expect(declared.has(name) || (base !== name && declared.has(base)), `${name} (${where})`).toBe(true)
      }
    }
  })

  it('parse as PromQL (promtool check rules over the expressions)', async (ctx) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'keyshift-promql-'))
    try {
      const rules = promExprs.map((e, i) => ({
        record: `keyshift:dashboard_expr_${i}`,
        expr: e.expr.replaceAll('$__rate_interval', '5m'),
      }))
      const file = path.join(dir, 'dashboards.rules.yml')
      writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboards', rules }] }))
      let output: string
      try {
        const r = await promisify(execFile)('promtool', ['check', 'rules', file], { timeout: 60_000 })
        output = r.stdout + r.stderr
      } catch (err) {
        const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string }
        if (e.code === 'ENOENT') return ctx.skip('promtool is not installed')
        throw new Error(`promtool rejected a dashboard expression:\n${e.stdout ?? ''}${e.stderr ?? ''}`)
      }
      expect(output).toContain(`SUCCESS: ${rules.length} rules found`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

// ---------------------------------------------------------------------------
// Provisioning

describe('provisioning', () => {
  const yaml = (p: string) =>
    parseYaml(readFileSync(path.join(repoRoot, p), 'utf8')) as Record<string, unknown>

  it('provisions the ClickHouse plugin over HTTP from environment variables, and Prometheus', () => {
    const doc = yaml('grafana/provisioning/datasources/clickhouse.yaml') as {
      datasources: Record<string, unknown>[]
    }
    expect(doc.datasources).toHaveLength(2)
    expect(doc.datasources[0]).toMatchObject({
      uid: 'keyshift-clickhouse',
      type: CH_TYPE,
      jsonData: {
        host: '${CLICKHOUSE_HOST}',
        port: '${CLICKHOUSE_PORT}',
        protocol: 'http',
        username: '${CLICKHOUSE_USER}',
        defaultDatabase: 'keyshift',
      },
      secureJsonData: { password: '$__file{/run/secrets/clickhouse_password}' },
    })
    expect(doc.datasources[1]).toMatchObject({
      uid: 'keyshift-prometheus',
      type: 'prometheus',
      url: 'http://prometheus:9090',
    })
  })

  it('loads the dashboards folder into the keyshift folder', () => {
    const doc = yaml('grafana/provisioning/dashboards/keyshift.yaml') as {
      providers: Record<string, unknown>[]
    }
    expect(doc.providers).toEqual([
      expect.objectContaining({
        type: 'file',
        folder: 'keyshift',
        options: expect.objectContaining({ path: '/var/lib/grafana/dashboards' }),
      }),
    ])
  })
})

// ---------------------------------------------------------------------------
// Panel SQL against the embedded store

const MIN = 60_000
const HOUR = 3_600_000
// Whole hours, recent enough for every TTL (heartbeats keep 7 days); the dashboard
// range is [H, H + 6 h] and hour n of the data is [H + n h, H + (n + 1) h).
const H = Math.floor(Date.now() / HOUR) * HOUR - 12 * HOUR
const at = (hour: number, minute = 0, second = 0) => H + hour * HOUR + minute * MIN + second * 1000
const RANGE = { from: at(0), to: at(6) }
const iso = (ms: number) => new Date(ms).toISOString()
/** ClickHouse's JSON rendering of DateTime and DateTime64(3) values. */
const dt = (ms: number) => iso(ms).slice(0, 19).replace('T', ' ')
const dt64 = (ms: number) => iso(ms).slice(0, 23).replace('T', ' ')

interface Profile {
  source: string
  ua: string
  gateway: string
  route: string
}
/** Where each client's requests come from; client-b alternates addresses and routes by minute. */
function profile(client: string, version: string, minute: number): Profile {
  const even = minute % 2 === 0
  switch (client) {
    case 'client-a':
      return { source: '10.0.1.1', ua: 'acme-web/2.3', gateway: 'kong-eu', route: '/v1/payments' }
    case 'client-b':
      return version === 'v2'
        ? { source: '10.0.2.1', ua: 'billing-cron/2.0', gateway: 'kong-us', route: '/v1/charges' }
        : {
            source: even ? '10.0.2.1' : '10.0.2.2',
            ua: 'billing-cron/1.4',
            gateway: 'kong-us',
            route: even ? '/v1/charges' : '/v1/refunds',
          }
    case 'client-c':
      return { source: '10.0.3.1', ua: 'acme-mobile/5.0', gateway: 'kong-eu', route: '/v1/payments' }
    case 'client-d':
      return { source: '10.0.4.1', ua: 'reports/1.0', gateway: 'kong-us', route: '/v1/reports' }
    case 'client-x':
      return { source: '10.1.0.1', ua: 'search-indexer/3', gateway: 'nginx-us', route: '/search' }
    case 'client-y':
      return { source: '10.1.0.2', ua: 'search-ui/1', gateway: 'nginx-us', route: '/search' }
    case 'client-z':
      return { source: '10.0.9.9', ua: 'legacy/0.1', gateway: 'kong-eu', route: '/v1/payments' }
    default:
      return { source: '203.0.113.9', ua: 'curl/8.5.0', gateway: 'nginx-us', route: '/v1/payments' }
  }
}

/**
 * acme-payments, 20 requests an hour; within an hour the requests are one a minute
 * from minute 0, in this order. v1's share falls 0.75, 0.65, … 0.25. client-a moves to
 * v2 in hour 3, client-d uses v1 in hours 3–4 and v2 in hour 5, client-b stays on v1
 * (and tries v2 in hour 5), client-c is on v2 throughout.
 */
const ACME: [client: string, version: string, count: number][][] = [
  [
    ['client-a', 'v1', 10],
    ['client-b', 'v1', 5],
    ['client-c', 'v2', 5],
  ],
  [
    ['client-a', 'v1', 8],
    ['client-b', 'v1', 5],
    ['client-c', 'v2', 7],
  ],
  [
    ['client-a', 'v1', 6],
    ['client-b', 'v1', 5],
    ['client-c', 'v2', 9],
  ],
  [
    ['client-b', 'v1', 5],
    ['client-d', 'v1', 4],
    ['client-c', 'v2', 5],
    ['client-a', 'v2', 6],
  ],
  [
    ['client-b', 'v1', 5],
    ['client-d', 'v1', 2],
    ['client-c', 'v2', 5],
    ['client-a', 'v2', 8],
  ],
  [
    ['client-b', 'v1', 5],
    ['client-c', 'v2', 3],
    ['client-b', 'v2', 2],
    ['client-a', 'v2', 5],
    ['client-d', 'v2', 5],
  ],
]
/** Failed acme requests: (hour, minute) → reason and status. */
const ACME_FAILURES = new Map([
  [`4:0`, { reason: 'insufficient_scope', status: 403 }], // client-b, v1
  [`5:15`, { reason: 'invalid_signature', status: 401 }], // client-d, v2 on kong-us
  [`5:16`, { reason: 'invalid_signature', status: 401 }],
])

interface EventSpec {
  time: number
  key: string
  version: string
  client: string
  failure?: { reason: string; status: number }
}

function events(): EventSpec[] {
  const out: EventSpec[] = []
  ACME.forEach((plan, hour) => {
    let minute = 0
    for (const [client, version, count] of plan) {
      for (let i = 0; i < count; i++, minute++) {
        out.push({
          time: at(hour, minute),
          key: 'acme-payments',
          version,
          client,
          failure: ACME_FAILURES.get(`${hour}:${minute}`),
        })
      }
    }
  })
  // globex-search: v3 is deactivated at hour 4 and client-x keeps using it.
  for (let i = 0; i < 4; i++)
    out.push({ time: at(3, 30 + i), key: 'globex-search', version: 'v3', client: 'client-x' })
  for (let i = 0; i < 4; i++)
    out.push({ time: at(3, 34 + i), key: 'globex-search', version: 'v4', client: 'client-y' })
  for (let i = 0; i < 3; i++) {
    const failure = { reason: 'revoked', status: 401 }
    out.push({ time: at(4, 30 + i), key: 'globex-search', version: 'v3', client: 'client-x', failure })
  }
  for (let i = 0; i < 4; i++)
    out.push({ time: at(4, 34 + i), key: 'globex-search', version: 'v4', client: 'client-y' })
  // Unknown key material hammering one route.
  for (let i = 0; i < 3; i++) {
    const failure = { reason: 'unknown_key', status: 401 }
    out.push({ time: at(2, 30 + i), key: 'unknown', version: 'unknown', client: '', failure })
  }
  // Outside the range: before it and after it.
  out.push({ time: at(0, -30), key: 'acme-payments', version: 'v1', client: 'client-z' })
  out.push({ time: at(6, 5), key: 'acme-payments', version: 'v2', client: 'client-c' })
  return out
}

function authEventRows() {
  return events().map((e, i) => {
    const p = profile(e.client, e.version, new Date(e.time).getUTCMinutes())
    return {
      time: e.time,
      event_id: `ev-${i}`,
      key_id: e.key,
      key_version: e.version,
      key_fingerprint: '',
      outcome: e.failure ? 'failure' : 'success',
      reason: e.failure?.reason ?? 'none',
      status: e.failure?.status ?? 200,
      client_id: e.client,
      source_address: p.source,
      user_agent: p.ua,
      method: 'GET',
      route: p.route,
      gateway: p.gateway,
      latency_ms: 12,
      src: 'kafka:auth-events',
      src_partition: 0,
      src_offset: i,
    }
  })
}

const lifecycle = (
  id: string,
  time: number,
  key: string,
  version: string,
  action: string,
  extra: { expires_at?: number; owners?: string[]; actor?: string; note?: string } = {},
) => ({
  event_id: id,
  time,
  key_id: key,
  version,
  action,
  fingerprints: [],
  expires_at: extra.expires_at ?? null,
  scopes: [],
  owners: extra.owners ?? [],
  actor: extra.actor ?? '',
  note: extra.note ?? '',
  origin: 'cli',
})
const OWNERS = ['payments-team@acme.example']
const deprecateV1 = lifecycle('acme-v1-deprecate', at(3), 'acme-payments', 'v1', 'deprecate', {
  actor: 'alice',
  note: 'rotation R-17',
})
const LIFECYCLE = [
  lifecycle('acme-v1-create', at(-72), 'acme-payments', 'v1', 'create', {
    expires_at: at(6 + 7 * 24),
    owners: OWNERS,
    actor: 'alice',
  }),
  lifecycle('acme-v1-activate', at(-72, 1), 'acme-payments', 'v1', 'activate', { actor: 'alice' }),
  deprecateV1,
  deprecateV1, // redelivered: one event, read once
  lifecycle('acme-v2-create', at(-2), 'acme-payments', 'v2', 'create', { owners: OWNERS, actor: 'alice' }),
  lifecycle('acme-v2-activate', at(0, -30), 'acme-payments', 'v2', 'activate', { actor: 'alice' }),
  lifecycle('globex-v3-create', at(-100), 'globex-search', 'v3', 'create'),
  lifecycle('globex-v3-activate', at(-100, 1), 'globex-search', 'v3', 'activate'),
  lifecycle('globex-v3-deactivate', at(4), 'globex-search', 'v3', 'deactivate', { actor: 'bob' }),
  lifecycle('globex-v4-create', at(-10), 'globex-search', 'v4', 'create'),
  lifecycle('globex-v4-activate', at(-10, 1), 'globex-search', 'v4', 'activate'),
  lifecycle('initech-v1-create', at(-5), 'initech-reports', 'v1', 'create'),
]

const rule = (id: string, outcome: string, detail: string) => ({ id, outcome, detail, numbers: {} })
const verdict = (
  time: number,
  key: string,
  version: string,
  v: string,
  askedBy: string,
  via: string,
  rules: object[],
) => ({
  time,
  key_id: key,
  version,
  verdict: v,
  asked_by: askedBy,
  via,
  evidence: JSON.stringify({ rules, ingestLagMs: 1200 }),
})
const PASS_NEWER = rule('newer_version_active', 'pass', 'v2 is active')
const SHARE_FAIL = (pct: number) =>
  rule('old_traffic_below_threshold', 'fail', `old version share ${pct}% (maximum 1%)`)
const READINESS = [
  verdict(at(1), 'acme-payments', 'v1', 'not_ready', 'ci:deploy-42', 'gate', [PASS_NEWER, SHARE_FAIL(65)]),
  verdict(at(2), 'acme-payments', 'v1', 'not_ready', 'alice', 'cli', [PASS_NEWER, SHARE_FAIL(55)]),
  verdict(at(5), 'acme-payments', 'v1', 'unknown', 'ci:deploy-43', 'gate', [
    PASS_NEWER,
    rule('data_fresh', 'unknown', 'ingestion lag is unknown'),
  ]),
  verdict(at(5, 30), 'acme-payments', 'v1', 'not_ready', 'ci:deploy-44', 'gate', [
    PASS_NEWER,
    SHARE_FAIL(25),
  ]),
  verdict(at(6, 10), 'acme-payments', 'v1', 'ready', 'ci:deploy-45', 'gate', [PASS_NEWER]), // after the range
  verdict(at(3, 30), 'globex-search', 'v3', 'ready', 'bob', 'cli', [PASS_NEWER]),
]

const deadLetter = (time: number, offset: number, reason: string) => ({
  time,
  src: 'kafka:auth-events',
  src_partition: 0,
  src_offset: offset,
  reason,
  detail: `record ${offset}: ${reason}`,
  size: 100 + offset,
})
const DEAD_LETTERS = [
  deadLetter(at(-2), 5, 'invalid_json'), // before the range
  deadLetter(at(1, 10), 100, 'invalid_json'),
  deadLetter(at(1, 10), 101, 'invalid_json'),
  deadLetter(at(2), 200, 'missing_time'),
  deadLetter(at(2, 5), 205, 'invalid_json'),
]

const heartbeat = (time: number, instance: string, newest: number, lag: number, buffered: number) => ({
  time,
  instance,
  newest_event_time: newest,
  consumer_lag_messages: lag,
  buffered_events: buffered,
  sources_ready: 1,
})
const HEARTBEATS = [
  heartbeat(at(5, 40), 'keyshift-0', at(5, 39), 120, 0),
  heartbeat(at(5, 50), 'keyshift-0', at(5, 49, 30), 0, 0),
  heartbeat(at(5, 55), 'keyshift-1', at(5, 54), 7, 3),
  heartbeat(at(6, 30), 'keyshift-0', at(6, 29), 999, 0), // after the range
]

const band = (
  t: number,
  keyId: string,
  version: string,
  metric: string,
  observed: number,
  expected: number,
) => ({
  bucket: Math.floor(t / 1000),
  key_id: keyId,
  version,
  metric,
  observed,
  expected,
  lower: expected - 12,
  upper: expected + 12,
  score: 0.1,
})
/** The usage-anomaly watch's rows: the panel shows only the chosen key's total requests, in range. */
const USAGE_BANDS = [
  band(at(1), 'acme-payments', '', 'requests', 30, 28),
  band(at(1, 5), 'acme-payments', '', 'requests', 90, 29), // a surge above the band
  band(at(2), 'acme-payments', '', 'requests', 3, 8), // lower band clamped at 0
  band(at(1), 'acme-payments', 'v1', 'requests', 20, 19), // a version's series
  band(at(1), 'acme-payments', '', 'failure_ratio', 0.1, 0.05),
  band(at(1), 'acme-payments', '', 'new_sources', 50, 1), // a burst of new addresses
  band(at(1), 'globex-search', '', 'requests', 50, 50),
  band(at(6, 30), 'acme-payments', '', 'requests', 40, 40), // after the range
]

function alertState(o: {
  channel: string
  type: string
  severity: string
  keyId: string
  version: string
  scope?: string
  title: string
  phase: string
  startsAt: number
  resolvedAt?: number
  ver: number
}) {
  const id = `${o.type}:${o.keyId}:${o.version}:${o.scope ?? '*'}`
  const doc = {
    key: `${o.channel}|${id}`,
    channel: o.channel,
    phase: o.phase,
    alert: {
      id,
      type: o.type,
      severity: o.severity,
      keyId: o.keyId,
      version: o.version,
      scope: o.scope ?? '*',
      labels: {},
      title: o.title,
      summary: '',
      evidence: {},
    },
    activeSince: o.startsAt,
    startsAt: o.startsAt,
    firedAt: o.phase === 'pending' ? null : o.startsAt,
    lastSeen: o.resolvedAt ?? at(5, 59),
    resolvedAt: o.resolvedAt ?? null,
    episode: 1,
    ver: o.ver,
  }
  return {
    key: doc.key,
    channel: o.channel,
    alert_id: id,
    type: o.type,
    severity: o.severity,
    key_id: o.keyId,
    phase: o.phase,
    resolved_at: o.resolvedAt ?? null,
    doc: JSON.stringify(doc),
    ver: o.ver,
    updated_at: o.resolvedAt ?? at(5, 59),
  }
}
const acmeV2Failing = {
  channel: 'alert',
  type: 'new_version_failing',
  severity: 'warning',
  keyId: 'acme-payments',
  version: 'v2',
  scope: 'gateway=kong-us',
  title: 'acme-payments v2 failing on kong-us',
  startsAt: at(5, 15),
}
const globexAfterDeactivation = {
  type: 'failures_after_deactivation',
  severity: 'critical',
  keyId: 'globex-search',
  version: 'v3',
  phase: 'firing',
  startsAt: at(4, 30),
  ver: 1,
}
const ALERT_STATES = [
  alertState({ ...acmeV2Failing, phase: 'firing', ver: 1 }),
  alertState({ ...acmeV2Failing, phase: 'resolved', resolvedAt: at(5, 40), ver: 2 }),
  alertState({
    ...globexAfterDeactivation,
    channel: 'alert',
    title: 'Failures after deactivation of globex-search v3',
  }),
  alertState({
    ...globexAfterDeactivation,
    channel: 'rollback',
    title: 'Rollback advised for globex-search v3',
  }),
  alertState({
    channel: 'readiness',
    type: 'deactivation_not_ready',
    severity: 'info',
    keyId: 'acme-payments',
    version: 'v1',
    title: 'acme-payments v1 is not ready for deactivation',
    phase: 'firing',
    startsAt: at(1),
    ver: 1,
  }),
  alertState({
    channel: 'alert',
    type: 'unknown_key_surge',
    severity: 'warning',
    keyId: 'unknown',
    version: '',
    title: 'Unknown keys on /v1/payments',
    phase: 'pending',
    startsAt: at(2, 30),
    ver: 1,
  }),
  alertState({
    channel: 'alert',
    type: 'failure_spike',
    severity: 'warning',
    keyId: 'acme-payments',
    version: 'v1',
    title: 'Failure spike on acme-payments v1',
    phase: 'resolved',
    startsAt: at(-3),
    resolvedAt: at(-2),
    ver: 2,
  }),
]

const delivery = (time: number, n: number, outcome: string) => ({
  time,
  notification_id: `n-${n}`,
  receiver: 'ops-slack',
  kind: 'alert.firing',
  attempt: 1,
  outcome,
  error: outcome === 'delivered' ? '' : 'HTTP 503',
  instance: 'keyshift-0',
})
const DELIVERIES = [
  delivery(at(4, 31), 1, 'delivered'),
  delivery(at(4, 31), 2, 'delivered'),
  delivery(at(4, 31), 3, 'retry'),
  delivery(at(4, 32), 3, 'delivered'),
  delivery(at(5, 16), 4, 'failed'),
]

// ---------------------------------------------------------------------------

interface Result {
  columns: string[]
  types: string[]
  rows: Record<string, unknown>[]
}

describe('panel SQL against the embedded store', () => {
  let dataDir: string
  let store: StoreClient
  /** Queries run so far, `file#panel/refId`, `file$variable`, `file@annotation`. */
  const ran = new Set<string>()

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'keyshift-grafana-'))
    store = createStoreClient(parseConfig({ data_dir: dataDir }))
    expect(store.database).toBe('keyshift')
    await migrate(store.client, store.database, { rawDays: 3650, rollupDays: 3650 })
    const insert = (table: string, values: object[]) =>
      store.client.insert({ table: `keyshift.${table}`, values, format: 'JSONEachRow' })
    await insert('auth_events', authEventRows())
    await insert('key_lifecycle', LIFECYCLE.slice(0, 3))
    await insert('key_lifecycle', LIFECYCLE.slice(3))
    await insert('readiness_audit', READINESS)
    await insert('dead_letters', DEAD_LETTERS)
    await insert('ingest_heartbeats', HEARTBEATS)
    await insert('usage_bands', USAGE_BANDS.slice(0, 2))
    // A bucket written again (a re-read after a restart) replaces the first write.
    await insert('usage_bands', [
      band(at(1), 'acme-payments', '', 'requests', 31, 28),
      ...USAGE_BANDS.slice(2),
    ])
    await insert('alert_states', ALERT_STATES)
    await insert('alert_deliveries', DELIVERIES)
  })

  afterAll(async () => {
    await store?.close()
    if (dataDir) rmSync(dataDir, { recursive: true, force: true })
  })

  async function run(sql: string, o: ExpandOptions): Promise<Result> {
    const query = expandQuery(sql, o)
    const rs = await store.client.query({ query, format: 'JSON' })
    const body = await rs.json<Record<string, unknown>>()
    const meta = body.meta as { name: string; type: string }[]
    return {
      columns: meta.map((m) => m.name),
      types: meta.map((m) => m.type),
      rows: body.data as Record<string, unknown>[],
    }
  }

  const opts = (variables: Variables, intervalMs = HOUR): ExpandOptions => ({
    range: RANGE,
    intervalMs,
    variables,
  })

  async function panel(file: string, id: number, variables: Variables, intervalMs = HOUR, refId = 'A') {
    const p = allPanels(board(file).panels).find((x) => x.id === id)
    const t = p?.targets?.find((x) => x.refId === refId)
    if (!p || !t?.rawSql) throw new Error(`${file}: no ClickHouse panel ${id} target ${refId}`)
    ran.add(`${file}#${id}/${refId}`)
    const r = await run(t.rawSql, opts(variables, intervalMs))
    if (t.format === 0) {
      // The plugin turns a long frame into series: time first, ascending.
      expect(r.types[0], `${file} panel ${id} time column`).toMatch(/^DateTime/)
      const times = r.rows.map((row) => String(row[r.columns[0]!]))
      expect(times, `${file} panel ${id} sorted by time`).toEqual([...times].sort())
    }
    return r
  }

  async function variable(file: string, name: string, variables: Variables) {
    const v = board(file).templating.list.find((x) => x.name === name)
    if (!v) throw new Error(`${file}: no variable ${name}`)
    ran.add(`${file}$${name}`)
    const r = await run((v.query as { rawSql: string }).rawSql, opts(variables))
    expect(r.columns, `${file} $${name}`).toHaveLength(1)
    return r.rows.map((row) => row[r.columns[0]!])
  }

  async function annotation(file: string, name: string, variables: Variables) {
    const a = board(file).annotations.list.find((x) => x.name === name)
    if (!a) throw new Error(`${file}: no annotation ${name}`)
    ran.add(`${file}@${name}`)
    return run(a.target.rawSql!, opts(variables))
  }

  const acme: Variables = {
    key: { current: 'acme-payments' },
    version: { current: 'v1' },
    lookback: { current: '3600' },
  }
  const allKeys: Variables = { key: { current: '$__all' }, version: { current: '$__all' } }

  // ----------------------------------------------------------- rotation-overview

  describe('rotation-overview', () => {
    const f = 'rotation-overview.json'

    it('lists keys with traffic in the range and registry keys; versions of the chosen key', async () => {
      expect(await variable(f, 'key', {})).toEqual(['acme-payments', 'globex-search', 'initech-reports'])
      expect(await variable(f, 'version', acme)).toEqual(['v1', 'v2'])
    })

    it('share per version per hour', async () => {
      const r = await panel(f, 1, acme)
      expect(r.columns).toEqual(['time', 'version', 'share'])
      const v1 = [0.75, 0.65, 0.55, 0.45, 0.35, 0.25]
      expect(r.rows.map((x) => [x.time, x.version])).toEqual(
        v1.flatMap((_, h) => [
          [dt(at(h)), 'v1'],
          [dt(at(h)), 'v2'],
        ]),
      )
      r.rows.forEach((x, i) => {
        const share = v1[Math.floor(i / 2)]!
        expect(x.share).toBeCloseTo(x.version === 'v1' ? share : 1 - share, 12)
      })
    })

    it('current share over the last hour of the range', async () => {
      const r = await panel(f, 2, acme)
      expect(r.columns).toEqual(['version', 'share'])
      expect(r.rows).toEqual([
        { version: 'v1', share: 0.25 },
        { version: 'v2', share: 0.75 },
      ])
    })

    it('requests per version per hour', async () => {
      const r = await panel(f, 3, acme)
      expect(r.columns).toEqual(['time', 'version', 'requests'])
      const v1 = [15, 13, 11, 9, 7, 5]
      expect(r.rows).toEqual(
        v1.flatMap((n, h) => [
          { time: dt(at(h)), version: 'v1', requests: n },
          { time: dt(at(h)), version: 'v2', requests: 20 - n },
        ]),
      )
    })

    it('ETA of the old version from a line through the hourly shares', async () => {
      const r = await panel(f, 4, acme)
      expect(r.columns).toEqual([
        'key',
        'version',
        'points',
        'current_share',
        'slope_per_hour',
        'r2',
        'status',
        'eta',
      ])
      expect(r.rows).toHaveLength(1)
      const row = r.rows[0]!
      expect(row).toMatchObject({
        key: 'acme-payments',
        version: 'v1',
        points: 6,
        current_share: 0.25,
        status: 'estimate',
      })
      expect(row.slope_per_hour).toBeCloseTo(-0.1, 12)
      expect(row.r2).toBeCloseTo(1, 12)
      // Last hour's midpoint (H+5.5 h) + 0.25 / 0.1 per hour = H+8 h.
      expect(row.eta).toBe(dt(at(8)))
      // The new version is not falling: no estimate.
      const v2 = await panel(f, 4, { ...acme, version: { current: 'v2' } })
      expect(v2.rows[0]).toMatchObject({
        version: 'v2',
        points: 6,
        current_share: 0.75,
        status: 'not_decreasing',
        eta: null,
      })
      // Fewer than six hours with traffic: no estimate either.
      const globex = await panel(f, 4, { key: { current: 'globex-search' }, version: { current: 'v3' } })
      expect(globex.rows[0]).toMatchObject({
        points: 2,
        current_share: 3 / 7,
        status: 'too_few_points',
        eta: null,
      })
    })

    it('latest readiness verdict per version as of the end of the range, with the rules that did not pass', async () => {
      const r = await panel(f, 5, acme)
      expect(r.columns).toEqual(['key', 'version', 'verdict', 'asked_by', 'via', 'asked_at', 'open_rules'])
      expect(r.rows).toEqual([
        {
          key: 'acme-payments',
          version: 'v1',
          verdict: 'not_ready',
          asked_by: 'ci:deploy-44',
          via: 'gate',
          asked_at: dt64(at(5, 30)),
          open_rules: 'old_traffic_below_threshold: old version share 25% (maximum 1%)',
        },
      ])
    })

    it("the key's requests per 5 min against the expected band, from usage_bands", async () => {
      const r = await panel(f, 8, acme)
      expect(r.columns).toEqual(['time', 'observed', 'expected', 'lower', 'upper'])
      expect(r.rows).toEqual([
        { time: dt(at(1)), observed: 31, expected: 28, lower: 16, upper: 40 },
        { time: dt(at(1, 5)), observed: 90, expected: 29, lower: 17, upper: 41 },
        { time: dt(at(2)), observed: 3, expected: 8, lower: 0, upper: 20 },
      ])
    })

    it("the key's new source addresses per 5 min against the expected band, from usage_bands", async () => {
      const r = await panel(f, 9, acme)
      expect(r.columns).toEqual(['time', 'observed', 'expected', 'lower', 'upper'])
      expect(r.rows).toEqual([{ time: dt(at(1)), observed: 50, expected: 1, lower: 0, upper: 13 }])
    })

    it('key versions with their lifecycle state', async () => {
      const r = await panel(f, 6, acme)
      expect(r.columns).toEqual([
        'version',
        'state',
        'created_at',
        'activated_at',
        'deprecated_at',
        'deactivated_at',
        'expires_at',
        'owners',
        'last_change',
      ])
      expect(r.rows).toEqual([
        {
          version: 'v1',
          state: 'deprecated',
          created_at: dt64(at(-72)),
          activated_at: dt64(at(-72, 1)),
          deprecated_at: dt64(at(3)),
          deactivated_at: null,
          expires_at: dt64(at(6 + 7 * 24)),
          owners: 'payments-team@acme.example',
          last_change: dt64(at(3)),
        },
        {
          version: 'v2',
          state: 'active',
          created_at: dt64(at(-2)),
          activated_at: dt64(at(0, -30)),
          deprecated_at: null,
          deactivated_at: null,
          expires_at: null,
          owners: 'payments-team@acme.example',
          last_change: dt64(at(0, -30)),
        },
      ])
      const globex = await panel(f, 6, { key: { current: 'globex-search' } })
      expect(globex.rows.map((x) => [x.version, x.state, x.deactivated_at])).toEqual([
        ['v3', 'deactivated', dt64(at(4))],
        ['v4', 'active', null],
      ])
    })

    it('open findings of the key', async () => {
      const r = await panel(f, 7, acme)
      expect(r.columns).toEqual([
        'channel',
        'type',
        'severity',
        'version',
        'scope',
        'title',
        'since',
        'last_seen',
      ])
      expect(r.rows).toEqual([
        {
          channel: 'readiness',
          type: 'deactivation_not_ready',
          severity: 'info',
          version: 'v1',
          scope: '*',
          title: 'acme-payments v1 is not ready for deactivation',
          since: dt64(at(1)),
          last_seen: dt64(at(5, 59)),
        },
      ])
    })

    it('annotates findings, lifecycle events and readiness verdict changes of the key', async () => {
      const findings = await annotation(f, 'Findings', acme)
      expect(findings.columns).toEqual(['time', 'timeEnd', 'text', 'tags'])
      expect(findings.rows).toEqual([
        {
          time: dt64(at(1)),
          timeEnd: null,
          text: 'INFO acme-payments v1 is not ready for deactivation',
          tags: 'deactivation_not_ready',
        },
        {
          time: dt64(at(5, 15)),
          timeEnd: dt64(at(5, 40)),
          text: 'WARNING acme-payments v2 failing on kong-us (resolved)',
          tags: 'new_version_failing',
        },
      ])
      const life = await annotation(f, 'Key lifecycle', acme)
      expect(life.columns).toEqual(['time', 'text', 'tags'])
      expect(life.rows).toEqual([
        { time: dt64(at(3)), text: 'deprecate acme-payments v1 by alice: rotation R-17', tags: 'deprecate' },
      ])
      const verdicts = await annotation(f, 'Readiness verdict changes', acme)
      expect(verdicts.columns).toEqual(['time', 'text', 'tags'])
      expect(verdicts.rows).toEqual([
        {
          time: dt64(at(1)),
          text: 'readiness acme-payments v1: not_ready (asked by ci:deploy-42 via gate)',
          tags: 'not_ready',
        },
        {
          time: dt64(at(5)),
          text: 'readiness acme-payments v1: not_ready -> unknown (asked by ci:deploy-43 via gate)',
          tags: 'unknown',
        },
        {
          time: dt64(at(5, 30)),
          text: 'readiness acme-payments v1: unknown -> not_ready (asked by ci:deploy-44 via gate)',
          tags: 'not_ready',
        },
      ])
    })
  })

  // ----------------------------------------------------------------- stragglers

  describe('stragglers', () => {
    const f = 'stragglers.json'

    it('uses the same key and version lists', async () => {
      expect(await variable(f, 'key', {})).toEqual(['acme-payments', 'globex-search', 'initech-reports'])
      expect(await variable(f, 'version', acme)).toEqual(['v1', 'v2'])
    })

    it('counts the clients still on the old version within the lookback', async () => {
      const r = await panel(f, 1, acme)
      expect(r.columns).toEqual(['clients', 'requests'])
      expect(r.rows).toEqual([{ clients: 1, requests: 5 }])
    })

    it('old-version requests per client', async () => {
      const r = await panel(f, 2, acme)
      expect(r.columns).toEqual(['time', 'client', 'requests'])
      const per: [number, string, number][] = [
        [0, 'client-a', 10],
        [0, 'client-b', 5],
        [1, 'client-a', 8],
        [1, 'client-b', 5],
        [2, 'client-a', 6],
        [2, 'client-b', 5],
        [3, 'client-b', 5],
        [3, 'client-d', 4],
        [4, 'client-b', 5],
        [4, 'client-d', 2],
        [5, 'client-b', 5],
      ]
      expect(r.rows).toEqual(per.map(([h, client, requests]) => ({ time: dt(at(h)), client, requests })))
    })

    it('lists exactly the stragglers of the last hour, with where they come from', async () => {
      const r = await panel(f, 3, acme)
      expect(r.columns).toEqual([
        'client',
        'source_addresses',
        'user_agents',
        'gateways',
        'requests',
        'failures',
        'first_seen',
        'last_seen',
        'routes',
        'other_versions',
      ])
      expect(r.rows).toEqual([
        {
          client: 'client-b',
          source_addresses: '10.0.2.1, 10.0.2.2',
          user_agents: 'billing-cron/1.4',
          gateways: 'kong-us',
          requests: 5,
          failures: 0,
          first_seen: dt64(at(5, 0)),
          last_seen: dt64(at(5, 4)),
          routes: '/v1/charges, /v1/refunds',
          other_versions: 'v2',
        },
      ])
    })

    it('with a lookback over the whole range, everyone who used the old version', async () => {
      const r = await panel(f, 3, { ...acme, lookback: { current: '21600' } })
      expect(r.rows.map((x) => [x.client, x.requests, x.failures, x.first_seen, x.last_seen])).toEqual([
        ['client-b', 30, 1, dt64(at(0, 10)), dt64(at(5, 4))],
        ['client-a', 24, 0, dt64(at(0, 0)), dt64(at(2, 5))],
        ['client-d', 6, 0, dt64(at(3, 5)), dt64(at(4, 6))],
      ])
    })

    it('lists the clients that moved off the old version', async () => {
      const r = await panel(f, 4, acme)
      expect(r.columns).toEqual([
        'client',
        'now_on',
        'new_requests',
        'moved_at',
        'last_seen_old',
        'source_addresses',
        'gateways',
      ])
      expect(r.rows).toEqual([
        {
          client: 'client-a',
          now_on: 'v2',
          new_requests: 5,
          moved_at: dt64(at(3, 14)),
          last_seen_old: dt64(at(2, 5)),
          source_addresses: '10.0.1.1',
          gateways: 'kong-eu',
        },
        {
          client: 'client-d',
          now_on: 'v2',
          new_requests: 5,
          moved_at: dt64(at(5, 15)),
          last_seen_old: dt64(at(4, 6)),
          source_addresses: '10.0.4.1',
          gateways: 'kong-us',
        },
      ])
    })

    it('annotates lifecycle events of the key', async () => {
      const r = await annotation(f, 'Key lifecycle', { key: { current: 'globex-search' } })
      expect(r.rows).toEqual([
        { time: dt64(at(4)), text: 'deactivate globex-search v3 by bob', tags: 'deactivate' },
      ])
    })
  })

  // -------------------------------------------------------------- auth-failures

  describe('auth-failures', () => {
    const f = 'auth-failures.json'
    const acmeOnly: Variables = { key: { current: ['acme-payments'] }, version: { current: '$__all' } }

    it('lists every key with traffic (unknown included) and their versions', async () => {
      expect(await variable(f, 'key', {})).toEqual(['acme-payments', 'globex-search', 'unknown'])
      expect(await variable(f, 'version', allKeys)).toEqual(['v1', 'v2', 'v3', 'v4', 'unknown'])
      expect(await variable(f, 'version', acmeOnly)).toEqual(['v1', 'v2'])
    })

    it('failures by reason, gateway and key version per hour', async () => {
      const reason = await panel(f, 1, allKeys)
      expect(reason.columns).toEqual(['time', 'reason', 'failures'])
      expect(reason.rows).toEqual([
        { time: dt(at(2)), reason: 'unknown_key', failures: 3 },
        { time: dt(at(4)), reason: 'insufficient_scope', failures: 1 },
        { time: dt(at(4)), reason: 'revoked', failures: 3 },
        { time: dt(at(5)), reason: 'invalid_signature', failures: 2 },
      ])
      const gateway = await panel(f, 2, allKeys)
      expect(gateway.columns).toEqual(['time', 'gateway', 'failures'])
      expect(gateway.rows).toEqual([
        { time: dt(at(2)), gateway: 'nginx-us', failures: 3 },
        { time: dt(at(4)), gateway: 'kong-us', failures: 1 },
        { time: dt(at(4)), gateway: 'nginx-us', failures: 3 },
        { time: dt(at(5)), gateway: 'kong-us', failures: 2 },
      ])
      const version = await panel(f, 3, allKeys)
      expect(version.columns).toEqual(['time', 'version', 'failures'])
      expect(version.rows).toEqual([
        { time: dt(at(2)), version: 'unknown unknown', failures: 3 },
        { time: dt(at(4)), version: 'acme-payments v1', failures: 1 },
        { time: dt(at(4)), version: 'globex-search v3', failures: 3 },
        { time: dt(at(5)), version: 'acme-payments v2', failures: 2 },
      ])
    })

    it('failure rate per hour', async () => {
      const r = await panel(f, 4, allKeys)
      expect(r.columns).toEqual(['time', 'failure_rate'])
      expect(r.rows).toEqual([
        { time: dt(at(0)), failure_rate: 0 },
        { time: dt(at(1)), failure_rate: 0 },
        { time: dt(at(2)), failure_rate: 3 / 23 },
        { time: dt(at(3)), failure_rate: 0 },
        { time: dt(at(4)), failure_rate: 4 / 27 },
        { time: dt(at(5)), failure_rate: 2 / 20 },
      ])
    })

    it('failures by reason over the range, for all keys and filtered by key and version', async () => {
      const all = await panel(f, 5, allKeys)
      expect(all.columns).toEqual(['reason', 'failures'])
      expect(all.rows).toEqual([
        { reason: 'revoked', failures: 3 },
        { reason: 'unknown_key', failures: 3 },
        { reason: 'invalid_signature', failures: 2 },
        { reason: 'insufficient_scope', failures: 1 },
      ])
      expect((await panel(f, 5, acmeOnly)).rows).toEqual([
        { reason: 'invalid_signature', failures: 2 },
        { reason: 'insufficient_scope', failures: 1 },
      ])
      const acmeV2 = { key: { current: ['acme-payments'] }, version: { current: ['v2'] } }
      expect((await panel(f, 5, acmeV2)).rows).toEqual([{ reason: 'invalid_signature', failures: 2 }])
    })

    it('top failing clients', async () => {
      const r = await panel(f, 6, allKeys)
      expect(r.columns).toEqual([
        'client',
        'key',
        'version',
        'failures',
        'total_requests',
        'failure_rate',
        'reasons',
        'gateways',
        'last_failure_minute',
      ])
      expect(r.rows).toEqual([
        {
          client: '',
          key: 'unknown',
          version: 'unknown',
          failures: 3,
          total_requests: 3,
          failure_rate: 1,
          reasons: 'unknown_key',
          gateways: 'nginx-us',
          last_failure_minute: dt(at(2, 32)),
        },
        {
          client: 'client-x',
          key: 'globex-search',
          version: 'v3',
          failures: 3,
          total_requests: 7,
          failure_rate: 3 / 7,
          reasons: 'revoked',
          gateways: 'nginx-us',
          last_failure_minute: dt(at(4, 32)),
        },
        {
          client: 'client-d',
          key: 'acme-payments',
          version: 'v2',
          failures: 2,
          total_requests: 5,
          failure_rate: 0.4,
          reasons: 'invalid_signature',
          gateways: 'kong-us',
          last_failure_minute: dt(at(5, 16)),
        },
        {
          client: 'client-b',
          key: 'acme-payments',
          version: 'v1',
          failures: 1,
          total_requests: 30,
          failure_rate: 1 / 30,
          reasons: 'insufficient_scope',
          gateways: 'kong-us',
          last_failure_minute: dt(at(4, 0)),
        },
      ])
    })

    it('top failing source addresses', async () => {
      const r = await panel(f, 7, allKeys)
      expect(r.columns).toEqual([
        'source_address',
        'failures',
        'total_requests',
        'keys',
        'routes',
        'user_agents',
        'last_seen',
      ])
      expect(r.rows).toEqual([
        {
          source_address: '10.1.0.1',
          failures: 3,
          total_requests: 7,
          keys: 'globex-search',
          routes: '/search',
          user_agents: 'search-indexer/3',
          last_seen: dt64(at(4, 32)),
        },
        {
          source_address: '203.0.113.9',
          failures: 3,
          total_requests: 3,
          keys: 'unknown',
          routes: '/v1/payments',
          user_agents: 'curl/8.5.0',
          last_seen: dt64(at(2, 32)),
        },
        {
          source_address: '10.0.4.1',
          failures: 2,
          total_requests: 11,
          keys: 'acme-payments',
          routes: '/v1/reports',
          user_agents: 'reports/1.0',
          last_seen: dt64(at(5, 19)),
        },
        {
          source_address: '10.0.2.1',
          failures: 1,
          total_requests: 20,
          keys: 'acme-payments',
          routes: '/v1/charges',
          user_agents: 'billing-cron/1.4, billing-cron/2.0',
          last_seen: dt64(at(5, 9)),
        },
      ])
    })

    it('annotates findings (not pending ones, not before the range), deactivations and verdict changes', async () => {
      const findings = await annotation(f, 'Findings', allKeys)
      expect(findings.rows.map((x) => [x.time, x.timeEnd, x.text, x.tags])).toEqual([
        [dt64(at(1)), null, 'INFO acme-payments v1 is not ready for deactivation', 'deactivation_not_ready'],
        [
          dt64(at(4, 30)),
          null,
          'CRITICAL Failures after deactivation of globex-search v3',
          'failures_after_deactivation',
        ],
        [
          dt64(at(4, 30)),
          null,
          'CRITICAL Rollback advised for globex-search v3',
          'failures_after_deactivation',
        ],
        [
          dt64(at(5, 15)),
          dt64(at(5, 40)),
          'WARNING acme-payments v2 failing on kong-us (resolved)',
          'new_version_failing',
        ],
      ])
      const life = await annotation(f, 'Key lifecycle', allKeys)
      expect(life.rows.map((x) => x.text)).toEqual([
        'deprecate acme-payments v1 by alice: rotation R-17',
        'deactivate globex-search v3 by bob',
      ])
      const lifeAcme = await annotation(f, 'Key lifecycle', acmeOnly)
      expect(lifeAcme.rows.map((x) => x.text)).toEqual(['deprecate acme-payments v1 by alice: rotation R-17'])
      const verdicts = await annotation(f, 'Readiness verdict changes', allKeys)
      expect(verdicts.rows.map((x) => [x.time, x.tags])).toEqual([
        [dt64(at(1)), 'not_ready'],
        [dt64(at(3, 30)), 'ready'],
        [dt64(at(5)), 'unknown'],
        [dt64(at(5, 30)), 'not_ready'],
      ])
    })
  })

  // ------------------------------------------------------------ pipeline-health

  describe('pipeline-health', () => {
    const f = 'pipeline-health.json'

    it('notification deliveries by outcome per hour', async () => {
      const r = await panel(f, 13, {})
      expect(r.columns).toEqual(['bucket', 'outcome', 'deliveries'])
      expect(r.rows).toEqual([
        { bucket: dt(at(4)), outcome: 'delivered', deliveries: 3 },
        { bucket: dt(at(4)), outcome: 'retry', deliveries: 1 },
        { bucket: dt(at(5)), outcome: 'failed', deliveries: 1 },
      ])
    })

    it('dead letters by reason per hour, and the latest ones', async () => {
      const byReason = await panel(f, 14, {})
      expect(byReason.columns).toEqual(['bucket', 'reason', 'dead_letters'])
      expect(byReason.rows).toEqual([
        { bucket: dt(at(1)), reason: 'invalid_json', dead_letters: 2 },
        { bucket: dt(at(2)), reason: 'invalid_json', dead_letters: 1 },
        { bucket: dt(at(2)), reason: 'missing_time', dead_letters: 1 },
      ])
      const recent = await panel(f, 16, {})
      expect(recent.columns).toEqual([
        'time',
        'src',
        'src_partition',
        'src_offset',
        'reason',
        'detail',
        'size',
      ])
      expect(recent.rows.map((x) => [x.time, x.src_offset, x.reason, x.detail, x.size])).toEqual([
        [dt64(at(2, 5)), 205, 'invalid_json', 'record 205: invalid_json', 305],
        [dt64(at(2)), 200, 'missing_time', 'record 200: missing_time', 300],
        [dt64(at(1, 10)), 100, 'invalid_json', 'record 100: invalid_json', 200],
        [dt64(at(1, 10)), 101, 'invalid_json', 'record 101: invalid_json', 201],
      ])
    })

    it('consumer lag per instance from heartbeats, per 10 minutes', async () => {
      const r = await panel(f, 15, {}, 10 * MIN)
      expect(r.columns).toEqual(['bucket', 'instance', 'consumer_lag_messages'])
      expect(r.rows).toEqual([
        { bucket: dt(at(5, 40)), instance: 'keyshift-0', consumer_lag_messages: 120 },
        { bucket: dt(at(5, 50)), instance: 'keyshift-0', consumer_lag_messages: 0 },
        { bucket: dt(at(5, 50)), instance: 'keyshift-1', consumer_lag_messages: 7 },
      ])
    })

    it('latest heartbeat per instance', async () => {
      const r = await panel(f, 17, {})
      expect(r.columns).toEqual([
        'instance',
        'last_heartbeat',
        'newest_event_time',
        'event_lag_seconds',
        'consumer_lag_messages',
        'buffered_events',
        'sources_ready',
      ])
      expect(r.rows).toEqual([
        {
          instance: 'keyshift-0',
          last_heartbeat: dt64(at(5, 50)),
          newest_event_time: dt64(at(5, 49, 30)),
          event_lag_seconds: 30,
          consumer_lag_messages: 0,
          buffered_events: 0,
          sources_ready: 1,
        },
        {
          instance: 'keyshift-1',
          last_heartbeat: dt64(at(5, 55)),
          newest_event_time: dt64(at(5, 54)),
          event_lag_seconds: 60,
          consumer_lag_messages: 7,
          buffered_events: 3,
          sources_ready: 1,
        },
      ])
    })
  })

  it('ran every ClickHouse panel, variable and annotation query of every dashboard', () => {
    const expected = files.flatMap((file) => {
      const d = board(file)
      return [
        ...allPanels(d.panels).flatMap((p) => chTargets(p).map((t) => `${file}#${p.id}/${t.refId}`)),
        ...d.templating.list.filter((v) => v.type === 'query').map((v) => `${file}$${v.name}`),
        ...d.annotations.list.map((a) => `${file}@${a.name}`),
      ]
    })
    expect(expected.filter((q) => !ran.has(q))).toEqual([])
  })
})
