// bench:engine-insert — the embedded engine's share of ingest, alone: the
// event store's write of flushes of realistic encoded events (no Kafka, no
// decoding), so the engine's CPU per event (parse, the five materialized
// rollups, part writing, merges) is measured apart from Node's. Variants drop
// each rollup view in turn, to cost them one by one.
//   node --import tsx bench/engine-insert.ts   (KEYSHIFT_BENCH_EVENTS, default 300000)
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@clickhouse/client'
import { createChdbConnection } from 'chdb/connection'
import type { AuthEvent } from '../src/domain/auth-event.ts'
import type { PartitionBatch } from '../src/ingest/store-port.ts'
import { COMMON_SETTINGS } from '../src/store/clickhouse/client.ts'
import { EventStore, encodeEvent } from '../src/store/clickhouse/event-store.ts'
import { migrate } from '../src/store/clickhouse/migrations.ts'
import { runBench } from './run.ts'

const EVENTS = Number(process.env.KEYSHIFT_BENCH_EVENTS ?? 300_000)
const FLUSH = 25_000
const PARTITIONS = 8
const variant = process.argv[2] ?? 'all'

const cpu = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
/** CPU seconds of the threads but the main one (the engine's). */
function engineCpu(): number {
  let sum = 0
  for (const tid of readdirSync('/proc/self/task')) {
    if (Number(tid) === process.pid) continue
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
      sum += (Number(f[11]) + Number(f[12])) / 100
    } catch {
      // the thread ended
    }
  }
  return sum
}

function event(i: number, now: number): AuthEvent {
  const client = i % 3001
  return {
    eventId: `r${i.toString(36)}`,
    time: now - 3_600_000 + (i % 3_600_000),
    keyId: `key-${client % 400}`,
    keyVersion: client % 4 === 0 ? 'v1' : 'v2',
    keyFingerprint: '',
    outcome: i % 50 === 0 ? 'failure' : 'success',
    reason: i % 50 === 0 ? 'unknown_key' : 'none',
    status: i % 50 === 0 ? 401 : 200,
    clientId: `client-${client}`,
    sourceAddress: `198.51.100.${client % 250}`,
    userAgent: `sdk-go/1.${client % 9}`,
    method: i % 5 ? 'GET' : 'POST',
    route: `/v1/orders/${i % 977}`,
    gateway: 'kong-bench',
    latencyMs: 5 + (i % 90),
    identitySource: 'credential',
  } as AuthEvent
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-engine-'))
  const client = createClient({
    connection: createChdbConnection({ path: join(dir, 'chdb') }) as never,
    clickhouse_settings: COMMON_SETTINGS,
  })
  await migrate(client, 'keyshift', { rawDays: 30, rollupDays: 400 })
  for (const view of variant === 'all'
    ? []
    : variant === 'none'
      ? [
          'auth_minute_mv',
          'auth_minute_clients_mv',
          'auth_places_minute_mv',
          'auth_key_places_minute_mv',
          'auth_key_history_mv',
        ]
      : [variant])
    await client.command({ query: `DROP VIEW keyshift.${view}` })
  const store = new EventStore(client, 'keyshift', Date.now, join(dir, 'spool'))
  const now = Date.now()
  const next = new Array<bigint>(PARTITIONS).fill(0n)
  const flushes: PartitionBatch[][] = []
  for (let from = 0; from < EVENTS; from += FLUSH) {
    const batches: PartitionBatch[] = []
    for (let p = 0; p < PARTITIONS; p++) {
      const events = []
      for (let i = from + p; i < Math.min(from + FLUSH, EVENTS); i += PARTITIONS)
        events.push(encodeEvent(event(i, now), 'kafka:bench', p, next[p]! + BigInt(events.length)))
      const first = next[p]!
      next[p] = first + BigInt(events.length)
      batches.push({
        source: 'kafka:bench',
        partition: p,
        firstOffset: first,
        lastOffset: next[p]! - 1n,
        nextOffset: next[p]!,
        events,
        deadLetters: [],
        meta: '',
        epoch: 0,
        ver: BigInt(flushes.length * 2 + 1),
        flush: `f${flushes.length}`,
      })
    }
    flushes.push(batches)
  }
  const t0 = performance.now()
  const c0 = { main: cpu() - engineCpu(), engine: engineCpu() }
  for (const batches of flushes) await store.write(batches)
  // Merges the inserts started: wait for the background work to settle.
  const wall = (performance.now() - t0) / 1000
  for (let quiet = 0, last = engineCpu(); quiet < 5; ) {
    await new Promise((r) => setTimeout(r, 200))
    const nowCpu = engineCpu()
    quiet = nowCpu - last < 0.02 ? quiet + 1 : 0
    last = nowCpu
  }
  const c1 = { main: cpu() - engineCpu(), engine: engineCpu() }
  const µs = (s: number) => `${((s / EVENTS) * 1e6).toFixed(2)} µs`
  console.log(
    `${variant}: ${EVENTS} events in ${flushes.length} flushes, ${(EVENTS / wall).toFixed(0)} events/s while writing; ` +
      `CPU per event: engine threads ${µs(c1.engine - c0.engine)}, main thread ${µs(c1.main - c0.main)}`,
  )
  await client.close()
  rmSync(dir, { recursive: true, force: true })
}

runBench(main)
