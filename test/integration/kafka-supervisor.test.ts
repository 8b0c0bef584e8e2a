// The consumer supervisor against the real broker: a kafkajs consumer that
// crashes without kafkajs restarting it (as after KafkaJSGroupCoordinatorNotFound
// while the only broker restarts) is replaced by a new one that consumes on,
// even when that one's group join fails too (kafkajs reports it as a crash
// while run() still resolves). Here kafkajs is told not to restart
// (restartOnFailure → false), which gives the `restart: false` crash deterministically.
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, inject, it } from 'vitest'
import { ConsumerSupervisor } from '../../src/ingest/kafka/supervisor.ts'
import { createRegistry } from '../../src/telemetry/metrics.ts'
import { waitFor } from '../support/daemon.ts'
import { createTopic, deleteTopic, produceMessages, uniqueTopic } from './kafka-helpers.ts'

describe('ConsumerSupervisor', () => {
  const brokers = inject('kafkaBrokers')

  it('starts a new consumer after a crash kafkajs does not restart from, also when the new one crashes while joining', async () => {
    const topic = uniqueTopic('supervisor')
    await createTopic(brokers, topic, 3)
    const kafka = new Kafka({ brokers: [brokers], clientId: 'supervisor-test', logLevel: logLevel.NOTHING })
    const registry = createRegistry({ defaultMetrics: false })
    const warnings: string[] = []
    const crashes: boolean[] = []
    const seen = new Set<string>()
    let created = 0
    let refusing: unknown = null // the first consumer's batches always fail
    const supervisor = new ConsumerSupervisor({
      role: 'ingest',
      logger: { warn: (_fields: unknown, msg?: string) => void warnings.push(String(msg)) } as never,
      registry,
      backoff: { baseMs: 50, maxMs: 200, factor: 2, jitter: 'none' },
      create: () => {
        created++
        const c = kafka.consumer({
          groupId: `g-${topic}`,
          maxWaitTimeInMs: 100,
          // The second consumer asks for a session below the broker's minimum (6 s):
          // its group join fails (INVALID_SESSION_TIMEOUT), which kafkajs reports as a crash.
          ...(created === 2 ? { sessionTimeout: 1_000, heartbeatInterval: 300 } : {}),
          // Few retries for the first, whose failing batches must end in a crash; enough
          // for the others to ride out the rebalances the crashes cause on a busy machine.
          retry: {
            retries: created === 1 ? 2 : 10,
            initialRetryTime: 100,
            restartOnFailure: async () => false,
          },
        })
        c.on(c.events.CRASH, ({ payload }) => void crashes.push(payload.restart))
        if (created === 1) refusing = c
        return c
      },
      run: async (c) => {
        await c.connect()
        await c.subscribe({ topic, fromBeginning: true })
        await c.run({
          eachMessage: async ({ message }) => {
            if (refusing === c) throw new Error('the store refused the batch')
            seen.add(message.value!.toString())
          },
        })
      },
    })
    // A group's coordinator may still be loading on a freshly started broker, and
    // a join then fails: wait it out, so that only the failures made here happen.
    const admin = kafka.admin()
    await admin.connect()
    await waitFor(
      'the group coordinator to be loaded',
      async () => {
        const { groups } = await admin.describeGroups([`g-${topic}`])
        // kafkajs returns each group's error code without typing it.
        return (groups[0] as { errorCode?: number } | undefined)?.errorCode === 0
      },
      { timeoutMs: 60_000 },
    ).finally(() => admin.disconnect())
    try {
      await supervisor.start()
      const sent = Array.from({ length: 300 }, (_, i) => ({ value: `m-${i}` }))
      expect(await produceMessages(brokers, topic, sent)).toBe(300)
      await waitFor('every message consumed by a later consumer', async () => seen.size === 300, {
        timeoutMs: 60_000,
      })
      expect(crashes).toEqual([false, false])
      expect(created).toBe(3)
      expect(warnings).toEqual([
        'The Kafka consumer stopped on an error kafkajs does not retry; starting a new one.',
        'The new Kafka consumer crashed while starting; trying again.',
      ])
      // One restart that took: the consumer that crashed while joining does not count.
      const restarts = await registry.getSingleMetric('keyshift_kafka_consumer_restarts_total')!.get()
      expect(restarts.values).toEqual([{ labels: { consumer: 'ingest' }, value: 1 }])
    } finally {
      await supervisor.stop()
      await deleteTopic(brokers, topic)
    }
    // Stopped: no consumer left, and stopping again is harmless.
    expect(supervisor.consumer).toBe(null)
    await supervisor.stop()
  })
})
