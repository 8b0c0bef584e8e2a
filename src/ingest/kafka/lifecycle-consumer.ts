// Consumes key lifecycle events from their own topic into the registry. Each
// message's event id defaults to topic/partition/offset, so a redelivery after
// a crash is recognised as the same event; offsets are committed only after
// the events are stored.
import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs'
import { Counter } from 'prom-client'
import { KeyshiftError, ValidationError } from '../../domain/errors.ts'
import type { IncidentMessage } from '../../incident/incident-input.ts'
import { isIncidentMessage, parseIncidentMessage } from '../../incident/incident-input.ts'
import type { KeyRegistry } from '../../registry/key-registry.ts'
import { parseLifecycle, type RecordedLifecycleEvent } from '../../registry/lifecycle-input.ts'
import type { Logger } from '../../telemetry/logger.ts'
import type { Registry } from '../../telemetry/metrics.ts'
import { createInputScrubber, type InputScrubber } from '../secrets/input-scrubber.ts'
import type { Source } from '../source.ts'
import { ConsumerSupervisor } from './supervisor.ts'
import { ensureTopic } from './topics.ts'

export class LifecycleConsumer implements Source {
  readonly id: string
  #supervisor: ConsumerSupervisor | null = null
  #assigned = false
  readonly #rejected: Counter<'reason'>
  // Applied to each message before it is parsed: the lifecycle topic's edge.
  readonly #scrubInput: InputScrubber

  constructor(
    private readonly o: {
      kafka: Kafka
      groupId: string
      topic: string
      registry: KeyRegistry
      /** Applies incident messages (`{"incident": "open", ...}`) found on the same topic. */
      incidents?: { apply(msg: IncidentMessage, origin: string, now: number): Promise<unknown> }
      fingerprint: (material: string) => string
      logger: Logger
      metrics: Registry
      clock?: () => number
    },
  ) {
    this.id = `kafka:${o.topic}`
    this.#scrubInput = createInputScrubber(o.fingerprint)
    this.#rejected = new Counter({
      name: 'keyshift_lifecycle_events_rejected_total',
      help: 'Lifecycle messages that could not be parsed, by reason.',
      labelNames: ['reason'],
      registers: [o.metrics],
    })
  }

  ready(): boolean {
    return this.#assigned
  }

  async start(): Promise<void> {
    await ensureTopic(this.o.kafka, this.o.topic, { partitions: 1 })
    this.#supervisor = new ConsumerSupervisor({
      role: 'lifecycle',
      logger: this.o.logger,
      registry: this.o.metrics,
      create: () => {
        const consumer = this.o.kafka.consumer({
          groupId: `${this.o.groupId}.lifecycle`,
          maxWaitTimeInMs: 250,
        })
        consumer.on(consumer.events.GROUP_JOIN, () => {
          this.#assigned = true
        })
        const unassigned = () => {
          this.#assigned = false
        }
        consumer.on(consumer.events.CRASH, unassigned)
        consumer.on(consumer.events.DISCONNECT, unassigned)
        return consumer
      },
      run: async (consumer) => {
        await consumer.connect()
        await consumer.subscribe({ topic: this.o.topic, fromBeginning: true })
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          eachBatch: (payload) => this.#eachBatch(consumer, payload),
        })
      },
    })
    await this.#supervisor.start()
  }

  async #eachBatch(consumer: Consumer, { batch, resolveOffset }: EachBatchPayload): Promise<void> {
    const clock = this.o.clock ?? Date.now
    const events: RecordedLifecycleEvent[] = []
    const incidents: { msg: IncidentMessage; time: number; offset: string }[] = []
    for (const m of batch.messages) {
      try {
        const doc = this.#scrubInput(JSON.parse(m.value?.toString('utf8') ?? '') as unknown)
        if (isIncidentMessage(doc) && this.o.incidents) {
          // Time defaults to the message timestamp, so a redelivery opens the same incident id.
          const msg = parseIncidentMessage(doc, 'kafka')
          if (msg.request.time === undefined) msg.request.time = Number(m.timestamp) || clock()
          incidents.push({ msg, time: msg.request.time, offset: m.offset })
          continue
        }
        events.push(
          parseLifecycle(doc, {
            now: Number(m.timestamp) || clock(),
            fingerprint: this.o.fingerprint,
            origin: 'kafka',
            defaultEventId: `kafka:${batch.topic}/${batch.partition}/${m.offset}`,
          }),
        )
      } catch (err) {
        const reason = err instanceof ValidationError ? 'invalid_event' : 'invalid_json'
        this.#rejected.inc({ reason })
        this.o.logger.warn(
          { topic: batch.topic, partition: batch.partition, offset: m.offset, reason },
          'Skipping a lifecycle message that is not a valid lifecycle event.',
        )
      }
    }
    await this.o.registry.record(events)
    for (const i of incidents) {
      try {
        await this.o.incidents!.apply(i.msg, 'kafka', i.time)
      } catch (err) {
        // A conflict or a bad reference is the sender's mistake: skip it. Store
        // failures propagate, so the batch is read again.
        if (!(err instanceof KeyshiftError) || err.retriable) throw err
        this.#rejected.inc({ reason: 'invalid_incident' })
        this.o.logger.warn(
          { topic: batch.topic, partition: batch.partition, offset: i.offset, err: err.message },
          'Skipping an incident message that cannot be applied.',
        )
      }
    }
    const last = batch.messages.at(-1)
    if (!last) return
    resolveOffset(last.offset)
    await consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(last.offset) + 1n).toString() },
    ])
  }

  async stop(): Promise<void> {
    this.#assigned = false
    await this.#supervisor?.stop()
    this.#supervisor = null
  }
}
