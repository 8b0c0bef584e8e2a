// Kafka source: one consumer-group member reading the auth-event topics. The
// store, not Kafka, holds the truth about what was consumed: on every
// (re)assignment the member reloads the stored positions and seeks there.
// Kafka offsets are still committed after each stored batch, for lag tooling.
import type { Admin, Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs'
import { Gauge } from 'prom-client'
import { SourceError } from '../../domain/errors.ts'
import type { Logger } from '../../telemetry/logger.ts'
import type { Registry } from '../../telemetry/metrics.ts'
import { PipelineFencedError, PipelineStoppedError } from '../pipeline.ts'
import type { IngestSink, Source, SourceRecord } from '../source.ts'
import { ConsumerSupervisor } from './supervisor.ts'

export interface KafkaSourceOptions {
  kafka: Kafka
  groupId: string
  topics: string[]
  sink: IngestSink & { forget?(source: string, partition: number): void }
  logger: Logger
  registry: Registry
  partitionsConsumedConcurrently: number
  sessionTimeoutMs: number
  /** Per-partition fetch size; bounds memory together with the concurrency. */
  maxBytesPerPartition?: number
  /**
   * Batches per partition handed to the pipeline before waiting for the oldest
   * to be stored. More in flight lets the group commit write bigger batches
   * while the store is busy; memory grows with it. Default 4.
   */
  maxBatchesInFlight?: number
}

/** How long an assignment waits for the consumer lag before consuming anyway. */
const LAG_ON_ASSIGNMENT_MS = 2_000

export function kafkaSourceId(topic: string): string {
  return `kafka:${topic}`
}

/** Whether a source id names a Kafka topic. */
export function isKafkaSourceId(source: string): boolean {
  return source.startsWith('kafka:')
}

export class KafkaSource implements Source {
  readonly id: string
  readonly #o: KafkaSourceOptions
  #supervisor: ConsumerSupervisor | null = null
  #assigned = false
  /** Resolves when the positions for the current assignment are loaded. */
  #positionsReady: Promise<void> = Promise.resolve()
  /** Next offset per topic/partition as last stored (for lag). */
  readonly #next = new Map<string, bigint>()
  /** Newest high watermark seen per topic/partition: from fetched batches, and the lag timer. */
  readonly #high = new Map<string, bigint>()
  #lagTimer: NodeJS.Timeout | null = null
  #adminClient: Promise<Admin> | null = null
  /** Per topic/partition: the "stored" promises of batches handed over and not yet awaited. */
  readonly #inflight = new Map<string, Promise<bigint>[]>()
  /** Drops what is buffered for this consumer's topics (a rebalance, a crash, a lost membership). */
  #fence: () => void = () => {}
  readonly #lag: Gauge<'topic'>

  constructor(opts: KafkaSourceOptions) {
    this.#o = opts
    this.id = `kafka:${opts.topics.join(',')}`
    this.#lag = new Gauge({
      name: 'keyshift_kafka_consumer_lag_messages',
      help: 'Messages in the topic not yet stored by this member, summed over its partitions.',
      labelNames: ['topic'],
      registers: [opts.registry],
    })
  }

  ready(): boolean {
    return this.#assigned
  }

  /** Messages not yet stored, summed over this member's partitions (as of the newest high watermarks seen). */
  backlog(): number {
    return this.#lagOf(null)
  }

  /** Messages not yet stored in `topic`'s assigned partitions (null: all topics), as of the newest watermarks. */
  #lagOf(topic: string | null): number {
    let lag = 0n
    for (const [key, next] of this.#next) {
      if (topic !== null && !key.startsWith(`${topic}/`)) continue
      const high = this.#high.get(key)
      if (high !== undefined && high > next) lag += high - next
    }
    return Number(lag)
  }

  async start(): Promise<void> {
    const o = this.#o
    this.#supervisor = new ConsumerSupervisor({
      role: 'ingest',
      logger: o.logger,
      registry: o.registry,
      create: () => this.#createConsumer(),
      run: async (consumer) => {
        await consumer.connect()
        for (const topic of o.topics) await subscribeWhenServed(consumer, topic, o.logger)
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: o.partitionsConsumedConcurrently,
          eachBatch: (payload) => this.#eachBatch(payload),
        })
      },
    })
    await this.#supervisor.start()
    this.#lagTimer = setInterval(() => void this.#updateLag().catch(() => {}), 5_000)
    this.#lagTimer.unref()
  }

  get #consumer(): Consumer | null {
    return this.#supervisor?.consumer ?? null
  }

  #createConsumer(): Consumer {
    const o = this.#o
    const consumer = o.kafka.consumer({
      groupId: o.groupId,
      sessionTimeout: o.sessionTimeoutMs,
      heartbeatInterval: Math.max(1_000, Math.floor(o.sessionTimeoutMs / 10)),
      maxBytesPerPartition: o.maxBytesPerPartition ?? 1_048_576,
      maxWaitTimeInMs: 250,
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
    })
    const fence = () => {
      // Buffered batches of partitions we may lose are dropped, not written:
      // whoever owns them next re-reads them from the stored positions.
      for (const topic of o.topics) o.sink.fence?.(kafkaSourceId(topic))
      this.#inflight.clear()
    }
    this.#fence = fence
    consumer.on(consumer.events.REBALANCING, fence)
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assignment = payload.memberAssignment as Record<string, number[]>
      const ready = (async () => {
        await o.sink.idle?.()
        await this.#onAssignment(consumer, assignment)
      })().catch((err) => {
        o.logger.error(
          { err },
          'Loading stored positions after a rebalance failed; the consumer will restart.',
        )
        throw err
      })
      ready.catch(() => {}) // observed by the next eachBatch, which fails and makes kafkajs restart
      this.#positionsReady = ready
    })
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      this.#assigned = false
      // The partitions may be someone else's by the time a consumer runs again.
      fence()
      o.logger.error(
        { err: payload.error?.message, restart: payload.restart },
        'The Kafka consumer crashed; it is restarted and resumes from the positions in the store.',
      )
    })
    consumer.on(consumer.events.DISCONNECT, () => {
      this.#assigned = false
    })
    return consumer
  }

  async #onAssignment(consumer: Consumer, assignment: Record<string, number[]>): Promise<void> {
    // Positions and watermarks are taken afresh for exactly the assigned
    // partitions (those moved to another member are no longer this member's backlog).
    this.#next.clear()
    this.#high.clear()
    for (const [topic, partitions] of Object.entries(assignment)) {
      const source = kafkaSourceId(topic)
      const stored = new Map((await this.#o.sink.positions(source, partitions)).map((p) => [p.partition, p]))
      // No stored position: start at the beginning of what the broker still holds.
      const offsets = partitions.every((p) => stored.has(p))
        ? []
        : await this.#withAdmin((a) => a.fetchTopicOffsets(topic))
      const low = new Map(offsets.map((o) => [o.partition, BigInt(o.low)]))
      for (const o of offsets) this.#seeHigh(`${topic}/${o.partition}`, BigInt(o.high))
      for (const partition of partitions) {
        const offset = stored.get(partition)?.nextOffset ?? low.get(partition) ?? 0n
        this.#next.set(`${topic}/${partition}`, offset)
        consumer.seek({ topic, partition, offset: offset.toString() })
      }
    }
    // The backlog is known before the source reports ready (evaluations and
    // readiness verdicts hold back while it catches up). Unless the offsets
    // read above gave every watermark, measure it; a broker slow to answer
    // delays consumption by at most LAG_ON_ASSIGNMENT_MS, after which fetched
    // batches tell the backlog.
    if ([...this.#next.keys()].some((key) => !this.#high.has(key))) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([
        this.#updateLag().catch((err) =>
          this.#o.logger.debug({ err: (err as Error).message }, 'Measuring consumer lag failed.'),
        ),
        new Promise((r) => {
          timer = setTimeout(r, LAG_ON_ASSIGNMENT_MS)
        }),
      ])
      clearTimeout(timer)
    }
    this.#assigned = true
    this.#o.logger.info(
      { assignment },
      'Kafka partitions assigned; resuming from the positions in the store.',
    )
  }

  /**
   * Runs `fn` on the source's one admin connection (lag every 5 s, earliest
   * offsets on assignment). A failure drops the connection, so the next call
   * connects afresh, after a broker restart for instance.
   */
  async #withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
    this.#adminClient ??= (async () => {
      const admin = this.#o.kafka.admin()
      await admin.connect()
      return admin
    })()
    const client = this.#adminClient
    try {
      return await fn(await client)
    } catch (err) {
      if (this.#adminClient === client) this.#adminClient = null
      void client.then((a) => a.disconnect()).catch(() => {})
      throw err
    }
  }

  async #eachBatch({ batch, heartbeat, isRunning, isStale, resolveOffset }: EachBatchPayload): Promise<void> {
    await this.#positionsReady
    if (!isRunning() || isStale() || batch.messages.length === 0) return
    const { topic, partition } = batch
    const key = `${topic}/${partition}`
    this.#seeHigh(key, BigInt(batch.highWatermark))
    const done = this.#submit(topic, partition, batch.messages)
    const queue = this.#inflight.get(key) ?? []
    queue.push(done)
    this.#inflight.set(key, queue)
    resolveOffset(batch.messages.at(-1)!.offset)
    // Wait for the oldest batch of a partition with too many in flight, and
    // for the sink to take more records: memory stays bounded however many
    // partitions are assigned.
    const prev = queue.length >= (this.#o.maxBatchesInFlight ?? 4) ? queue.shift()! : null
    const sink = this.#o.sink
    if (prev === null && sink.hasRoom?.() !== false) return
    // Keep the group membership alive while the store is slow or down. When the
    // group is rebalancing (or dropped this member), waiting on would block this
    // eachBatch, and kafkajs rejoins only once it returns: a batch held behind the
    // rebuild of a crashed flush whose other partitions another (possibly dead)
    // member holds would then wait forever. Fencing rejects the held submits, so
    // eachBatch returns, the consumer rejoins, and the new assignment re-reads
    // the stored positions.
    const beat = setInterval(
      () =>
        void heartbeat().catch((err: unknown) => {
          if (!mustRejoin(err)) return
          this.#o.logger.info(
            { topic, partition, reason: (err as { type?: string }).type },
            'The consumer group is rebalancing; dropping buffered batches so the consumer can rejoin.',
          )
          this.#fence()
        }),
      3_000,
    )
    try {
      await sink.room?.()
      await prev
    } catch (err) {
      if (err instanceof PipelineFencedError || err instanceof PipelineStoppedError) return
      throw err
    } finally {
      clearInterval(beat)
    }
  }

  /**
   * Hands a fetched batch to the sink; resolves with the next offset once it is
   * stored. Up to `maxBatchesInFlight` batches per partition are in flight, so
   * fetching and decoding overlap with store writes. Nothing is acknowledged
   * before it is stored: the position lives in the store, and Kafka offsets are
   * committed only after the write (informational, for lag tooling).
   *
   * A method of its own so the callbacks, which live until the batch is stored,
   * hold the offsets only: in `#eachBatch` they would share its scope with
   * kafkajs's `heartbeat`, whose closure holds the whole fetched batch.
   */
  #submit(topic: string, partition: number, messages: readonly KafkaMessage[]): Promise<bigint> {
    const records: SourceRecord[] = messages.map((m) => {
      const offset = BigInt(m.offset)
      return {
        value: m.value ?? Buffer.alloc(0),
        partition,
        offset,
        nextOffset: offset + 1n,
        timestamp: Number(m.timestamp),
      }
    })
    const first = records[0]!.offset
    const next = records.at(-1)!.nextOffset
    const done = this.#o.sink.submit(kafkaSourceId(topic), partition, records).then(
      () => {
        this.#next.set(`${topic}/${partition}`, next)
        void this.#consumer
          ?.commitOffsets([{ topic, partition, offset: next.toString() }])
          .catch((err) =>
            this.#o.logger.debug({ err: err.message }, 'Committing Kafka offsets failed (informational).'),
          )
        return next
      },
      (err: unknown) => {
        if (!(err instanceof PipelineFencedError) && !(err instanceof PipelineStoppedError)) {
          // The pipeline rolled its position back: read these records again.
          this.#o.logger.warn(
            { topic, partition, err: (err as Error).message },
            'A batch was not stored; re-reading it.',
          )
          this.#consumer?.seek({ topic, partition, offset: first.toString() })
        }
        throw err
      },
    )
    done.catch(() => {})
    return done
  }

  /** Waits until every batch handed to the sink was stored (or failed). */
  async #settle(): Promise<void> {
    const pending = [...this.#inflight.values()].flat()
    this.#inflight.clear()
    await Promise.all(pending.map((p) => p.catch(() => null)))
  }

  /** Records a partition's high watermark; an older answer never lowers it. */
  #seeHigh(key: string, high: bigint): void {
    if (high > (this.#high.get(key) ?? -1n)) this.#high.set(key, high)
  }

  async #updateLag(): Promise<void> {
    for (const topic of this.#o.topics) {
      const offsets = await this.#withAdmin((a) => a.fetchTopicOffsets(topic))
      for (const o of offsets) {
        const key = `${topic}/${o.partition}`
        if (this.#next.has(key)) this.#seeHigh(key, BigInt(o.high))
      }
      this.#lag.set({ topic }, this.#lagOf(topic))
    }
  }

  async stop(): Promise<void> {
    if (this.#lagTimer) clearInterval(this.#lagTimer)
    this.#assigned = false
    await this.#supervisor?.stop(() => this.#settle())
    this.#supervisor = null
    const admin = this.#adminClient
    this.#adminClient = null
    await admin?.then((a) => a.disconnect()).catch(() => {})
  }
}

/** Errors a broker answers with while a topic is being created or its leaders elected. */
const NOT_YET = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION'])

/**
 * Subscribes, waiting (up to about 30 s) while the broker still creates the
 * topic or elects its leaders; a topic that never appears is a clear error.
 */
async function subscribeWhenServed(consumer: Consumer, topic: string, logger: Logger): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await consumer.subscribe({ topic, fromBeginning: true })
      return
    } catch (err) {
      const type = (err as { type?: string }).type ?? ''
      if (!NOT_YET.has(type)) throw err
      if (attempt >= 60) {
        throw new SourceError(
          `Kafka topic ${topic} is not served (${type}); create it, or enable auto.create.topics.enable`,
          { retriable: false, cause: err },
        )
      }
      if (attempt === 0) logger.info({ topic, reason: type }, 'Waiting for the Kafka topic to be served.')
      await new Promise((r) => setTimeout(r, 500))
    }
  }
}

/** Heartbeat errors after which only a rejoin helps (kafkajs's isRebalancing, plus an evicted member). */
function mustRejoin(err: unknown): boolean {
  const type = (err as { type?: string } | null)?.type
  return (
    type === 'REBALANCE_IN_PROGRESS' ||
    type === 'NOT_COORDINATOR_FOR_GROUP' ||
    type === 'ILLEGAL_GENERATION' ||
    type === 'UNKNOWN_MEMBER_ID'
  )
}
