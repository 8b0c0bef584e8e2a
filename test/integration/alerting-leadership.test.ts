// Several instances send each notification once. Two things make that true,
// and this file tests both against the real broker and the real store:
//  1. Leader election: of the members of `<group>.leader`, exactly one holds
//     partition 0 of the one-partition topic, and leadership moves when it leaves.
//  2. Defence in depth for an overlap (two instances both believing they lead for
//     a moment): the same decision yields the same notification id, so the outbox
//     keeps one entry per id and receivers see one delivery per webhook-id.
// Embedded chDB cannot be shared by two processes, so two full daemons on one
// store are not run here; the pipelines and workers of two instances are.
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { alertingConfigSchema } from '../../src/alerting/config.ts'
import { DeliveryWorker } from '../../src/alerting/delivery.ts'
import { createNotifier } from '../../src/alerting/notifiers/registry.ts'
import type { Observation } from '../../src/alerting/pipeline/types.ts'
import { AlertPipeline } from '../../src/alerting/pipeline.ts'
import { parseConfig } from '../../src/config/load.ts'
import { alertId } from '../../src/domain/alert.ts'
import { createKafka } from '../../src/ingest/kafka/kafka-client.ts'
import { KafkaLeadership } from '../../src/ingest/kafka/leadership.ts'
import { AlertStore } from '../../src/store/clickhouse/alert-store.ts'
import { createStoreClient, type StoreClient } from '../../src/store/clickhouse/client.ts'
import { migrate } from '../../src/store/clickhouse/migrations.ts'
import { waitUntil } from '../kit/http-peer.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../kit/webhook-receiver.ts'
import { tempDataDir, testLogger } from './alerting-harness.ts'
import { uniqueTopic } from './kafka-helpers.ts'

const brokers = inject('kafkaBrokers')
const logger = testLogger()

describe('leader election over a one-partition topic', () => {
  const members: KafkaLeadership[] = []
  afterAll(async () => {
    for (const m of members) await m.stop().catch(() => {})
  })

  it('has exactly one leader at a time, and moves leadership when the leader leaves', async () => {
    const groupId = uniqueTopic('leader-group')
    const topic = uniqueTopic('leader')
    const member = (name: string) => {
      const kafka = createKafka(
        parseConfig({ kafka: { brokers: [brokers], client_id: name } }).kafka,
        logger as never,
      )
      const m = new KafkaLeadership({ kafka, groupId, topic, sessionTimeoutMs: 10_000, logger })
      members.push(m)
      return m
    }
    const a = member('member-a')
    const b = member('member-b')
    // Sample both every 5 ms for the whole test: they must never lead together.
    const samples: Array<[boolean, boolean]> = []
    const sampler = setInterval(() => samples.push([a.isLeader(), b.isLeader()]), 5)
    try {
      await a.start()
      await waitUntil(() => a.isLeader(), 30_000, 'a to lead alone')

      await b.start()
      // The group rebalances; afterwards exactly one leads, steadily.
      await waitUntil(() => a.isLeader() !== b.isLeader(), 30_000, 'one leader after b joined')
      await new Promise((r) => setTimeout(r, 3_000))
      expect(a.isLeader() !== b.isLeader()).toBe(true)

      const [leader, other] = a.isLeader() ? [a, b] : [b, a]
      const stoppedAt = Date.now()
      await leader.stop()
      expect(leader.isLeader()).toBe(false)
      await waitUntil(() => other.isLeader(), 30_000, 'the other member to take over')
      const takeoverMs = Date.now() - stoppedAt
      expect(takeoverMs).toBeLessThan(15_000)

      // The old leader comes back: still exactly one leader.
      await leader.start()
      await new Promise((r) => setTimeout(r, 4_000))
      await waitUntil(() => a.isLeader() !== b.isLeader(), 30_000, 'one leader after the return')
    } finally {
      clearInterval(sampler)
    }
    expect(samples.filter(([x, y]) => x && y)).toEqual([])
    expect(samples.some(([x]) => x)).toBe(true)
    expect(samples.some(([, y]) => y)).toBe(true)
  })
})

describe('two instances deciding the same notification during an overlap', () => {
  let store: StoreClient | undefined
  let hooks: WebhookReceiver | undefined
  const workers: DeliveryWorker[] = []
  afterAll(async () => {
    for (const w of workers) await w.stop()
    await hooks?.close()
    await store?.close()
  })

  it('write one outbox entry per notification and deliver one webhook-id each', async () => {
    store = createStoreClient(parseConfig({ data_dir: tempDataDir('alerting-overlap') }))
    await migrate(store.client, store.database, { rawDays: 30, rollupDays: 400 })
    const secret = `whsec_${randomBytes(32).toString('base64')}`
    hooks = await startWebhookReceiver({ secret })
    const cfg = alertingConfigSchema.parse({
      receivers: { hooks: { type: 'webhook', url: hooks.url, secret } },
      default_receivers: ['hooks'],
      group_wait_ms: 0,
    })
    const instance = (name: string) => {
      const alertStore = new AlertStore(store!.client, store!.database)
      const pipeline = new AlertPipeline({ config: cfg, store: alertStore })
      const notifier = createNotifier('hooks', cfg.receivers.hooks!, {})
      const delivery = new DeliveryWorker({
        store: alertStore,
        notifiers: new Map([['hooks', notifier]]),
        maxAgeMs: 60_000,
        retryBaseMs: 100,
        retryMaxMs: 1_000,
        concurrency: 2,
        instance: name,
        logger,
      })
      workers.push(delivery)
      return { alertStore, pipeline, delivery }
    }
    const x = instance('x')
    const y = instance('y')

    const fad = {
      type: 'failures_after_deactivation' as const,
      severity: 'critical' as const,
      keyId: 'acme-payments',
      version: 'v1',
      scope: '*',
      labels: { gateway: 'kong-eu' },
      title: 'Rollback advised for acme-payments v1',
      summary: '1 client fails since v1 was deactivated.',
      evidence: { failures: 5 },
    }
    const alert = { ...fad, id: alertId(fad) }
    const obs: Observation[] = [
      { channel: 'alert', alert, startedAt: Date.now() - 60_000 },
      { channel: 'rollback', alert, startedAt: Date.now() - 60_000 },
    ]

    // Both believe they lead: both load the same stored state and evaluate the same findings at once.
    const now = Date.now()
    await Promise.all([x.pipeline.load(now), y.pipeline.load(now)])
    const [rx, ry] = await Promise.all([x.pipeline.evaluate(obs, now), y.pipeline.evaluate(obs, now + 350)])
    const decided = (r: typeof rx) => r.entries.map((e) => e.id).sort()
    // Whoever wrote first, the ids they decided are the same; the outbox keeps one entry each.
    const ids = [...new Set([...decided(rx), ...decided(ry)])].sort()
    expect(ids).toHaveLength(2)
    if (rx.entries.length > 0 && ry.entries.length > 0) expect(decided(rx)).toEqual(decided(ry))
    const outbox = await x.alertStore.outbox()
    expect(outbox.map((e) => e.id).sort()).toEqual(ids)
    expect(outbox.map((e) => e.kind).sort()).toEqual(['alert.firing', 'rollback.advised'])

    // Both deliver what they recorded, and both also load the outbox: receivers still see each id once.
    for (const [i, r] of [
      [x, rx],
      [y, ry],
    ] as const) {
      i.delivery.start()
      i.delivery.enqueue(r.entries)
      await i.delivery.load()
    }
    await hooks.waitForDeliveries(2, 20_000)
    await Promise.all([x.delivery.idle(), y.delivery.idle()])
    expect(hooks.deliveries.map((d) => d.id).sort()).toEqual(ids)
    // Any second attempt carried the same webhook-id (counted as a duplicate by the receiver, not a new event).
    expect([...hooks.duplicates.keys()].every((id) => ids.includes(id))).toBe(true)

    // Evaluated again by either instance after the overlap: nothing new.
    await y.pipeline.load(Date.now())
    expect((await y.pipeline.evaluate(obs, Date.now())).entries).toEqual([])
  })
})
