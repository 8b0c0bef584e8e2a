// `keyshift gate` as a CI job runs it: exit 0 ready, 1 not ready, 2 unknown —
// against a store filled by the real daemon (file source, canonical events),
// with GitHub Actions annotations and a job-summary table.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { freePort, runKeyshift, spawnKeyshift, waitFor, writeConfig } from '../support/daemon.ts'
import { queryRows, withStore } from '../support/store-probe.ts'

const DAY = 86_400_000
const dir = mkdtempSync(join(tmpdir(), 'ks-gate-'))
let cfg = ''
let port = 0
let closedPort = 0

function event(i: number, keyId: string, keyVersion: string, time: number) {
  return JSON.stringify({
    eventId: `g-${i}`,
    time,
    keyId,
    keyVersion,
    status: 200,
    clientId: `client-${i % 3}`,
    sourceAddress: '192.0.2.10',
    userAgent: 'ci/1',
    method: 'GET',
    route: '/v1/x',
    gateway: 'gw-1',
    latencyMs: 3,
  })
}

/** SIGTERM, and the exit code; a daemon that has not exited after 60 s is killed and the test fails with its output. */
async function stop(d: ReturnType<typeof spawnKeyshift>): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((r) => {
    timer = setTimeout(() => r('late'), 60_000)
  })
  const code = await Promise.race([d.kill('SIGTERM'), late])
  clearTimeout(timer)
  if (code === 'late') {
    await d.kill('SIGKILL')
    throw new Error(`the daemon did not exit within 60 s of SIGTERM:\n${d.output().slice(-4000)}`)
  }
  return code
}

beforeAll(async () => {
  closedPort = await freePort()
  const now = Date.now()
  // Not a random pick: another test's daemon on the same port would answer for this one.
  port = await freePort()
  const iso = (t: number) => new Date(t).toISOString()
  // Both keys rotated v1 → v2 three days ago; acme's clients all moved, beta's did not.
  const lifecycle = ['acme', 'beta'].flatMap((k) => [
    { key_id: k, version: 'v1', action: 'create', time: iso(now - 10 * DAY) },
    { key_id: k, version: 'v1', action: 'activate', time: iso(now - 10 * DAY + 1) },
    { key_id: k, version: 'v2', action: 'create', time: iso(now - 3 * DAY) },
    { key_id: k, version: 'v2', action: 'activate', time: iso(now - 3 * DAY + 1) },
    { key_id: k, version: 'v1', action: 'deprecate', time: iso(now - 2 * DAY) },
  ])
  writeFileSync(join(dir, 'keys.json'), JSON.stringify(lifecycle))
  const lines: string[] = []
  for (let i = 0; i < 30; i++) lines.push(event(i, 'acme', 'v2', now - 3_600_000 + i * 1000))
  for (let i = 30; i < 40; i++) lines.push(event(i, 'beta', i < 35 ? 'v1' : 'v2', now - 3_600_000 + i * 1000))
  writeFileSync(join(dir, 'gateway.log'), `${lines.join('\n')}\n`)
  cfg = writeConfig(dir, {
    data_dir: join(dir, 'data'),
    log: { level: 'info' },
    http: { port },
    registry: { files: [join(dir, 'keys.json')] },
    sources: [
      {
        type: 'file',
        path: join(dir, 'gateway.log'),
        decoder: { preset: 'canonical' },
        poll_interval_ms: 50,
      },
    ],
    ingest: { batch_max_wait_ms: 100, heartbeat_interval_ms: 200 },
    secrets: { pepper: 'gate-pepper-0123456789abcdef' },
    // The log ends an hour ago: gw-1 declares it may stay quiet for 6 h.
    analysis: { freshness: { silent_after_ms: 6 * 3_600_000 } },
  })
  // The daemon ingests the log and writes fresh heartbeats, then leaves the store to the gate.
  const d = spawnKeyshift(['run', '-c', cfg])
  const logFile = join(dir, 'data', 'dead-letters.ndjson')
  await waitFor(
    'all 40 events stored',
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      return /keyshift_events_ingested_total\{[^}]*\} 40$/m.test(text)
    },
    { timeoutMs: 60_000 },
  )
  // A heartbeat written after the last batch, while caught up.
  await new Promise((r) => setTimeout(r, 600))
  expect(await stop(d)).toBe(0)
  expect(() => readFileSync(logFile)).toThrow() // nothing was dead-lettered
})

describe('keyshift gate', () => {
  it('exits 0 when every rule passes', async () => {
    const r = await runKeyshift(['gate', '--key', 'acme', '--version', 'v1', '-c', cfg])
    expect(r.code).toBe(0)
    expect(r.stdout.split('\n')[0]).toBe('READY: acme v1 may be deactivated.')
  })

  it('exits 2 when a place that carried the key is silent longer than its bound, naming it', async () => {
    // The same store, with the default 5 min bound: gw-1 and the log were last heard an hour ago.
    const strict = join(dir, 'strict.yaml')
    writeFileSync(
      strict,
      readFileSync(cfg, 'utf8').replace(/silent_after_ms: \d+/, 'silent_after_ms: 300000'),
    )
    const r = await runKeyshift(['gate', 'acme', 'v1', '-c', strict, '--json'])
    expect(r.code).toBe(2)
    const v = JSON.parse(r.stdout)
    expect(v.verdict).toBe('unknown')
    const rule = v.rules.find((x: { id: string }) => x.id === 'places_reporting')
    expect(rule.outcome).toBe('unknown')
    expect(
      rule.places.map((p: { kind: string; name: string; silent: boolean }) => [p.kind, p.name, p.silent]),
    ).toEqual([
      ['gateway', 'gw-1', true],
      ['source', `file:${join(dir, 'gateway.log')}`, true],
    ])
    expect(rule.detail).toMatch(/^gateway gw-1 silent for \d+ s \(since .+Z, bound 300 s\); source file:/)
  })

  it('exits 1 while the old version carries traffic, naming the failing rule', async () => {
    const r = await runKeyshift(['gate', 'beta', 'v1', '-c', cfg, '--json'])
    expect(r.code).toBe(1)
    const v = JSON.parse(r.stdout)
    expect(v.verdict).toBe('not_ready')
    expect(
      v.rules.filter((x: { outcome: string }) => x.outcome !== 'pass').map((x: { id: string }) => x.id),
    ).toEqual(['old_traffic_below_threshold'])
    expect(v.rules.find((x: { id: string }) => x.id === 'old_traffic_below_threshold').numbers.requests).toBe(
      5,
    )
  })

  it('exits 2 for an unknown version and, in GitHub Actions, annotates and writes the job summary', async () => {
    const summary = join(dir, 'summary.md')
    writeFileSync(summary, '')
    const r = await runKeyshift(['gate', '--key', 'acme', '--version', 'v9', '-c', cfg], {
      env: {
        GITHUB_ACTIONS: 'true',
        GITHUB_STEP_SUMMARY: summary,
        GITHUB_ACTOR: 'octocat',
        GITHUB_RUN_ID: '42',
      },
    })
    expect(r.code).toBe(2)
    const lines = r.stdout.trim().split('\n')
    expect(lines[0]).toBe(
      'UNKNOWN: keyshift cannot tell whether acme v9 may be deactivated (failing closed).',
    )
    expect(lines.at(-1)!.startsWith('::warning title=keyshift gate%3A acme v9 unknown::')).toBe(true)
    const md = readFileSync(summary, 'utf8')
    expect(md.split('\n').slice(0, 4)).toEqual([
      '### keyshift gate: `acme` `v9` → **unknown**',
      '',
      '| | rule | detail |',
      '|---|---|---|',
    ])
  })

  it('records who asked in the audit log', async () => {
    const r = await runKeyshift(['gate', 'acme', 'v1', '-c', cfg, '--asked-by', 'release-pipeline'])
    expect(r.code).toBe(0)
    const rows = await withStore(join(dir, 'data'), (c) =>
      queryRows<{ asked_by: string; via: string; verdict: string }>(
        c,
        "SELECT asked_by, via, verdict FROM keyshift.readiness_audit WHERE key_id = 'acme' AND version = 'v1' ORDER BY time",
      ),
    )
    expect(rows.at(-1)).toEqual({ asked_by: 'release-pipeline', via: 'cli', verdict: 'ready' })
  })

  it('exits 2 without creating a store when the configuration names none', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ks-gate-empty-'))
    const other = writeConfig(empty, {
      data_dir: join(empty, 'data'),
      log: { level: 'warn' },
      secrets: { pepper: 'gate-pepper-0123456789abcdef' },
    })
    const r = await runKeyshift(['gate', 'acme', 'v1', '-c', other])
    expect(r.code).toBe(2)
    expect(r.stdout).toContain(
      `no keyshift store in ${join(empty, 'data', 'chdb')}: ask the running keyshift instead`,
    )
    expect(existsSync(join(empty, 'data'))).toBe(false)
  })

  it('exits 2 pointing at --url while the daemon holds the embedded store', async () => {
    const d = spawnKeyshift(['run', '-c', cfg])
    try {
      await waitFor('the daemon serves', async () => (await fetch(`http://127.0.0.1:${port}/healthz`)).ok, {
        timeoutMs: 60_000,
      })
      const r = await runKeyshift(['gate', 'acme', 'v1', '-c', cfg])
      expect(r.code).toBe(2)
      expect(r.stdout).toContain(
        `the embedded store in ${join(dir, 'data', 'chdb')} is held by another keyshift process (the daemon?): ask the running keyshift instead: --url http://127.0.0.1:${port} (or $KEYSHIFT_URL)`,
      )
      // Read commands ask the daemon instead, with --url.
      const url = `http://127.0.0.1:${port}`
      const list = await runKeyshift(['key', 'list', '--url', url, '--json'])
      expect(list.code).toBe(0)
      expect(
        (JSON.parse(list.stdout) as { keyId: string; version: string; state: string }[]).map(
          (v) => `${v.keyId} ${v.version} ${v.state}`,
        ),
      ).toEqual(['acme v1 deprecated', 'acme v2 active', 'beta v1 deprecated', 'beta v2 active'])
      const status = await runKeyshift([
        'status',
        '--url',
        url,
        '--key',
        'beta',
        '--lookback',
        '2h',
        '--json',
      ])
      expect(status.code).toBe(0)
      const [beta] = JSON.parse(status.stdout) as {
        keyId: string
        versions: { version: string; verdict?: string; stragglers?: unknown[]; moved?: number }[]
      }[]
      // Each of beta's three clients sent v1, then only v2: moved, while v1's traffic is too recent to switch it off.
      expect(beta?.versions[0]).toMatchObject({
        version: 'v1',
        verdict: 'not_ready',
        stragglers: [],
        moved: 3,
      })
    } finally {
      expect(await stop(d)).toBe(0)
    }
  })

  it.each([
    { args: ['gate', 'acme', 'v1'], code: 0, says: 'READY: acme v1 may be deactivated.' },
    { args: ['gate', 'beta', 'v1'], code: 1, says: 'NOT READY' },
    { args: ['gate', 'acme', 'v9'], code: 2, says: 'UNKNOWN' },
    { args: ['gate', '--bogus', 'acme', 'v1'], code: 2, says: "error: unknown option '--bogus'" },
    { args: ['gate'], code: 2, says: 'give the key and version' },
    {
      args: ['gate', 'acme', 'v1', '--url', 'CLOSED'],
      code: 2,
      says: 'cannot reach keyshift at CLOSED/api/v1/keys/acme/versions/v1/readiness',
    },
    {
      args: ['key', 'list', '--url', 'CLOSED'],
      code: 2,
      says: 'cannot reach keyshift at CLOSED/api/v1/keys: ECONNREFUSED',
    },
    { args: ['status', '--lookback', 'soon'], code: 2, says: '--lookback: "soon" is not a duration' },
    { args: ['no-such-command'], code: 2, says: "error: unknown command 'no-such-command'" },
  ])('exit code table: keyshift $args → $code', async ({ args, code, says }) => {
    // CLOSED: a loopback port nothing listens on.
    const closed = `http://127.0.0.1:${closedPort}`
    const argv = args.map((a) => (a === 'CLOSED' ? closed : a))
    const r = await runKeyshift([
      ...argv,
      ...(args.includes('--url') || args[0] === 'no-such-command' ? [] : ['-c', cfg]),
    ])
    expect(r.code).toBe(code)
    expect(r.stdout + r.stderr).toContain(says.replace('CLOSED', closed))
  })
})
