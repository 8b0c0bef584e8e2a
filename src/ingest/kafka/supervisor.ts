// Keeps a kafkajs consumer running for the daemon's lifetime. kafkajs restarts a
// crashed consumer only when it deems the error retriable; some broker outages
// end in errors it does not, and the consumer then stays stopped for good. The
// one seen in practice: while the only broker restarts, a rejoin cannot reach
// it and fails with KafkaJSGroupCoordinatorNotFound (non-retriable), so the
// daemon would never consume again. A daemon must outlive its broker: after
// such a crash the supervisor starts a fresh consumer, with backoff, until it
// is stopped. The owner's listeners are attached to every new consumer.
import type { Consumer } from 'kafkajs'
import { Counter } from 'prom-client'
import { type BackoffOptions, backoffDelay, DEFAULT_BACKOFF, sleep } from '../../shared/retry.ts'
import type { Logger } from '../../telemetry/logger.ts'
import type { Registry } from '../../telemetry/metrics.ts'

const RESTARTS = 'keyshift_kafka_consumer_restarts_total'

export interface ConsumerSupervisorOptions {
  /** What the consumer is for (`ingest`, `lifecycle`, `leader`): a log field and the metric's label. */
  role: string
  logger: Pick<Logger, 'warn'>
  /** Makes a new consumer with the owner's event listeners attached. */
  create(): Consumer
  /** Connects, subscribes and runs a consumer made by `create`. */
  run(consumer: Consumer): Promise<void>
  /** Counts restarts in `keyshift_kafka_consumer_restarts_total{consumer}` when given. */
  registry?: Registry
  /** Delay before each new consumer; default 200 ms doubling up to 30 s, with jitter. */
  backoff?: BackoffOptions
}

export class ConsumerSupervisor {
  readonly #o: ConsumerSupervisorOptions
  readonly #restarts: Counter<'consumer'> | undefined
  #consumer: Consumer | null = null
  #abort = new AbortController()
  #relaunching: Promise<void> | null = null
  /** Consumers that crashed without kafkajs restarting them. */
  readonly #crashed = new WeakSet<Consumer>()

  constructor(opts: ConsumerSupervisorOptions) {
    this.#o = opts
    this.#restarts = opts.registry ? restartsCounter(opts.registry) : undefined
  }

  /** The consumer running now (null before start and after stop). */
  get consumer(): Consumer | null {
    return this.#consumer
  }

  /** Starts the first consumer; a failure here is the caller's (a start-up error). */
  async start(): Promise<void> {
    this.#abort = new AbortController()
    await this.#launch()
  }

  /**
   * Stops restarting, then stops the current consumer: `drain` runs between
   * kafkajs' stop (no more batches) and the disconnect.
   */
  async stop(drain?: () => Promise<void>): Promise<void> {
    this.#abort.abort()
    await this.#relaunching
    const consumer = this.#consumer
    if (!consumer) return
    await consumer.stop()
    await drain?.()
    await consumer.disconnect()
    this.#consumer = null
  }

  async #launch(): Promise<Consumer> {
    const consumer = this.#o.create()
    this.#consumer = consumer
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // kafkajs restarts it itself when `restart` is true.
      if (payload.restart || this.#abort.signal.aborted || this.#consumer !== consumer) return
      this.#crashed.add(consumer)
      // While a relaunch is starting this consumer, the relaunch sees the mark.
      if (!this.#relaunching) this.#relaunch(payload.error)
    })
    try {
      await this.#o.run(consumer)
    } catch (err) {
      await consumer.disconnect().catch(() => {})
      throw err
    }
    return consumer
  }

  #relaunch(cause: Error): void {
    const { role, logger } = this.#o
    const signal = this.#abort.signal
    logger.warn(
      { consumer: role, err: cause.message },
      'The Kafka consumer stopped on an error kafkajs does not retry; starting a new one.',
    )
    const relaunching = (async () => {
      for (let attempt = 0; !signal.aborted; attempt++) {
        await sleep(backoffDelay(Math.min(attempt, 20), this.#o.backoff ?? DEFAULT_BACKOFF), signal)
        let consumer: Consumer
        try {
          consumer = await this.#launch()
        } catch (err) {
          if (signal.aborted) return
          logger.warn(
            { consumer: role, attempt: attempt + 1, err: (err as Error).message },
            'Starting a new Kafka consumer failed; trying again.',
          )
          continue
        }
        // kafkajs reports a failed group join as a crash, not as an error of run().
        if (this.#crashed.has(consumer)) {
          if (signal.aborted) return
          logger.warn(
            { consumer: role, attempt: attempt + 1 },
            'The new Kafka consumer crashed while starting; trying again.',
          )
          continue
        }
        this.#restarts?.inc({ consumer: role })
        // From here on a crash of this consumer starts a new relaunch.
        this.#relaunching = null
        return
      }
    })().catch(() => {}) // only the aborted sleep rejects: the supervisor is stopping
    this.#relaunching = relaunching
    void relaunching.finally(() => {
      if (this.#relaunching === relaunching) this.#relaunching = null
    })
  }
}

/** One counter per registry, shared by every supervised consumer. */
function restartsCounter(registry: Registry): Counter<'consumer'> {
  const existing = registry.getSingleMetric(RESTARTS)
  if (existing) return existing as Counter<'consumer'>
  return new Counter({
    name: RESTARTS,
    help: 'Kafka consumers started anew after kafkajs gave up on them (for example while the broker restarted).',
    labelNames: ['consumer'],
    registers: [registry],
  })
}
