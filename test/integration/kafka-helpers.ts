// Helpers for integration tests that use the real single-node Kafka broker run by
// scripts/kafka.sh: topic lifecycle, bulk produce, exact reads, and broker stop/start
// for fault-tolerance tests. Everything talks to the real broker; nothing is mocked.
//
// Stopping the shared broker (the one global-setup.ts starts) disturbs every test file
// running in parallel. A fault test should run its own broker instead:
//   const broker = privateBroker('my-fault-test', 110)  // port: shared port + 110
//   await brokerStart(broker) ... await brokerStop(broker) ... await brokerReset(broker)
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { type Admin, Kafka, type logCreator, logLevel, Partitioners } from 'kafkajs'

const execFileAsync = promisify(execFile)

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const kafkaScript = path.join(repoRoot, 'scripts/kafka.sh')

/** Records per produce request; also capped by PRODUCE_BATCH_BYTES. */
const PRODUCE_BATCH_MESSAGES = 5_000
/** Payload bytes per produce request; the test broker accepts batches up to 16 MiB. */
const PRODUCE_BATCH_BYTES = 8 * 1024 * 1024

/** One broker managed by scripts/kafka.sh. Omitted fields mean the shared broker. */
export interface BrokerInstance {
  /** Client port on 127.0.0.1; the controller listens on port + 1. */
  readonly port?: number
  /** Directory for this instance's data, config, pid and log (KEYSHIFT_KAFKA_STATE_DIR). */
  readonly stateDir?: string
}

export interface ProduceMessage {
  key?: string
  value: Buffer | string
  partition?: number
}

export interface ConsumedMessage {
  partition: number
  offset: string
  key: string | null
  value: Buffer
  /** Record headers as strings. */
  headers: Record<string, string>
}

/** Port of the shared broker: KEYSHIFT_KAFKA_PORT, else 29092 (as in scripts/kafka.sh). */
export function sharedBrokerPort(): number {
  const fromEnv = process.env.KEYSHIFT_KAFKA_PORT
  return fromEnv ? Number(fromEnv) : 29092
}

/** Bootstrap address ("host:port") of an instance; the shared broker by default. */
export function brokerAddress(instance: BrokerInstance = {}): string {
  return `127.0.0.1:${instance.port ?? sharedBrokerPort()}`
}

/**
 * A broker of a test's own, with its state under .kafka/instances/<name>; it shares the
 * fetched jars with the shared broker. It listens on the shared broker's port plus
 * `portOffset` (its controller on the port after), so a run that moves the shared broker
 * with KEYSHIFT_KAFKA_PORT moves private ones too. Give each test file its own offset,
 * a multiple of 10 (kafka-broker.test.ts uses 100).
 */
export function privateBroker(name: string, portOffset: number): BrokerInstance & { brokers: string } {
  const kafkaDir = process.env.KEYSHIFT_KAFKA_DIR ?? path.join(repoRoot, '.kafka')
  const port = sharedBrokerPort() + portOffset
  return { port, stateDir: path.join(kafkaDir, 'instances', name), brokers: brokerAddress({ port }) }
}

/** Runs `scripts/kafka.sh <command>` for an instance; rejects with the script's output. */
export async function runKafkaScript(
  command: 'fetch' | 'start' | 'stop' | 'kill' | 'status' | 'reset',
  instance: BrokerInstance = {},
): Promise<string> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (instance.port !== undefined) {
    env.KEYSHIFT_KAFKA_PORT = String(instance.port)
    delete env.KEYSHIFT_KAFKA_CONTROLLER_PORT
  }
  if (instance.stateDir !== undefined) env.KEYSHIFT_KAFKA_STATE_DIR = instance.stateDir
  try {
    const { stdout, stderr } = await execFileAsync('bash', [kafkaScript, command], {
      env,
      maxBuffer: 16 * 1024 * 1024,
    })
    return stdout + stderr
  } catch (error) {
    const failed = error as Error & { stdout?: string; stderr?: string }
    throw new Error(
      `scripts/kafka.sh ${command} failed:\n${failed.stdout ?? ''}${failed.stderr ?? failed.message}`,
      { cause: error },
    )
  }
}

/** True when the instance's port answers a Kafka metadata request with a live broker. */
export async function isServing(instance: BrokerInstance = {}): Promise<boolean> {
  try {
    await runKafkaScript('status', instance)
    return true
  } catch {
    return false
  }
}

/** Starts the broker (keeping its data) and resolves once it serves. */
export async function brokerStart(instance: BrokerInstance = {}): Promise<void> {
  await runKafkaScript('start', instance)
}

/**
 * Stops the broker: a clean shutdown (SIGTERM, then SIGKILL after 30 s), or with
 * `hard: true` an immediate SIGKILL, as in a crash. Resolves once the process is gone.
 */
export async function brokerStop(
  instance: BrokerInstance = {},
  options: { hard?: boolean } = {},
): Promise<void> {
  await runKafkaScript(options.hard ? 'kill' : 'stop', instance)
}

/** Stops the broker and deletes its data; for private brokers, before and after a test. */
export async function brokerReset(instance: BrokerInstance): Promise<void> {
  await runKafkaScript('reset', instance)
}

// Errors a fresh or restarted broker answers with for a moment, which kafkajs retries;
// logging them would only bury real failures in test output.
const TRANSIENT_BROKER_ERRORS = new Set([
  'The group coordinator is not available',
  "The coordinator is loading and hence can't process requests",
  'There is no leader for this topic-partition as we are in the middle of a leadership election',
  'This server does not host this topic-partition',
])

const quietLogCreator: logCreator =
  () =>
  ({ namespace, level, log }) => {
    if (level > logLevel.ERROR || TRANSIENT_BROKER_ERRORS.has(String(log.error))) return
    const { message, ...fields } = log
    console.error(`kafkajs ${namespace}: ${message}`, fields)
  }

/** A kafkajs client for tests; retries briefly, logs only errors that are not transient. */
export function testKafka(brokers: string, clientId = 'keyshift-test'): Kafka {
  return new Kafka({
    clientId,
    brokers: brokers.split(','),
    connectionTimeout: 3_000,
    requestTimeout: 30_000,
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5_000 },
    logLevel: logLevel.ERROR,
    logCreator: quietLogCreator,
  })
}

/** A topic name no other test uses: `<prefix>-<time>-<random>`, with only legal characters. */
export function uniqueTopic(prefix = 'test'): string {
  const safePrefix = prefix.replace(/[^a-zA-Z0-9._-]/g, '-')
  return `${safePrefix}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
}

async function withAdmin<T>(brokers: string, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = testKafka(brokers, 'keyshift-test-admin').admin()
  await admin.connect()
  try {
    return await work(admin)
  } finally {
    await admin.disconnect()
  }
}

/**
 * Creates a topic (replication factor 1) and resolves once metadata shows every one of
 * its `partitions` partitions with a leader. An existing topic with the same partition
 * count is accepted; a different count is an error.
 */
export async function createTopic(brokers: string, name: string, partitions = 6, timeoutMs = 30_000) {
  await withAdmin(brokers, async (admin) => {
    await admin.createTopics({
      topics: [{ topic: name, numPartitions: partitions, replicationFactor: 1 }],
      waitForLeaders: false, // kafkajs can throw UNKNOWN_TOPIC_OR_PARTITION while waiting; polled below
      timeout: timeoutMs,
    })
    const deadline = Date.now() + timeoutMs
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [name] })
        const found = topics[0]?.partitions ?? []
        if (found.length > 0 && found.length !== partitions) {
          throw new Error(`topic ${name} exists with ${found.length} partitions, not ${partitions}`)
        }
        if (found.length === partitions && found.every((p) => p.leader >= 0)) {
          // Leaders elected in metadata; the logs serve once offsets can be listed.
          if ((await admin.fetchTopicOffsets(name)).length === partitions) return
        }
      } catch (error) {
        if (error instanceof Error && error.message.startsWith(`topic ${name} exists`)) throw error
        // Metadata not propagated yet: retry until the deadline.
      }
      if (Date.now() > deadline) {
        throw new Error(`topic ${name}: not all ${partitions} partitions have a leader after ${timeoutMs} ms`)
      }
      await sleep(100)
    }
  })
}

/** Deletes a topic; a topic that does not exist is not an error. */
export async function deleteTopic(brokers: string, name: string): Promise<void> {
  await withAdmin(brokers, async (admin) => {
    const existing = await admin.listTopics()
    if (!existing.includes(name)) return
    await admin.deleteTopics({ topics: [name], timeout: 30_000 })
  })
}

/**
 * Produces messages in order, in requests of up to 5000 records (and 8 MiB), each
 * acknowledged by all in-sync replicas (acks=-1). Keyless messages without a partition
 * are spread by kafkajs' default partitioner. Resolves with the number produced.
 */
export async function produceMessages(
  brokers: string,
  topic: string,
  messages: readonly ProduceMessage[],
): Promise<number> {
  const producer = testKafka(brokers, 'keyshift-test-producer').producer({
    createPartitioner: Partitioners.DefaultPartitioner,
    allowAutoTopicCreation: false,
    // A retried send (a partition still settling after create or restart) must not
    // write a message twice: tests compare exact counts.
    idempotent: true,
    maxInFlightRequests: 1,
  })
  await producer.connect()
  try {
    let batch: ProduceMessage[] = []
    let batchBytes = 0
    const flush = async () => {
      if (batch.length === 0) return
      await producer.send({ topic, acks: -1, timeout: 30_000, messages: batch })
      batch = []
      batchBytes = 0
    }
    for (const message of messages) {
      const size = Buffer.byteLength(message.value) + (message.key ? Buffer.byteLength(message.key) : 0)
      if (
        batch.length >= PRODUCE_BATCH_MESSAGES ||
        (batch.length > 0 && batchBytes + size > PRODUCE_BATCH_BYTES)
      ) {
        await flush()
      }
      batch.push(message)
      batchBytes += size
    }
    await flush()
    return messages.length
  } finally {
    await producer.disconnect()
  }
}

/**
 * Reads a topic from the beginning up to the end offsets it has when called, with a
 * fresh consumer group, and returns exactly the records found there (no more, no fewer),
 * ordered by partition and offset.
 */
export async function readTopic(
  brokers: string,
  topic: string,
  timeoutMs = 60_000,
): Promise<ConsumedMessage[]> {
  const kafka = testKafka(brokers, 'keyshift-test-reader')
  const ends = await withAdmin(brokers, (admin) => admin.fetchTopicOffsets(topic))
  // Next offset to reach per partition; partitions that are already done are left out.
  const remaining = new Map<number, bigint>()
  for (const { partition, high, low } of ends) {
    if (BigInt(high) > BigInt(low)) remaining.set(partition, BigInt(high))
  }
  const consumed: ConsumedMessage[] = []
  if (remaining.size === 0) return consumed

  const consumer = kafka.consumer({
    groupId: uniqueTopic('keyshift-test-reader'),
    allowAutoTopicCreation: false,
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const left = [...remaining.keys()].join(', ')
        reject(
          new Error(`readTopic ${topic}: partitions ${left} not read to their end after ${timeoutMs} ms`),
        )
      }, timeoutMs)
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = remaining.get(batch.partition)
            if (end === undefined) return
            for (const message of batch.messages) {
              if (BigInt(message.offset) >= end) break
              consumed.push({
                partition: batch.partition,
                offset: message.offset,
                key: message.key ? message.key.toString() : null,
                value: message.value ?? Buffer.alloc(0),
                headers: Object.fromEntries(
                  Object.entries(message.headers ?? {}).map(([k, v]) => [k, String(v ?? '')]),
                ),
              })
            }
            // lastOffset() also covers records the client filters out (transaction markers).
            if (BigInt(batch.lastOffset()) + 1n >= end) remaining.delete(batch.partition)
            if (remaining.size === 0) {
              clearTimeout(timer)
              resolve()
            }
          },
        })
        .catch((error: unknown) => {
          clearTimeout(timer)
          reject(error)
        })
    })
  } finally {
    await consumer.disconnect()
  }
  return consumed.sort((a, b) => a.partition - b.partition || Number(BigInt(a.offset) - BigInt(b.offset)))
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
