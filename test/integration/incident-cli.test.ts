// `keyshift incident` and `keyshift gate --accept-breakage` as an operator runs
// them on the store (no daemon running): a leaked version with two known users,
// one moved and one still on it; the gate under incident rules refuses until the
// breakage is accepted with who and why, and the report records each step.
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { freePort, runKeyshift, spawnKeyshift, waitFor, writeConfig } from '../support/daemon.ts'

const DAY = 86_400_000
const HOUR = 3_600_000
const dir = mkdtempSync(join(tmpdir(), 'ks-incident-cli-'))
const now = Date.now()
const openedAt = now - 2 * HOUR
let cfg = ''
let id = ''

function event(i: number, client: string, version: string, time: number) {
  return JSON.stringify({
    eventId: `i-${i}`,
    time,
    keyId: 'ledger',
    keyVersion: version,
    status: 200,
    clientId: client,
    sourceAddress: client === 'app' ? '10.0.0.1' : '10.0.0.2',
    userAgent: `${client}/1`,
    method: 'GET',
    route: '/v1/entries',
    gateway: 'gw-1',
    latencyMs: 3,
  })
}

const json = <T>(s: string) => JSON.parse(s) as T

beforeAll(async () => {
  const port = await freePort()
  const iso = (t: number) => new Date(t).toISOString()
  writeFileSync(
    join(dir, 'keys.json'),
    JSON.stringify([
      { key_id: 'ledger', version: 'v1', action: 'create', time: iso(now - 30 * DAY) },
      { key_id: 'ledger', version: 'v1', action: 'activate', time: iso(now - 30 * DAY + 1) },
      { key_id: 'ledger', version: 'v2', action: 'create', time: iso(now - 90 * 60_000) },
      { key_id: 'ledger', version: 'v2', action: 'activate', time: iso(now - 90 * 60_000 + 1) },
    ]),
  )
  // Before the leak both clients use v1; after it, app moves to v2 and cron stays.
  const lines: string[] = []
  for (let i = 0; i < 4; i++) lines.push(event(i, 'app', 'v1', now - 3 * HOUR + i * 1000))
  for (let i = 4; i < 8; i++) lines.push(event(i, 'cron', 'v1', now - 3 * HOUR + i * 1000))
  for (let i = 8; i < 12; i++) lines.push(event(i, 'app', 'v2', now - HOUR + i * 1000))
  for (let i = 12; i < 14; i++) lines.push(event(i, 'cron', 'v1', now - HOUR + i * 1000))
  writeFileSync(join(dir, 'gateway.log'), `${lines.join('\n')}\n`)
  cfg = writeConfig(dir, {
    data_dir: join(dir, 'data'),
    log: { level: 'warn' },
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
    secrets: { pepper: 'incident-cli-pepper-0123456789' },
  })
  const d = spawnKeyshift(['run', '-c', cfg])
  await waitFor(
    'all 14 events stored',
    async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
      return /keyshift_events_ingested_total\{[^}]*\} 14$/m.test(text)
    },
    { timeoutMs: 60_000 },
  )
  await new Promise((r) => setTimeout(r, 600)) // a heartbeat written while caught up
  expect(await d.kill('SIGTERM')).toBe(0)
})

describe('keyshift incident', () => {
  it('refuses a reason outside leaked, suspected, compromised, naming the field', async () => {
    const r = await runKeyshift([
      'incident',
      'open',
      '-k',
      'ledger',
      '-v',
      'v1',
      '--reason',
      'oops',
      '-c',
      cfg,
    ])
    expect(r.code).not.toBe(0)
    expect(r.stderr).toContain('reason: must be one of leaked, suspected, compromised')
  })

  it('opens at the leak with both earlier users in the snapshot', async () => {
    const r = await runKeyshift([
      'incident',
      'open',
      '-k',
      'ledger',
      '-v',
      'v1',
      '--reason',
      'leaked',
      '--at',
      String(openedAt),
      '--actor',
      'secops',
      '--json',
      '-c',
      cfg,
    ])
    expect(r.code).toBe(0)
    const o = json<{
      created: boolean
      incident: { id: string; state: string; snapshot: { users: number } }
    }>(r.stdout)
    expect([o.created, o.incident.state, o.incident.snapshot.users]).toEqual([true, 'open', 2])
    id = o.incident.id
    const list = await runKeyshift(['incident', 'list', '--state', 'open', '--json', '-c', cfg])
    expect(json<{ id: string }[]>(list.stdout).map((i) => i.id)).toEqual([id])
  })

  it('gates under incident rules: not ready while cron is on v1, naming it', async () => {
    const r = await runKeyshift(['gate', 'ledger', 'v1', '--json', '-c', cfg])
    expect(r.code).toBe(1)
    const v = json<{
      verdict: string
      incidentId: string
      rules: { id: string; outcome: string; detail: string }[]
    }>(r.stdout)
    expect([v.verdict, v.incidentId]).toEqual(['not_ready', id])
    const failing = v.rules.filter((x) => x.outcome !== 'pass')
    expect(failing.map((x) => x.id)).toEqual(['known_users_moved'])
    expect(failing[0]!.detail).toContain('cron')
    expect(v.rules.map((x) => x.id)).not.toContain('min_overlap_elapsed')
  })

  it('needs --why to accept breakage, then is ready with who and why recorded', async () => {
    const bare = await runKeyshift(['gate', 'ledger', 'v1', '--accept-breakage', '-c', cfg])
    expect(bare.code).toBe(2)
    expect(bare.stderr).toContain('--accept-breakage needs --why')
    const r = await runKeyshift([
      'gate',
      'ledger',
      'v1',
      '--accept-breakage',
      '--why',
      'cron is retired tonight',
      '--asked-by',
      'ciso',
      '--json',
      '-c',
      cfg,
    ])
    expect(r.code).toBe(0)
    expect(json<{ verdict: string }>(r.stdout).verdict).toBe('ready')
    const show = await runKeyshift(['incident', 'show', id, '--json', '-c', cfg])
    const view = json<{
      incident: { acceptedBreakage: { by: string; why: string; users: string[] } }
      knownUsers: { clientId: string; state: string }[]
    }>(show.stdout)
    expect(view.incident.acceptedBreakage).toMatchObject({ by: 'ciso', why: 'cron is retired tonight' })
    expect(view.incident.acceptedBreakage.users).toEqual(['cron|10.0.0.2|cron/1'])
    expect(view.knownUsers.map((u) => [u.clientId, u.state])).toEqual([
      ['cron', 'on_version'],
      ['app', 'moved'],
    ])
  })

  it('closes, then reports the timeline, and the gate is back to the planned rules', async () => {
    const c = await runKeyshift([
      'incident',
      'close',
      id,
      '--actor',
      'secops',
      '--note',
      'v1 revoked',
      '-c',
      cfg,
    ])
    expect(c.code).toBe(0)
    expect(c.stdout).toContain(`closed ${id}`)
    const again = await runKeyshift(['incident', 'close', id, '-c', cfg])
    expect(again.code).not.toBe(0)
    expect(again.stderr).toContain('already closed by secops')
    const r = await runKeyshift(['incident', 'report', id, '--format', 'json', '-c', cfg])
    const report = json<{ summary: { state: string }; timeline: { step: string; detail: string }[] }>(
      r.stdout,
    )
    expect(report.summary.state).toBe('closed')
    const steps = report.timeline.map((t) => t.step)
    for (const s of [
      'opened',
      'snapshot_taken',
      'new_version_activated',
      'known_user_moved',
      'breakage_accepted',
    ])
      expect(steps).toContain(s)
    expect(steps.at(-1)).toBe('closed')
    expect(report.timeline.find((t) => t.step === 'known_user_moved')!.detail).toContain('app')
    const md = await runKeyshift(['incident', 'report', id, '-c', cfg])
    expect(md.stdout.split('\n')[0]).toBe(`# Incident ${id}: ledger v1 (leaked)`)
    const gate = await runKeyshift(['gate', 'ledger', 'v1', '--json', '-c', cfg])
    const v = json<{ incidentId?: string; rules: { id: string }[] }>(gate.stdout)
    expect(v.incidentId).toBeUndefined()
    expect(v.rules.map((x) => x.id)).toContain('min_overlap_elapsed')
  })
})
