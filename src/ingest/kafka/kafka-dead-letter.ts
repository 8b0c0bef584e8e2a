// Dead-letter destination for Kafka sources: the original (scrubbed) bytes,
// with headers naming the reason and the source topic/partition/offset. The
// `keyshift-dead-letter-id` header lets consumers drop the duplicates a crash
// between dead-lettering and committing a batch can cause.
import type { Kafka, Producer } from 'kafkajs'
import { SourceError } from '../../domain/errors.ts'
import type { DeadLetter, DeadLetterSink } from '../pipeline.ts'
import { ensureTopic } from './topics.ts'

export class KafkaDeadLetterSink implements DeadLetterSink {
  readonly #kafka: Kafka
  readonly #topic: string
  #producer: Producer | null = null

  constructor(kafka: Kafka, topic: string) {
    this.#kafka = kafka
    this.#topic = topic
  }

  async #connected(): Promise<Producer> {
    if (!this.#producer) {
      await ensureTopic(this.#kafka, this.#topic, { partitions: 1 })
      const p = this.#kafka.producer({ allowAutoTopicCreation: true, idempotent: false })
      await p.connect()
      this.#producer = p
    }
    return this.#producer
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    try {
      const producer = await this.#connected()
      await producer.send({
        topic: this.#topic,
        acks: -1,
        messages: letters.map((l) => ({
          value: l.bytes,
          headers: {
            'keyshift-reason': l.reason,
            'keyshift-detail': l.detail.slice(0, 500),
            'keyshift-source': l.source,
            'keyshift-source-topic': l.source.startsWith('kafka:') ? l.source.slice(6) : '',
            'keyshift-source-partition': String(l.partition),
            'keyshift-source-offset': l.offset.toString(),
            'keyshift-dead-letter-id': `${l.source}/${l.partition}/${l.offset}`,
          },
        })),
      })
    } catch (err) {
      throw new SourceError(`dead-lettering ${letters.length} record(s) to ${this.#topic} failed`, {
        retriable: true,
        cause: err,
      })
    }
  }

  async close(): Promise<void> {
    await this.#producer?.disconnect()
    this.#producer = null
  }
}
