// The Kafka source's backlog against the real broker: known (from the
// partitions' high watermarks) by the time the source reports ready, before
// anything is stored, and down to zero once every fetched batch is stored. The
// evaluation loop and the heartbeat read it to tell catching up from caught up.
import { Kafka, logLevel } from 'kafkajs'
import { describe, expect, inject, it } from 'vitest'
import { KafkaSource, kafkaSourceId } from '../../src/ingest/kafka/kafka-source.ts'
import type { IngestSink, SourceRecord } from '../../src/ingest/source.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { createRegistry } from '../../src/telemetry/metrics.ts'
import { waitFor } from '../support/daemon.ts'
import { createTopic, deleteTopic, produceMessages, uniqueTopic } from './kafka-helpers.ts'

/** A sink that holds every submit until `release()`, storing nothing before. */
class HoldingSink implements IngestSink {
  readonly held: (() => void)[] = []
  readonly submitted: string[] = []
  #released = false
  async positions() {
    return []
  }
  submit(_source: string, _partition: number, records: SourceRecord[]): Promise<void> {
    for (const r of records) this.submitted.push(r.value.toString())
    if (this.#released) return Promise.resolve()
    return new Promise((resolve) => this.held.push(resolve))
  }
  release(): void {
    this.#released = true
    for (const resolve of this.held) resolve()
  }
}

describe('KafkaSource backlog', () => {
  const brokers = inject('kafkaBrokers')

  it('is the unstored record count once the source reports ready, and zero once all is stored', async () => {
    const topic = uniqueTopic('backlog')
    await createTopic(brokers, topic, 3)
    await produceMessages(
      brokers,
      topic,
      Array.from({ length: 300 }, (_, i) => ({ value: `m${i}`, partition: i % 3 })),
    )
    const sink = new HoldingSink()
    const source = new KafkaSource({
      kafka: new Kafka({ brokers: [brokers], clientId: 'backlog-test', logLevel: logLevel.NOTHING }),
      groupId: `g-${topic}`,
      topics: [topic],
      sink,
      logger: silentLogger(),
      registry: createRegistry({ defaultMetrics: false }),
      partitionsConsumedConcurrently: 3,
      sessionTimeoutMs: 10_000,
    })
    try {
      expect(source.id).toBe(kafkaSourceId(topic))
      await source.start()
      await waitFor('the source to be assigned', async () => source.ready(), { timeoutMs: 60_000 })
      expect(source.backlog()).toBe(300)
      await waitFor('the first fetched batches', async () => sink.held.length > 0, { timeoutMs: 30_000 })
      expect(source.backlog()).toBe(300) // fetched is not stored
      sink.release()
      await waitFor('the backlog to drain', async () => source.backlog() === 0, { timeoutMs: 30_000 })
      expect(sink.submitted.length).toBe(300)
      expect(new Set(sink.submitted)).toEqual(new Set(Array.from({ length: 300 }, (_, i) => `m${i}`)))
    } finally {
      await source.stop()
      await deleteTopic(brokers, topic)
    }
  })
})
