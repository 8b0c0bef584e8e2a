// Proves the test broker itself: exact produce/consume round trips over six partitions,
// and data that survives a clean stop, a restart and a crash (SIGKILL) of the broker.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import {
  brokerReset,
  brokerStart,
  brokerStop,
  createTopic,
  deleteTopic,
  isServing,
  privateBroker,
  produceMessages,
  readTopic,
  uniqueTopic,
} from './kafka-helpers.ts'

function numbered(from: number, count: number, prefix: string) {
  return Array.from({ length: count }, (_, i) => ({ key: `key-${from + i}`, value: `${prefix}-${from + i}` }))
}

describe('shared Kafka broker', () => {
  const brokers = inject('kafkaBrokers')

  it('round-trips 1000 messages over a 6-partition topic, exactly', async () => {
    const topic = uniqueTopic('broker-roundtrip')
    await createTopic(brokers, topic, 6)
    try {
      const sent = numbered(0, 1000, 'value')
      expect(await produceMessages(brokers, topic, sent)).toBe(1000)

      const received = await readTopic(brokers, topic)
      expect(received).toHaveLength(1000)
      expect(new Set(received.map((m) => m.value.toString())).size).toBe(1000)
      expect(received.map((m) => m.value.toString()).sort()).toEqual(sent.map((m) => m.value).sort())
      // Keys decide partitions: every key arrives with its own value, and all six are used.
      for (const m of received) expect(m.value.toString()).toBe(`value-${m.key!.slice('key-'.length)}`)
      expect(new Set(received.map((m) => m.partition))).toEqual(new Set([0, 1, 2, 3, 4, 5]))
    } finally {
      await deleteTopic(brokers, topic)
    }
  })
})

// Stopping the shared broker would break test files running in parallel, so this uses a
// broker of its own (shared port + 100), with its own data directory.
describe('broker restart keeps data', () => {
  const broker = privateBroker('kafka-broker-test', 100)
  const topic = uniqueTopic('broker-restart')

  beforeAll(async () => {
    await brokerReset(broker)
    await brokerStart(broker)
    await createTopic(broker.brokers, topic, 6)
  })
  afterAll(async () => {
    await brokerReset(broker)
  })

  it('keeps every message through a clean stop and start, then accepts more', async () => {
    await produceMessages(broker.brokers, topic, numbered(0, 100, 'before'))

    await brokerStop(broker)
    expect(await isServing(broker)).toBe(false)
    await brokerStart(broker)

    const afterRestart = await readTopic(broker.brokers, topic)
    expect(afterRestart).toHaveLength(100)
    expect(new Set(afterRestart.map((m) => m.value.toString()))).toEqual(
      new Set(numbered(0, 100, 'before').map((m) => m.value)),
    )

    await produceMessages(broker.brokers, topic, numbered(100, 100, 'after'))
    const all = await readTopic(broker.brokers, topic)
    expect(all).toHaveLength(200)
    expect(new Set(all.map((m) => m.value.toString())).size).toBe(200)
  })

  it('keeps every acknowledged message through a crash (SIGKILL) and start', async () => {
    await brokerStop(broker, { hard: true })
    expect(await isServing(broker)).toBe(false)
    await brokerStart(broker)

    const all = await readTopic(broker.brokers, topic)
    expect(all).toHaveLength(200)
    expect(new Set(all.map((m) => m.value.toString())).size).toBe(200)
  })
})
