// Exactly-once ingest under faults, against the real broker and the embedded
// store: the daemon is SIGKILLed at random moments and restarted; the broker
// is stopped and restarted mid-stream; the store rejects writes for a while.
// After each, the stored count equals the produced count exactly, in the raw
// table and in both rollups.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Kafka, logLevel } from 'kafkajs'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { spawnKeyshift, waitFor, writeConfig } from '../support/daemon.ts'
import { kongLine, prng } from '../support/records.ts'
import { queryRows, storeCounts, withStore } from '../support/store-probe.ts'
import {
  brokerStart,
  brokerStop,
  createTopic,
  privateBroker,
  produceMessages,
  uniqueTopic,
} from './kafka-helpers.ts'

const PEPPER = 'test-pepper-0123456789abcdef'

function lines(from: number, count: number, now: number): { value: string }[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k
    return { value: kongLine({ i, time: now - 3_600_000 + (i % 3_000_000) }) }
  })
}

/** True once every partition of `topic` reports a leader and offsets. */
async function partitionsLed(brokers: string, topic: string, partitions: number): Promise<boolean> {
  const kafka = new Kafka({
    brokers: [brokers],
    logLevel: logLevel.NOTHING,
    clientId: 'probe',
    retry: { retries: 0 },
  })
  const admin = kafka.admin()
  try {
    await admin.connect()
    const meta = await admin.fetchTopicMetadata({ topics: [topic] })
    const parts = meta.topics[0]?.partitions ?? []
    if (parts.length !== partitions || parts.some((p) => p.leader < 0)) return false
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets.length === partitions
  } catch {
    return false
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

/** Sum of Kafka committed offsets of a group vs the topic's high watermarks. */
async function caughtUp(brokers: string, topic: string, groupId: string): Promise<boolean> {
  const kafka = new Kafka({ brokers: [brokers], logLevel: logLevel.NOTHING, clientId: 'probe' })
  const admin = kafka.admin()
  await admin.connect()
  try {
    const high = await admin.fetchTopicOffsets(topic)
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] })
    return high.every((h) => {
      const c = committed?.partitions.find((p) => p.partition === h.partition)
      return c !== undefined && BigInt(c.offset) >= BigInt(h.high)
    })
  } finally {
    await admin.disconnect()
  }
}

describe('exactly once through daemon crashes (SIGKILL)', () => {
  it('stores every produced event exactly once after 4 random SIGKILLs', async () => {
    const brokers = inject('kafkaBrokers')
    const topic = uniqueTopic('eo-kill')
    const groupId = `g-${topic}`
    await createTopic(brokers, topic, 6)
    const dir = mkdtempSync(join(tmpdir(), 'ks-eo-kill-'))
    const cfg = writeConfig(dir, {
      instance: 'eo-kill',
      data_dir: join(dir, 'data'),
      log: { level: 'warn' },
      http: { enabled: false },
      kafka: { brokers: [brokers], group_id: groupId },
      sources: [{ type: 'kafka', topic, decoder: { preset: 'kong', default_gateway: 'kong-eo' } }],
      ingest: { batch_max_events: 1500, batch_max_wait_ms: 100 },
      secrets: { pepper: PEPPER },
    })
    const now = Date.now()
    const rnd = prng(42)
    let produced = 0
    produced += await produceMessages(brokers, topic, lines(produced, 40_000, now))
    let killedMidStream = 0
    for (let round = 0; round < 4; round++) {
      const d = spawnKeyshift(['run', '-c', cfg])
      // Let it start and get into the middle of ingesting, then kill it hard.
      const killAfter = 2_500 + Math.floor(rnd() * 3_000)
      const more = produceMessages(brokers, topic, lines(produced, 15_000, now))
      await new Promise((r) => setTimeout(r, killAfter))
      // Only kills while the daemon still has events to ingest count as "during ingest".
      if (!(await caughtUp(brokers, topic, groupId))) killedMidStream++
      const code = await d.kill('SIGKILL')
      expect(code).toBe(null) // killed by the signal, not exited on its own
      produced += await more
    }
    expect(killedMidStream).toBeGreaterThanOrEqual(3)
    const last = spawnKeyshift(['run', '-c', cfg])
    await waitFor('the daemon to catch up', () => caughtUp(brokers, topic, groupId), { timeoutMs: 180_000 })
    await last.kill('SIGTERM')
    expect(produced).toBe(100_000)
    const counts = await withStore(join(dir, 'data'), (c) => storeCounts(c))
    expect(counts).toEqual({
      events: 100_000,
      distinctEvents: 100_000,
      rollupRequests: 100_000,
      clientRollupRequests: 100_000,
      deadLetters: 0,
    })
    // Every request id once: no event was stored twice under another position either.
    const [ids] = await withStore(join(dir, 'data'), (c) =>
      queryRows<{ n: number }>(c, 'SELECT uniqExact(event_id) AS n FROM keyshift.auth_events'),
    )
    expect(ids!.n).toBe(100_000)
  })
})

describe('exactly once through broker and store outages (in-process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-eo-faults-'))
  const broker = privateBroker('exactly-once', 20)
  afterAll(async () => {
    await brokerStop(broker).catch(() => {})
  })

  it('survives the broker stopping and restarting mid-stream, and the store rejecting writes', async () => {
    await brokerStart(broker)
    const topic = uniqueTopic('eo-faults')
    await createTopic(broker.brokers, topic, 6)
    const config = parseConfig({
      instance: 'eo-faults',
      data_dir: join(dir, 'data'),
      http: { enabled: false },
      kafka: { brokers: [broker.brokers], group_id: `g-${topic}` },
      sources: [{ type: 'kafka', topic, decoder: { preset: 'kong', default_gateway: 'kong-eo' } }],
      ingest: { batch_max_events: 2000, batch_max_wait_ms: 100, retry_base_ms: 100, retry_max_ms: 1000 },
      secrets: { pepper: PEPPER },
    })
    const app = await createApp(config, { logger: silentLogger() })
    const count = async () => {
      const [r] = await queryRows<{ n: number }>(
        app.store.client,
        'SELECT count() AS n FROM keyshift.auth_events',
      )
      return Number(r!.n)
    }
    /** Waits for exactly `want` stored events; a timeout says how many there were. */
    const stored = (what: string, want: () => number) =>
      waitFor(what, async () => (await count()) === want(), { timeoutMs: 180_000 }).catch(async (err) => {
        throw new Error(`${(err as Error).message} (stored ${await count()} of ${want()})`)
      })
    try {
      await app.start()
      const now = Date.now()
      let produced = await produceMessages(broker.brokers, topic, lines(0, 20_000, now))
      await waitFor('some events stored', async () => (await count()) > 0)

      // 1. The broker goes away mid-stream and comes back. Long enough for the
      // consumer's rejoin to fail: kafkajs may give up on it for good
      // (KafkaJSGroupCoordinatorNotFound) and the supervisor must start a new one.
      await brokerStop(broker)
      await new Promise((r) => setTimeout(r, 8_000))
      await brokerStart(broker)
      // A restarted broker serves metadata before it has loaded every partition;
      // produce only once all partitions have leaders again (a failed produce
      // could have written part of its batch, which would spoil the exact count).
      await waitFor('the topic served again', () => partitionsLed(broker.brokers, topic, 6), {
        timeoutMs: 60_000,
      })
      produced += await produceMessages(broker.brokers, topic, lines(produced, 20_000, now))
      await stored('all events after the broker restart', () => produced)

      // 2. The store rejects writes (TOO_MANY_PARTS) for a while, then recovers.
      const c = app.store.client
      await c.command({ query: 'SYSTEM STOP MERGES keyshift.auth_events' })
      await c.command({
        query:
          'ALTER TABLE keyshift.auth_events MODIFY SETTING parts_to_throw_insert = 1, parts_to_delay_insert = 1',
      })
      produced += await produceMessages(broker.brokers, topic, lines(produced, 20_000, now))
      await waitFor(
        'write errors to be observed',
        async () => {
          const m = await app.metrics.getSingleMetric('keyshift_store_write_errors_total')?.get()
          return (m?.values ?? []).some((v) => v.labels.retriable === 'true' && v.value >= 2)
        },
        { timeoutMs: 60_000 },
      )
      const during = await count()
      expect(during).toBeLessThan(produced)
      await c.command({
        query:
          'ALTER TABLE keyshift.auth_events MODIFY SETTING parts_to_throw_insert = 3000, parts_to_delay_insert = 1000',
      })
      await c.command({ query: 'SYSTEM START MERGES keyshift.auth_events' })
      await stored('all events after the store recovered', () => produced)
      await new Promise((r) => setTimeout(r, 1_000))
      expect(produced).toBe(60_000)
      expect(await storeCounts(c)).toEqual({
        events: 60_000,
        distinctEvents: 60_000,
        rollupRequests: 60_000,
        clientRollupRequests: 60_000,
        deadLetters: 0,
      })
    } finally {
      await app.stop()
    }
  })
})
