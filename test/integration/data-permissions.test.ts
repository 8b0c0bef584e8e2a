// The data directory holds auth events, lifecycle notes, the pepper, dead
// letters and the embedded engine's parts: only the user running keyshift may
// read it. A fresh start through createApp (embedded ClickHouse, a stdin source
// with good and bad lines, a lifecycle event) must leave every directory it
// created 0700 and every file 0600, and must warn about an existing data
// directory that is open to others.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { PassThrough, Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { parseLifecycle } from '../../src/registry/lifecycle-input.ts'
import { createLogger } from '../../src/telemetry/logger.ts'
import { kongLine } from '../support/records.ts'

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name)
    return e.isDirectory() ? [p, ...walk(p)] : [p]
  })
}
const modeOf = (p: string) => `0${(statSync(p).mode & 0o777).toString(8)}`

describe('data directory permissions', () => {
  it('creates directories 0700 and files 0600, and warns about a data dir open to others', async () => {
    const root = mkdtempSync(join(tmpdir(), 'ks-perms-'))
    const data = join(root, 'data')
    // An existing data directory, as an older release or a careless mkdir left it.
    mkdirSync(data)
    chmodSync(data, 0o755)
    const logs: string[] = []
    const sink = new Writable({
      write(chunk, _enc, cb) {
        logs.push(...String(chunk).split('\n').filter(Boolean))
        cb()
      },
    })
    const stdin = new PassThrough()
    const app = await createApp(
      parseConfig({
        instance: 'perms',
        data_dir: data,
        http: { enabled: false },
        sources: [{ type: 'stdin', decoder: { preset: 'kong' } }],
        ingest: { batch_max_wait_ms: 50 },
      }),
      { logger: createLogger({ level: 'info', destination: sink }), stdin },
    )
    await app.start()
    const now = Date.now()
    stdin.end(
      `${kongLine({ i: 1, time: now - 1_000 })}\nnot json at all\n${kongLine({ i: 2, time: now - 500 })}\n`,
    )
    await app.stdinDone()
    await app.keys.record([
      parseLifecycle(
        { key_id: 'acme', version: 'v2', action: 'create', note: 'rotation' },
        { now, fingerprint: app.fingerprint, origin: 'test', defaultEventId: 'perms-1' },
      ),
    ])
    await app.stop()

    const warned = logs
      .map((l) => JSON.parse(l) as { level: string; path?: string; mode?: string })
      .filter((l) => l.level === 'warn' && l.path !== undefined)
      .map((l) => ({ path: l.path, mode: l.mode }))
    expect(warned).toEqual([{ path: data, mode: '0755' }])

    const entries = walk(data)
    const rel = (p: string) => relative(data, p)
    // What was created: the pepper, the dead letters and the engine's files.
    expect(entries.map(rel)).toEqual(expect.arrayContaining(['pepper', 'dead-letters.ndjson', 'chdb']))
    expect(entries.filter((p) => rel(p).startsWith('chdb/')).length).toBeGreaterThan(10)
    const open = entries
      .filter((p) => modeOf(p) !== (statSync(p).isDirectory() ? '0700' : '0600'))
      .map((p) => `${rel(p)} ${modeOf(p)}`)
    expect(open).toEqual([])
  })
})
