// Exactly once across instances, on the server code path: two full daemons (the
// real CLI, `clickhouse.url` set) in one consumer group on the real broker, one
// shared store behind ClickHouse's HTTP interface (test/support/clickhouse-http).
// Each phase produces a bounded stream and hits it with one fault while it is in
// flight: a rebalance (a third member joins, then leaves), a SIGKILL of either
// member, the store going down, the store running inserts but losing their
// responses, the store answering every request with a retriable error. After each
// phase the store holds every produced event exactly once (total and distinct
// counts, and the requests both rollups count) and nothing was dead-lettered.
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse/client.ts'
import {
  type ClickHouseHttpServerProcess,
  spawnClickHouseHttpServer,
} from '../support/clickhouse-http/process.ts'
import type { OutageOptions } from '../support/clickhouse-http/server.ts'
import { type Daemon, spawnKeyshift, waitFor, writeConfig } from '../support/daemon.ts'
import { kongLine } from '../support/records.ts'
import { queryRows } from '../support/store-probe.ts'
import { createTopic, produceMessages, uniqueTopic } from './kafka-helpers.ts'

const PEPPER = 'cluster-pepper-0123456789abcdef'
const PARTITIONS = 6
/** Events per phase, produced in chunks so that the fault lands mid-stream. */
const PER_PHASE = 12_000
const CHUNK = 1_500
const EVENTS = 'keyshift.auth_events'

async function highWatermarks(brokers: string, topic: string): Promise<Map<number, bigint>> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: 'probe' })
  const admin = kafka.admin()
  await admin.connect()
  try {
    return new Map((await admin.fetchTopicOffsets(topic)).map((h) => [h.partition, BigInt(h.high)]))
  } finally {
    await admin.disconnect()
  }
}

/**
 * Caught up when the store's position of every partition is `committed` at the
 * high watermark. The store, not the group's Kafka offsets: those are committed
 * after the store write, for lag tooling only, so a member killed between the two
 * leaves a Kafka offset behind until that partition carries more records.
 */
async function caughtUp(store: StoreClient, brokers: string, topic: string): Promise<boolean> {
  const high = await highWatermarks(brokers, topic)
  const rows = await queryRows<{ p: number; state: string; next: string }>(
    store.client,
    `SELECT partition AS p, argMax(state, ver) AS state, toString(argMax(next_offset, ver)) AS next
     FROM keyshift.ingest_positions GROUP BY p`,
  )
  const stored = new Map(rows.map((r) => [Number(r.p), r]))
  return [...high].every(([p, h]) => {
    const r = stored.get(p)
    return h === 0n || (r !== undefined && r.state === 'committed' && BigInt(r.next) >= h)
  })
}

async function groupMembers(brokers: string, groupId: string): Promise<number> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: 'probe' })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const { groups } = await admin.describeGroups([groupId])
    return groups[0]?.state === 'Stable' ? groups[0].members.length : -1
  } finally {
    await admin.disconnect()
  }
}

interface Counts {
  produced: number
  stored: number
  distinctPositions: number
  distinctEvents: number
  /** Requests counted by each rollup (materialized views fed by the event inserts). */
  minuteRequests: number
  clientRequests: number
  deadLettered: number
}

describe('exactly once across two daemons sharing a store over HTTP', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-eo-cluster-'))
  let server: ClickHouseHttpServerProcess | undefined
  let probe: StoreClient | undefined
  const daemons = new Map<string, Daemon>()

  afterAll(async () => {
    for (const d of daemons.values()) await d.kill('SIGKILL')
    await probe?.close()
    await server?.close()
  })

  it('stored == produced after rebalances, a SIGKILL of each member and store outages', async () => {
    const brokers = inject('kafkaBrokers')
    const topic = uniqueTopic('eo-cluster')
    const groupId = `g-${topic}`
    await createTopic(brokers, topic, PARTITIONS)
    server = await spawnClickHouseHttpServer(join(dir, 'store'), { users: { keyshift: 'ks-secret' } })
    const clickhouse = {
      url: server.url,
      username: 'keyshift',
      password: 'ks-secret',
      request_timeout_ms: 10_000,
    }
    probe = createStoreClient(parseConfig({ clickhouse }))
    const configFor = (name: string) => {
      const home = join(dir, name)
      mkdirSync(home)
      return writeConfig(home, {
        instance: name,
        data_dir: join(home, 'data'),
        log: { level: 'warn' },
        http: { enabled: false },
        clickhouse,
        kafka: { brokers: [brokers], group_id: groupId, session_timeout_ms: 6_000 },
        sources: [{ type: 'kafka', topic, decoder: { preset: 'kong', default_gateway: 'kong-cluster' } }],
        ingest: { batch_max_events: 1_000, batch_max_wait_ms: 100, retry_max_ms: 1_000 },
        secrets: { pepper: PEPPER },
      })
    }
    const configs = new Map(['a', 'b', 'c'].map((n) => [n, configFor(`cluster-${n}`)]))
    const start = (name: string) => {
      const d = spawnKeyshift(['run', '-c', configs.get(name)!])
      daemons.set(name, d)
      return d
    }
    const stop = async (name: string, signal: NodeJS.Signals) => {
      const code = await daemons.get(name)!.kill(signal)
      daemons.delete(name)
      return code
    }

    const now = Date.now()
    let produced = 0
    const produce = async (count: number) => {
      for (let sent = 0; sent < count; sent += CHUNK) {
        const n = Math.min(CHUNK, count - sent)
        const from = produced
        produced += n
        await produceMessages(
          brokers,
          topic,
          Array.from({ length: n }, (_, k) => ({
            value: kongLine({ i: from + k, time: now - 3_600_000 + ((from + k) % 3_000_000) }),
          })),
        )
      }
    }
    const counts = async (): Promise<Counts> => {
      const [r] = await queryRows<Record<string, number>>(
        probe!.client,
        `SELECT
          (SELECT count() FROM keyshift.auth_events) AS stored,
          (SELECT uniqExact(src, src_partition, src_offset) FROM keyshift.auth_events) AS distinctPositions,
          (SELECT uniqExact(event_id) FROM keyshift.auth_events) AS distinctEvents,
          (SELECT sum(requests) FROM keyshift.auth_minute) AS minuteRequests,
          (SELECT sum(requests) FROM keyshift.auth_minute_clients) AS clientRequests,
          (SELECT count() FROM keyshift.dead_letters) AS deadLettered`,
      )
      return {
        produced,
        stored: Number(r!.stored),
        distinctPositions: Number(r!.distinctPositions),
        distinctEvents: Number(r!.distinctEvents),
        minuteRequests: Number(r!.minuteRequests),
        clientRequests: Number(r!.clientRequests),
        deadLettered: Number(r!.deadLettered),
      }
    }
    const settle = async (what: string): Promise<Counts> => {
      try {
        await waitFor(`${what}: the group to catch up`, () => caughtUp(probe!, brokers, topic), {
          timeoutMs: 240_000,
          intervalMs: 500,
        })
      } catch (err) {
        // Say why: what the members logged, and what the store holds so far.
        const logs = [...daemons].map(([n, d]) => `--- ${n}:\n${d.output().slice(-4_000)}`).join('\n')
        throw new Error(`${(err as Error).message}\nstore: ${JSON.stringify(await counts())}\n${logs}`)
      }
      return counts()
    }
    /** Produces one phase's events and runs `fault` once the first chunk is out. */
    const phase = async (
      what: string,
      fault: (streaming: Promise<void>) => Promise<void>,
    ): Promise<Counts & { midStream: boolean }> => {
      const before = produced
      const streaming = produce(PER_PHASE)
      await waitFor(`${what}: the stream to start`, async () => produced > before + CHUNK || undefined, {
        intervalMs: 20,
      })
      const midStream = !(await caughtUp(probe!, brokers, topic))
      await fault(streaming)
      await streaming
      return { ...(await settle(what)), midStream }
    }
    /**
     * Holds a store outage until the whole phase is produced and the members felt
     * it (`felt` grew past its value at the start), then ends it.
     */
    const outage = async (
      mode: 'refuse' | 'drop-response' | 'error',
      streaming: Promise<void>,
      felt: (s: Awaited<ReturnType<ClickHouseHttpServerProcess['stats']>>) => number,
      opts?: OutageOptions,
    ) => {
      const at = felt(await server!.stats())
      await server!.outage(mode, opts)
      await streaming
      await waitFor(`${mode}: the members to hit the outage`, async () =>
        felt(await server!.stats()) >= at + 2 ? true : undefined,
      )
      await server!.restore()
    }

    start('a')
    start('b')
    const report: Record<string, Counts & { midStream?: boolean }> = {}
    await produce(PER_PHASE)
    report.baseline = await settle('baseline')

    report.rebalance = await phase('rebalance', async () => {
      // A third member joins (one rebalance), takes partitions, then leaves (another).
      start('c')
      await waitFor(
        'the third member to join',
        async () => (await groupMembers(brokers, groupId)) === 3 || undefined,
        {
          timeoutMs: 60_000,
        },
      )
      expect(await stop('c', 'SIGTERM')).toBe(0)
    })

    for (const victim of ['a', 'b']) {
      report[`sigkill-${victim}`] = await phase(`SIGKILL of ${victim}`, async () => {
        expect(await stop(victim, 'SIGKILL')).toBe(null)
        start(victim)
      })
    }

    report['store-down'] = await phase('store down', (streaming) =>
      outage('refuse', streaming, (s) => s.refusedConnections + s.dropped),
    )

    report['store-acks-lost'] = await phase('store loses responses', (streaming) =>
      // Only the event inserts lose their response: the members get that far, then
      // retry inserts that did land.
      outage('drop-response', streaming, (s) => s.droppedInserts[EVENTS] ?? 0, { onlyInsertsInto: EVENTS }),
    )

    report['store-read-only'] = await phase('store answers read-only', (streaming) =>
      outage('error', streaming, (s) => s.failed),
    )

    const stats = await server.stats()
    process.stdout.write(`exactly-once cluster counts per fault: ${JSON.stringify(report)}\n`)
    process.stdout.write(`test ClickHouse server requests: ${JSON.stringify(stats)}\n`)

    for (const [what, c] of Object.entries(report)) {
      const { midStream: _m, ...got } = c
      expect({ what, ...got }).toEqual({
        what,
        produced: c.produced,
        stored: c.produced,
        distinctPositions: c.produced,
        distinctEvents: c.produced,
        minuteRequests: c.produced,
        clientRequests: c.produced,
        deadLettered: 0,
      })
    }
    expect(produced).toBe(PER_PHASE * 7)
    // The faults really happened while events were in flight, and the outages were felt.
    expect(Object.values(report).filter((c) => c.midStream).length).toBeGreaterThanOrEqual(5)
    // Event inserts ran whose client never heard of it: the retries had to be deduplicated.
    expect(stats.droppedInserts[EVENTS]).toBeGreaterThanOrEqual(2)
    expect(stats.refusedConnections).toBeGreaterThan(0)
    expect(stats.failed).toBeGreaterThan(0)
  }, 1_200_000)
})
