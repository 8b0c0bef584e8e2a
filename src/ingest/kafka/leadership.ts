// Leader election for the work only one instance may do (evaluating alerts and
// delivering notifications). Every instance joins the consumer group
// `<group_id>.leader` on a one-partition topic; the member Kafka assigns
// partition 0 to is the leader. Leadership ends as soon as this member sees a
// rebalance start, disconnects or crashes, and at the latest when its session
// times out. Without Kafka (one embedded instance) the instance is always leader.
import type { Consumer, Kafka } from 'kafkajs'
import type { Logger } from '../../telemetry/logger.ts'
import type { Registry } from '../../telemetry/metrics.ts'
import { ConsumerSupervisor } from './supervisor.ts'
import { ensureTopic } from './topics.ts'

export interface Leadership {
  readonly kind: 'kafka' | 'single'
  isLeader(): boolean
  /** Calls `listener` on every change (true: became leader). Returns an unsubscribe function. */
  onChange(listener: (leader: boolean) => void): () => void
  start(): Promise<void>
  stop(): Promise<void>
}

class Listeners {
  readonly #set = new Set<(leader: boolean) => void>()
  #leader = false
  #logger: Pick<Logger, 'info' | 'error'> | undefined
  constructor(logger?: Pick<Logger, 'info' | 'error'>) {
    this.#logger = logger
  }
  get leader(): boolean {
    return this.#leader
  }
  add(fn: (leader: boolean) => void): () => void {
    this.#set.add(fn)
    return () => this.#set.delete(fn)
  }
  set(leader: boolean): void {
    if (leader === this.#leader) return
    this.#leader = leader
    for (const fn of this.#set) {
      try {
        fn(leader)
      } catch (err) {
        this.#logger?.error({ err }, 'A leadership listener failed.')
      }
    }
  }
}

/** The only instance there is: leader from start to stop. */
export class SingleInstanceLeadership implements Leadership {
  readonly kind = 'single' as const
  readonly #l = new Listeners()
  isLeader(): boolean {
    return this.#l.leader
  }
  onChange(listener: (leader: boolean) => void): () => void {
    return this.#l.add(listener)
  }
  async start(): Promise<void> {
    this.#l.set(true)
  }
  async stop(): Promise<void> {
    this.#l.set(false)
  }
}

export interface KafkaLeadershipOptions {
  kafka: Kafka
  /** The instances' consumer group id; the election uses `<groupId>.leader`. */
  groupId: string
  /** One-partition topic, created when missing. */
  topic: string
  /** A leader that stops heartbeating loses leadership after this long. Broker minimum: 6000. */
  sessionTimeoutMs: number
  logger: Pick<Logger, 'info' | 'warn' | 'error'>
  /** Counts election consumers started anew after a crash kafkajs does not restart from. */
  registry?: Registry
}

export class KafkaLeadership implements Leadership {
  readonly kind = 'kafka' as const
  readonly #o: KafkaLeadershipOptions
  readonly #l: Listeners
  #supervisor: ConsumerSupervisor | null = null

  constructor(opts: KafkaLeadershipOptions) {
    this.#o = opts
    this.#l = new Listeners(opts.logger)
  }

  isLeader(): boolean {
    return this.#l.leader
  }

  onChange(listener: (leader: boolean) => void): () => void {
    return this.#l.add(listener)
  }

  async start(): Promise<void> {
    const o = this.#o
    await this.#ensureTopic()
    this.#supervisor = new ConsumerSupervisor({
      role: 'leader',
      logger: o.logger,
      registry: o.registry,
      create: () => this.#createConsumer(),
      run: async (consumer) => {
        await consumer.connect()
        await consumer.subscribe({ topic: o.topic, fromBeginning: false })
        // Nothing is ever produced to the topic: membership is the point.
        await consumer.run({ eachMessage: async () => {} })
      },
    })
    await this.#supervisor.start()
  }

  #createConsumer(): Consumer {
    const o = this.#o
    const consumer = o.kafka.consumer({
      groupId: `${o.groupId}.leader`,
      sessionTimeout: o.sessionTimeoutMs,
      // Heartbeats are how a member learns of a rebalance: keep them frequent.
      heartbeatInterval: Math.max(500, Math.min(1_000, Math.floor(o.sessionTimeoutMs / 6))),
      maxWaitTimeInMs: 500,
      rebalanceTimeout: Math.max(o.sessionTimeoutMs, 10_000),
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5_000 },
    })
    const lose = (why: string) => {
      if (this.#l.leader) o.logger.info({ topic: o.topic, why }, 'This instance is no longer the leader.')
      this.#l.set(false)
    }
    consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
      const assigned = (payload.memberAssignment as Record<string, number[]>)[o.topic] ?? []
      const leader = assigned.includes(0)
      if (leader && !this.#l.leader) o.logger.info({ topic: o.topic }, 'This instance is now the leader.')
      if (!leader) lose('partition 0 is assigned to another instance')
      this.#l.set(leader)
    })
    consumer.on(consumer.events.REBALANCING, () => lose('the group is rebalancing'))
    consumer.on(consumer.events.STOP, () => lose('the election consumer stopped'))
    consumer.on(consumer.events.DISCONNECT, () => lose('the election consumer disconnected'))
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      o.logger.warn(
        { err: payload.error?.message, restart: payload.restart },
        'The leader election consumer crashed; it is restarted and rejoins the election.',
      )
      lose('the election consumer crashed')
    })
    return consumer
  }

  async #ensureTopic(): Promise<void> {
    const partitions = await ensureTopic(this.#o.kafka, this.#o.topic, {
      partitions: 1,
      replicationFactor: 1,
    })
    if (partitions > 1) {
      this.#o.logger.warn(
        { topic: this.#o.topic, partitions },
        'The leader topic has more than one partition; only the owner of partition 0 leads.',
      )
    }
  }

  async stop(): Promise<void> {
    this.#l.set(false)
    const supervisor = this.#supervisor
    this.#supervisor = null
    await supervisor?.stop()
  }
}
