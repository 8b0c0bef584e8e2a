// The daemon as an operator meets it: `keyshift run` following a log file
// through rotation, serving /healthz, /readyz and /metrics; `keyshift replay`
// backfilling a file exactly once; `keyshift config check`; `--help` everywhere.
import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { freePort, runKeyshift, spawnKeyshift, waitFor, writeConfig } from '../support/daemon.ts'
import { kongLine } from '../support/records.ts'
import { queryRows, storeCounts, withStore } from '../support/store-probe.ts'

const PEPPER = 'surface-pepper-0123456789'
const now = Date.now()
const lines = (from: number, n: number) =>
  Array.from({ length: n }, (_, k) => `${kongLine({ i: from + k, time: now - 120_000 + k })}\n`).join('')

describe('keyshift run with a file source', () => {
  it('follows the file across rotation, serves health, readiness and metrics, and stores every line once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-surface-'))
    const log = join(dir, 'kong.log')
    writeFileSync(log, lines(0, 500))
    const port = await freePort()
    const cfg = writeConfig(dir, {
      data_dir: join(dir, 'data'),
      log: { level: 'warn' },
      http: { port },
      sources: [
        {
          type: 'file',
          path: log,
          decoder: { preset: 'kong', default_gateway: 'kong-file' },
          poll_interval_ms: 50,
        },
      ],
      ingest: { batch_max_wait_ms: 100, heartbeat_interval_ms: 200 },
      secrets: { pepper: PEPPER },
      // The log's lines are 2 min old and stop there: an hour's bound keeps its places reporting.
      analysis: { freshness: { silent_after_ms: 3_600_000 } },
    })
    const d = spawnKeyshift(['run', '-c', cfg])
    const url = `http://127.0.0.1:${port}`
    const ingested = async () => {
      const text = await (await fetch(`${url}/metrics`)).text()
      const m = /keyshift_events_ingested_total\{source="file:[^"]+"\} (\d+)/.exec(text)
      return m ? Number(m[1]) : 0
    }
    try {
      await waitFor('healthz', async () => (await fetch(`${url}/healthz`)).ok, { timeoutMs: 60_000 })
      expect(await (await fetch(`${url}/healthz`)).json()).toEqual({ status: 'ok' })
      await waitFor('first 500 lines', async () => (await ingested()) === 500, { timeoutMs: 60_000 })
      // The places check reads a snapshot at most a second old: the scrapes above may have
      // cached one taken before the first batch was stored.
      await waitFor(
        'both places heard from',
        async () => JSON.stringify(await (await fetch(`${url}/readyz`)).json()).includes('all 2 gateway(s)'),
        { timeoutMs: 30_000 },
      )
      const ready = await fetch(`${url}/readyz`)
      expect(ready.status).toBe(200)
      expect(await ready.json()).toEqual({
        status: 'ready',
        checks: [
          { name: 'store', ok: true },
          { name: 'ingest', ok: true, detail: 'storing' },
          { name: `source file:${log}`, ok: true, detail: 'consuming' },
          // The gateway (Kong's default_gateway) and the file its lines came through.
          {
            name: 'places',
            ok: true,
            detail: 'all 2 gateway(s) and source(s) heard from are reporting',
            silentPlaces: [],
          },
        ],
      })
      // Append, rotate (rename + new file), append to the new file.
      appendFileSync(log, lines(500, 300))
      renameSync(log, `${log}.1`)
      writeFileSync(log, lines(800, 200))
      await waitFor('all 1000 lines', async () => (await ingested()) === 1000, { timeoutMs: 60_000 })
      const metrics = await (await fetch(`${url}/metrics`)).text()
      for (const name of [
        'keyshift_events_rejected_total',
        'keyshift_ingest_batch_events_bucket',
        'keyshift_store_write_seconds_bucket',
        'keyshift_ingest_event_lag_seconds',
        'keyshift_ingest_newest_event_timestamp_seconds',
      ]) {
        expect(metrics).toContain(name)
      }
    } finally {
      expect(await d.kill('SIGTERM')).toBe(0)
    }
    const counts = await withStore(join(dir, 'data'), (c) => storeCounts(c))
    expect(counts).toEqual({
      events: 1000,
      distinctEvents: 1000,
      rollupRequests: 1000,
      clientRollupRequests: 1000,
      deadLetters: 0,
    })
    const gateways = await withStore(join(dir, 'data'), (c) =>
      queryRows<{ gateway: string; n: number }>(
        c,
        'SELECT gateway, count() AS n FROM keyshift.auth_events GROUP BY gateway',
      ),
    )
    expect(gateways.map((g) => ({ gateway: g.gateway, n: Number(g.n) }))).toEqual([
      { gateway: 'kong-file', n: 1000 },
    ])
  })
})

describe('keyshift replay', () => {
  it('backfills a file once, dead-letters bad lines, and stores nothing twice when run again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-replay-'))
    const file = join(dir, 'backfill.log')
    writeFileSync(file, `${lines(0, 1000)}not json\n{"started_at":1}\n`)
    const cfg = writeConfig(dir, { data_dir: join(dir, 'data'), secrets: { pepper: PEPPER } })
    const first = await runKeyshift(['replay', file, '--preset', 'kong', '-c', cfg, '--json'])
    expect(first.code).toBe(0)
    const s1 = JSON.parse(first.stdout)
    expect({ ...s1, seconds: undefined }).toEqual({
      file,
      lines: 1002,
      stored: 1000,
      deadLettered: 2,
      skipped: 0,
      notAuthTraffic: 0,
      reasons: { invalid_json: 1, time_out_of_range: 1 },
      seconds: undefined,
    })
    const second = await runKeyshift(['replay', file, '--preset', 'kong', '-c', cfg, '--json'])
    const s2 = JSON.parse(second.stdout)
    expect({
      lines: s2.lines,
      stored: s2.stored,
      skipped: s2.skipped,
      deadLettered: s2.deadLettered,
    }).toEqual({
      lines: 1002,
      stored: 0,
      skipped: 1002,
      deadLettered: 0,
    })
    const counts = await withStore(join(dir, 'data'), (c) => storeCounts(c))
    expect(counts.events).toBe(1000)
    expect(counts.deadLetters).toBe(2)
  })
})

describe('keyshift config check and --help', () => {
  it('validates a configuration without starting anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-check-'))
    const good = join(dir, 'good.yaml')
    writeFileSync(good, 'sources:\n  - type: stdin\n    decoder: { preset: envoy }\n')
    const ok = await runKeyshift(['config', 'check', good])
    expect(ok).toEqual({ code: 0, stdout: `configuration ${good} is valid\n`, stderr: '' })
    const bad = join(dir, 'bad.yaml')
    writeFileSync(bad, 'kafka:\n  brokers: [nohost]\n  topics: [x]\n')
    const r = await runKeyshift(['config', 'check', bad])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      `invalid configuration (${bad} + environment):\n` +
        '  - kafka.brokers.0: must be host:port\n' +
        '  - kafka: unknown key(s) "topics"; remove them or check the spelling against the configuration reference\n',
    )
  })

  it('rejects a route that names an unknown receiver', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-check-route-'))
    const file = join(dir, 'route.yaml')
    writeFileSync(
      file,
      'alerting:\n  routes:\n    - match: { severity: [critical] }\n      receivers: [nobody]\n',
    )
    const r = await runKeyshift(['config', 'check', file])
    expect(r).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'invalid alerting configuration:\n' +
        '  - alerting.routes[0].receivers: unknown receiver "nobody"; define it under alerting.receivers or fix the name (no receiver is defined yet)\n',
    })
  })

  it('prints help for every command', async () => {
    const commands = [
      [],
      ['run'],
      ['migrate'],
      ['replay'],
      ['config', 'check'],
      ['key'],
      ['key', 'create'],
      ['key', 'list'],
      ['key', 'fingerprint'],
      ['gate'],
      ['status'],
      ['detect'],
      ['simulate'],
      ['demo'],
      ['silence'],
      ['notify'],
    ]
    for (const c of commands) {
      const r = await runKeyshift([...c, '--help'])
      expect(r.code, `keyshift ${c.join(' ')} --help`).toBe(0)
      expect(r.stdout).toContain(`Usage: keyshift${c.length ? ` ${c.join(' ')}` : ''}`)
    }
  })
})
