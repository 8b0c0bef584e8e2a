// Freshness is about data, per place: two gateways log to two files read by one
// daemon (embedded store). When gateway A's log stops growing — the daemon
// healthy and caught up — the verdict of the key A carried turns `unknown`
// once A's bound (3 s here) has passed, naming the file and the gateway and
// since when, through the HTTP readiness API (the code path of `keyshift gate
// --url`); the key carried by gateway B, still logging, stays ready. `/readyz`,
// `/metrics` and `/api/v1/places` show the silent places. Traffic resuming on
// A returns its key to ready.
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { PlaceStatus } from '../../src/analysis/freshness.ts'
import type { RuleResult } from '../../src/analysis/readiness.ts'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { runKeyshift, waitFor } from '../support/daemon.ts'

const DAY = 86_400_000
const BOUND_MS = 3_000
const dir = mkdtempSync(join(tmpdir(), 'ks-freshness-'))
const logA = join(dir, 'gw-a.log')
const logB = join(dir, 'gw-b.log')
let app: App
let base = ''
let seq = 0

function line(keyId: string, gateway: string, time: number): string {
  seq++
  return `${JSON.stringify({
    eventId: `f-${seq}`,
    time,
    keyId,
    keyVersion: 'v2',
    status: 200,
    clientId: `client-${seq % 3}`,
    sourceAddress: '192.0.2.10',
    userAgent: 'svc/1',
    method: 'GET',
    route: '/v1/x',
    gateway,
  })}\n`
}

/** Appends one event per gateway to its log every 100 ms while `flowing[gateway]` is set. */
const flowing = { 'gw-a': false, 'gw-b': false }
let lastWritten = { 'gw-a': 0, 'gw-b': 0 }
let writer: NodeJS.Timeout | null = null
function startWriter(): void {
  writer = setInterval(() => {
    const now = Date.now()
    if (flowing['gw-a']) {
      appendFileSync(logA, line('acme', 'gw-a', now))
      lastWritten = { ...lastWritten, 'gw-a': now }
    }
    if (flowing['gw-b']) {
      appendFileSync(logB, line('beta', 'gw-b', now))
      lastWritten = { ...lastWritten, 'gw-b': now }
    }
  }, 100)
}

interface Verdict {
  verdict: string
  rules: RuleResult[]
}
const get = async <T>(path: string): Promise<T> => (await (await fetch(`${base}${path}`)).json()) as T
const verdict = (key: string) => get<Verdict>(`/api/v1/keys/${key}/versions/v1/readiness?audit=false`)
const placesRule = (v: Verdict) => v.rules.find((r) => r.id === 'places_reporting')!

beforeAll(async () => {
  const now = Date.now()
  const iso = (t: number) => new Date(t).toISOString()
  writeFileSync(
    join(dir, 'keys.json'),
    JSON.stringify(
      ['acme', 'beta'].flatMap((k) => [
        { key_id: k, version: 'v1', action: 'create', time: iso(now - 10 * DAY) },
        { key_id: k, version: 'v1', action: 'activate', time: iso(now - 10 * DAY + 1) },
        { key_id: k, version: 'v2', action: 'create', time: iso(now - 3 * DAY) },
        { key_id: k, version: 'v2', action: 'activate', time: iso(now - 3 * DAY + 1) },
        { key_id: k, version: 'v1', action: 'deprecate', time: iso(now - 2 * DAY) },
      ]),
    ),
  )
  writeFileSync(logA, '')
  writeFileSync(logB, '')
  const source = (path: string) => ({
    type: 'file',
    path,
    decoder: { preset: 'canonical' },
    poll_interval_ms: 50,
  })
  app = await createApp(
    parseConfig({
      instance: 'freshness-test',
      data_dir: join(dir, 'data'),
      http: { port: 0 },
      registry: { files: [join(dir, 'keys.json')] },
      sources: [source(logA), source(logB)],
      ingest: { batch_max_wait_ms: 100, heartbeat_interval_ms: 200 },
      analysis: { freshness: { silent_after_ms: BOUND_MS } },
      secrets: { pepper: 'freshness-pepper-0123456789abcdef' },
    }),
    { logger: silentLogger() },
  )
  await app.start()
  base = app.url()!
  flowing['gw-a'] = true
  flowing['gw-b'] = true
  startWriter()
})

afterAll(async () => {
  if (writer) clearInterval(writer)
  await app?.stop()
})

describe('freshness per place', () => {
  it('is ready while both gateways log, unknown for the key of the one that stops, ready again when it resumes', async () => {
    // Both logs flowing: both keys ready, every place reporting.
    for (const key of ['acme', 'beta']) {
      await waitFor(
        `${key} v1 ready while its gateway logs`,
        async () => (await verdict(key)).verdict === 'ready',
        {
          timeoutMs: 120_000,
          intervalMs: 100,
        },
      )
    }

    // Gateway A's log stops growing; the daemon stays healthy and caught up.
    flowing['gw-a'] = false
    const silentSince = await waitFor('the last gw-a line written', async () => lastWritten['gw-a'] || false)
    const unknown = await waitFor(
      'acme v1 unknown once gw-a is silent longer than its bound',
      async () => {
        const v = await verdict('acme')
        return v.verdict === 'unknown' ? v : false
      },
      { timeoutMs: 120_000, intervalMs: 100 },
    )
    const rule = placesRule(unknown)
    expect(rule.outcome).toBe('unknown')
    // Every other rule still passes: only the silent places make it unknown.
    expect(unknown.rules.filter((r) => r.outcome !== 'pass').map((r) => r.id)).toEqual(['places_reporting'])
    const silent = rule.places!.filter((p) => p.silent)
    expect(silent.map((p) => [p.kind, p.name])).toEqual([
      ['gateway', 'gw-a'],
      ['source', `file:${logA}`],
    ])
    // "Since when": the time of the last line gw-a wrote (the newest event stored from it).
    for (const p of silent) {
      expect(p.lastHeard).toBe(silentSince)
      expect(p.silentAfterMs).toBe(BOUND_MS)
      expect(p.silentForMs).toBeGreaterThan(BOUND_MS)
    }
    expect(rule.detail).toContain(`gateway gw-a silent for `)
    expect(rule.detail).toContain(`source file:${logA} silent for `)
    expect(rule.detail).toContain(`since ${new Date(silentSince).toISOString()}`)

    // The key gw-b carries is not held back by gw-a.
    const beta = await waitFor('beta v1 ready while gw-b logs', async () => {
      const v = await verdict('beta')
      return v.verdict === 'ready' ? v : false
    })
    expect(placesRule(beta).places!.map((p) => p.name)).toEqual(['gw-b', `file:${logB}`])

    // keyshift's own surfaces name the silent places.
    const readyz = await get<{ status: string; checks: { name: string; silentPlaces?: PlaceStatus[] }[] }>(
      '/readyz',
    )
    expect(readyz.status).toBe('ready')
    const check = readyz.checks.find((c) => c.name === 'places')!
    expect(check.silentPlaces!.map((p) => p.name).sort()).toEqual([`file:${logA}`, 'gw-a'])
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toMatch(/^keyshift_places_silent\{kind="gateway"\} 1$/m)
    expect(metrics).toMatch(/^keyshift_places_silent\{kind="source"\} 1$/m)
    expect(metrics).toMatch(/^keyshift_place_silence_seconds\{kind="gateway",place="gw-a"\} \d/m)
    const api = await get<{ places: PlaceStatus[] }>('/api/v1/places')
    expect(
      api.places
        .filter((p) => p.silent)
        .map((p) => p.name)
        .sort(),
    ).toEqual([`file:${logA}`, 'gw-a'])

    // The key's detail carries the judgement: the places that carried it, silent ones first.
    const detail = await get<{ places: PlaceStatus[] }>('/api/v1/keys/acme')
    expect(detail.places.map((p) => [p.kind, p.name, p.silent, p.lastHeard])).toEqual([
      ['gateway', 'gw-a', true, silentSince],
      ['source', `file:${logA}`, true, silentSince],
    ])
    const betaDetail = await get<{ places: PlaceStatus[] }>('/api/v1/keys/beta')
    expect(betaDetail.places.map((p) => [p.name, p.silent])).toEqual([
      ['gw-b', false],
      [`file:${logB}`, false],
    ])
    // `keyshift status` against the daemon names them under the key, and in its places section.
    const status = await runKeyshift(['status', '--url', base])
    expect(status.stderr).toBe('')
    expect(status.code).toBe(0)
    const since = new Date(silentSince).toISOString().replaceAll('.', '\\.')
    expect(status.stdout).toMatch(
      new RegExp(
        `^acme\\n  SILENT gateway gw-a silent for \\d+ s \\(since ${since}, bound 3 s\\): verdicts of acme are unknown\\n` +
          `  SILENT source file:${logA.replaceAll('.', '\\.')} silent for \\d+ s \\(since ${since}, bound 3 s\\): verdicts of acme are unknown\\n`,
        'm',
      ),
    )
    expect(status.stdout).toMatch(/^beta\n {2}v1 /m)
    expect(status.stdout).toMatch(/^places: 2 of 4 gateway\(s\) and source\(s\) reporting$/m)

    // The gate path without a daemon reads the same store: the same verdict.
    const direct = await app.rotation.readiness(
      { keyId: 'acme', version: 'v1', askedBy: 'test', via: 'cli', audit: false },
      Date.now(),
    )
    expect(direct.verdict).toBe('unknown')

    // Gateway A logs again: its key is ready again.
    flowing['gw-a'] = true
    await waitFor(
      'acme v1 ready again once gw-a reports',
      async () => (await verdict('acme')).verdict === 'ready',
      {
        timeoutMs: 120_000,
        intervalMs: 100,
      },
    )
  })
})
