// Poison records and a failing store on the real embedded engine. A lone UTF-16
// surrogate in a file source's line used to fail its whole batch with
// ClickHouse code 25, retried forever: nothing more was stored, /readyz said
// ready and SIGTERM hung. Now text is normalised at decode, a row the store
// still refuses is found and dead-lettered, a failing store shows on /readyz,
// and SIGTERM finishes whatever the store does.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import type { AuthEvent } from '../../src/domain/auth-event.ts'
import { DecodeError } from '../../src/domain/errors.ts'
import { type DeadLetter, IngestPipeline, STORE_REFUSED_REASON } from '../../src/ingest/pipeline.ts'
import { createStoreClient } from '../../src/store/clickhouse/client.ts'
import { EventStore } from '../../src/store/clickhouse/event-store.ts'
import { migrate } from '../../src/store/clickhouse/migrations.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { createRegistry } from '../../src/telemetry/metrics.ts'
import { freePort, spawnKeyshift, waitFor, writeConfig } from '../support/daemon.ts'
import { kongRecord } from '../support/records.ts'
import { queryRows, storeCounts, withStore } from '../support/store-probe.ts'

const PEPPER = 'poison-pepper-0123456789'
const now = Date.now()

/** Kong lines `from`…`from+n-1`; those in `poison` carry a lone surrogate (`"\ud800"` in the JSON) in the user agent. */
function lines(from: number, n: number, poison: (i: number) => boolean = () => false): string {
  let out = ''
  for (let i = from; i < from + n; i++) {
    const rec = kongRecord({ i, time: now - 120_000 + i })
    let line = JSON.stringify(rec)
    if (poison(i)) line = line.replace('"client-sdk/', '"client-sdk\\ud800/')
    out += `${line}\n`
  }
  return out
}

function daemonConfig(dir: string, log: string, port: number): string {
  return writeConfig(dir, {
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
    ingest: { batch_max_wait_ms: 100, heartbeat_interval_ms: 200, retry_base_ms: 50, retry_max_ms: 500 },
    secrets: { pepper: PEPPER },
  })
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  let sum = 0
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'gm'))) sum += Number(m[1])
  return sum
}

describe('poison records on the embedded engine', () => {
  it('a lone surrogate in a file source is stored as U+FFFD: stored + dead-lettered == written, and ingest goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-poison-'))
    const log = join(dir, 'kong.log')
    // 2 000 lines, every 50th with a lone surrogate; 3 lines that are not JSON.
    writeFileSync(
      log,
      `${lines(0, 1_000, (i) => i % 50 === 7)}{"broken\n${lines(1_000, 1_000, (i) => i % 50 === 7)}`,
    )
    const port = await freePort()
    const d = spawnKeyshift(['run', '-c', daemonConfig(dir, log, port)])
    const url = `http://127.0.0.1:${port}`
    try {
      await waitFor(
        '2 000 stored',
        async () => (await metric(url, 'keyshift_events_ingested_total')) === 2_000,
        {
          timeoutMs: 90_000,
        },
      )
      // Ingest goes on after the poison lines.
      appendFileSync(log, `${lines(2_000, 500, (i) => i % 50 === 7)}not json either\n`)
      await waitFor(
        '2 500 stored',
        async () => (await metric(url, 'keyshift_events_ingested_total')) === 2_500,
        {
          timeoutMs: 90_000,
        },
      )
      await waitFor('2 dead letters', async () => (await metric(url, 'keyshift_events_rejected_total')) === 2)
      expect(await metric(url, 'keyshift_store_write_errors_total')).toBe(0)
      expect((await fetch(`${url}/readyz`)).status).toBe(200)
    } finally {
      await d.kill('SIGTERM')
    }
    const written = 2_502
    const counts = await withStore(join(dir, 'data'), (c) => storeCounts(c))
    expect(counts.events + counts.deadLetters).toBe(written)
    expect(counts).toMatchObject({ events: 2_500, distinctEvents: 2_500, deadLetters: 2 })
    const [ua] = await withStore(join(dir, 'data'), (c) =>
      queryRows<{ n: number }>(
        c,
        `SELECT count() AS n FROM keyshift.auth_events WHERE user_agent LIKE '%\uFFFD%'`,
      ),
    )
    expect(Number(ua!.n)).toBe(50)
  }, 240_000)

  it('a row the store refuses is found by probing, dead-lettered with the reason, and the rest stored once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-poison-split-'))
    const store = createStoreClient(parseConfig({ data_dir: join(dir, 'data') }))
    try {
      await migrate(store.client, 'keyshift', { rawDays: 30, rollupDays: 400 })
      const events = new EventStore(store.client, 'keyshift', Date.now, join(dir, 'spool'))
      // A decoder that does not normalise text: the store itself must refuse the row.
      const decoder = {
        decodeAll(bytes: Buffer) {
          return { events: [this.decode(bytes)], skipped: 0 }
        },
        decode(bytes: Buffer): AuthEvent {
          const d = JSON.parse(bytes.toString('utf8')) as { t: number; ua: string }
          if (typeof d.t !== 'number') throw new DecodeError('missing_time', 'no time')
          return {
            eventId: `e${d.t}`,
            time: d.t,
            keyId: 'poison-key',
            keyVersion: 'v1',
            keyFingerprint: '',
            identitySource: 'key_id',
            outcome: 'success',
            reason: 'none',
            status: 200,
            clientId: 'c',
            sourceAddress: '10.0.0.1',
            userAgent: d.ua,
            method: 'GET',
            route: '/',
            gateway: 'g',
            latencyMs: 1,
          }
        },
      }
      const letters: DeadLetter[] = []
      const pipeline = new IngestPipeline({
        store: events,
        decoderFor: () => decoder,
        deadLetters: { send: async (l) => void letters.push(...l) },
        scrub: (b) => b,
        logger: silentLogger(),
        registry: createRegistry(),
        batchMaxEvents: 10_000,
        batchMaxWaitMs: 10,
        retryBaseMs: 10,
        retryMaxMs: 100,
        groupsPartitions: () => true,
      })
      const source = 'kafka:poison'
      const poison = new Set([3, 517, 998])
      const recs = Array.from({ length: 1_000 }, (_, i) => ({
        value: Buffer.from(`{"t":${now - 60_000 + i},"ua":"agent-${poison.has(i) ? '\\ud800' : ''}${i}"}`),
        partition: i % 2,
        offset: BigInt(i),
        nextOffset: BigInt(i + 1),
      }))
      await pipeline.positions(source)
      await Promise.all([
        pipeline.submit(
          source,
          0,
          recs.filter((r) => r.partition === 0),
        ),
        pipeline.submit(
          source,
          1,
          recs.filter((r) => r.partition === 1),
        ),
      ])
      await pipeline.stop()
      const [r] = await queryRows<Record<string, number>>(
        store.client,
        `SELECT (SELECT count() FROM keyshift.auth_events WHERE src = {s:String}) AS stored,
           (SELECT uniqExact(src_partition, src_offset) FROM keyshift.auth_events WHERE src = {s:String}) AS distinct,
           (SELECT count() FROM keyshift.dead_letters WHERE src = {s:String} AND reason = {r:String}) AS dead,
           (SELECT sum(requests) FROM keyshift.auth_minute WHERE key_id = 'poison-key') AS rollup`,
        { s: source, r: STORE_REFUSED_REASON },
      )
      expect({
        stored: Number(r!.stored),
        distinct: Number(r!.distinct),
        dead: Number(r!.dead),
        rollup: Number(r!.rollup),
      }).toEqual({ stored: 997, distinct: 997, dead: 3, rollup: 997 })
      expect(letters.map((l) => Number(l.offset)).sort((a, b) => a - b)).toEqual([3, 517, 998])
      expect(letters[0]!.detail).toContain('ClickHouse code 25')
    } finally {
      await store.close()
    }
  }, 120_000)
})

describe('SIGTERM while the store fails', () => {
  it('the daemon reports not ready with the reason, exits on SIGTERM, and a restart stores every line once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-sigterm-'))
    const log = join(dir, 'kong.log')
    writeFileSync(log, lines(0, 300))
    const port = await freePort()
    const cfg = daemonConfig(dir, log, port)
    const url = `http://127.0.0.1:${port}`
    const spool = join(dir, 'data', 'spool')
    const d = spawnKeyshift(['run', '-c', cfg])
    let exitCode: number | null = -1
    let stopMs = 0
    try {
      await waitFor('300 stored', async () => (await metric(url, 'keyshift_events_ingested_total')) === 300, {
        timeoutMs: 90_000,
      })
      // Every write from now on fails: the engine's spool directory is a file.
      rmSync(spool, { recursive: true, force: true })
      writeFileSync(spool, 'not a directory')
      appendFileSync(log, lines(300, 200))
      const body = await waitFor(
        'not ready',
        async () => {
          const r = await fetch(`${url}/readyz`)
          return r.status === 503
            ? ((await r.json()) as { checks: { name: string; ok: boolean; detail?: string }[] })
            : false
        },
        { timeoutMs: 60_000 },
      )
      const ingest = body.checks.find((c) => c.name === 'ingest')!
      expect(ingest.ok).toBe(false)
      expect(ingest.detail).toMatch(/storing a batch failed \d+ time\(s\) since .*ENOTDIR/)
      const started = Date.now()
      d.proc.kill('SIGTERM')
      exitCode = await waitFor(
        'exit after SIGTERM',
        async () => (d.proc.exitCode ?? false) as number | false,
        {
          timeoutMs: 60_000,
          intervalMs: 50,
        },
      ).catch(() => null)
      stopMs = Date.now() - started
    } finally {
      await d.kill('SIGKILL')
    }
    // Reported, not asserted (no timed assertions): the bound is the pipeline's 5 s plus the rest.
    console.info(`SIGTERM to exit while every store write failed: ${stopMs} ms`)
    expect(exitCode).toBe(0)

    rmSync(spool, { force: true })
    mkdirSync(spool)
    const again = spawnKeyshift(['run', '-c', cfg])
    try {
      await waitFor(
        'the other 200 stored',
        async () => (await metric(url, 'keyshift_events_ingested_total')) >= 200,
        {
          timeoutMs: 90_000,
        },
      )
    } finally {
      await again.kill('SIGTERM')
    }
    const counts = await withStore(join(dir, 'data'), (c) => storeCounts(c))
    expect(counts).toMatchObject({ events: 500, distinctEvents: 500, rollupRequests: 500, deadLetters: 0 })
  }, 300_000)
})
