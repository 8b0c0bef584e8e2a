// Shared set-up of the alerting integration tests and bench/alert-latency.ts:
// a keyshift in-process (createApp) with its alerting side started, fed
// through a real Kafka topic, and a rotation scenario (a version deactivated
// while a client still uses it) produced as gateway log records.
//
// When createApp wires alerting itself (`app.alerting`), that is used as is.
// Until then the harness composes it the way app.ts is meant to: createAlerting
// with the app's store, rotation service and registry, a kick after every
// stored ingest batch, and the silences/alerts routes on the app's HTTP server.
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import type { Config, ConfigInput } from '../../src/config/schema.ts'
import { type Alerting, createAlerting } from '../../src/evaluation/alerting.ts'
import { silenceRoutes } from '../../src/http/routes/silences.ts'
import { createKafka } from '../../src/ingest/kafka/kafka-client.ts'
import { parseLifecycle } from '../../src/registry/lifecycle-input.ts'
import type { Logger } from '../../src/telemetry/logger.ts'
import { createTopic, produceMessages, uniqueTopic } from './kafka-helpers.ts'

export const ADMIN_TOKEN = 'admin-token-0123456789abcdef'
export const READ_TOKEN = 'read-token-0123456789abcdef'

/** Gateway log records as JSON, read by a `mapping` decoder (field names as below). */
export const MAPPING_DECODER = {
  preset: 'mapping',
  mapping: {
    fields: {
      event_id: 'id',
      time: 'ts',
      key_id: 'key_id',
      key_version: 'key_version',
      status: 'status',
      reason: 'reason',
      client_id: 'client_id',
      source_address: 'source_address',
      user_agent: 'user_agent',
      method: 'method',
      route: 'route',
      gateway: 'gateway',
    },
  },
} as const

export interface GatewayRecord {
  keyId: string
  version: string
  status: number
  reason?: string
  time: number
  clientId?: string
  gateway?: string
}

export function gatewayRecord(r: GatewayRecord): string {
  return JSON.stringify({
    id: `req-${randomBytes(8).toString('hex')}`,
    ts: new Date(r.time).toISOString(),
    key_id: r.keyId,
    key_version: r.version,
    status: r.status,
    reason: r.reason ?? (r.status === 401 ? 'revoked' : '-'),
    client_id: r.clientId ?? 'acme-mobile',
    source_address: '203.0.113.7',
    user_agent: 'acme-mobile/4.2',
    method: 'POST',
    route: '/v1/payments',
    gateway: r.gateway ?? 'kong-eu',
  })
}

export function tempDataDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `keyshift-${prefix}-`))
}

/** Topics and groups of one test keyshift, unique per call. */
export async function kafkaSection(brokers: string, prefix: string) {
  const topic = uniqueTopic(`${prefix}-events`)
  const lifecycle = uniqueTopic(`${prefix}-lifecycle`)
  const deadLetters = uniqueTopic(`${prefix}-dlq`)
  for (const t of [topic, lifecycle, deadLetters]) await createTopic(brokers, t, 1)
  return {
    topic,
    kafka: {
      brokers: brokers.split(','),
      group_id: uniqueTopic(`${prefix}-group`),
      lifecycle_topic: lifecycle,
      dead_letter_topic: deadLetters,
      session_timeout_ms: 10_000,
    },
    leaderTopic: uniqueTopic(`${prefix}-leader`),
  }
}

/**
 * A bench's keyshift at default settings: only where events come from (the
 * Kafka section's topic, through MAPPING_DECODER) and where alerts go (one
 * signed webhook).
 */
export function webhookDaemonInput(
  instance: string,
  dataDir: string,
  k: Awaited<ReturnType<typeof kafkaSection>>,
  hooks: { url: string; secret: string },
): ConfigInput {
  return {
    instance,
    data_dir: dataDir,
    log: { level: 'warn' },
    http: { enabled: false },
    kafka: k.kafka,
    sources: [{ type: 'kafka', topic: k.topic, decoder: MAPPING_DECODER }],
    alerting: {
      receivers: { hooks: { type: 'webhook', url: hooks.url, secret: hooks.secret } },
      default_receivers: ['hooks'],
      leadership: { topic: k.leaderTopic },
    },
  }
}

export function testLogger(): Logger {
  return pino({ level: process.env.KEYSHIFT_TEST_LOG ?? 'silent' })
}

export interface Keyshift {
  app: App
  alerting: Alerting
  config: Config
  stop(): Promise<void>
}

export async function startKeyshift(input: ConfigInput, logger: Logger = testLogger()): Promise<Keyshift> {
  const config = parseConfig(input, 'test')
  const app = await createApp(config, { logger })
  const wired = (app as App & { alerting?: Alerting }).alerting
  let alerting: Alerting
  if (wired) {
    alerting = wired
  } else {
    const kafka = config.kafka.brokers.length > 0 ? createKafka(config.kafka, app.logger, '-alerting') : null
    const own = createAlerting({
      config,
      store: app.store,
      rotation: app.rotation,
      status: app.status,
      keys: app.keys,
      kafka,
      logger: app.logger,
      metrics: app.metrics,
    })
    alerting = own
    // What app.ts does with IngestPipeline's `onStored`: evaluate right after each stored batch.
    const write = app.events.write.bind(app.events)
    app.events.write = async (batches) => {
      const result = await write(batches)
      own.kick()
      return result
    }
    if (app.http) await app.http.register(silenceRoutes({ auth: app.auth, silences: own.store }))
  }
  await app.start()
  if (!wired) await alerting.start()
  return {
    app,
    alerting,
    config,
    async stop() {
      if (!wired) await alerting.stop()
      await app.stop()
    },
  }
}

const DAY = 86_400_000

/** Records a lifecycle event through the registry, as `keyshift key <action>` would. */
export async function lifecycle(app: App, keyId: string, version: string, action: string, time: number) {
  // Workaround: over embedded chDB, per-query settings stick to the session, so the
  // insert_deduplication_token of the last ingest batch also applies to this insert
  // and key_lifecycle (a table with a deduplication window) silently drops it when a
  // lifecycle event was already written under that token. Reset it first.
  if (app.store.mode === 'embedded') {
    await app.store.client.command({
      query: 'SELECT 1',
      clickhouse_settings: { insert_deduplication_token: '' },
    })
  }
  await app.keys.record([
    parseLifecycle(
      { key_id: keyId, version, action, time, actor: 'test' },
      {
        now: time,
        fingerprint: app.fingerprint,
        origin: 'test',
        defaultEventId: `test:${randomBytes(8).toString('hex')}`,
      },
    ),
  ])
}

/** Resolves once `count` events of `keyId` are in the store. */
export async function waitForStored(
  app: App,
  keyId: string,
  count: number,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const rs = await app.store.client.query({
      query: `SELECT count() AS n FROM ${app.store.database}.auth_events WHERE key_id = {key:String}`,
      query_params: { key: keyId },
      format: 'JSONEachRow',
    })
    const [row] = await rs.json<{ n: number }>()
    if (Number(row?.n ?? 0) >= count) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${count} stored events of ${keyId}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

/**
 * A rotation done too early: v1 and v2 are active, a client uses v1 successfully,
 * v1 is deactivated, and the client's requests with v1 are rejected. Resolves with
 * the time the failing records were handed to Kafka (after acknowledgement).
 */
export async function deactivateTooEarly(
  ks: Keyshift,
  brokers: string,
  topic: string,
  keyId: string,
  opts: { failures?: number; successes?: number } = {},
): Promise<{ producedAt: number; acknowledgedAt: number }> {
  const app = ks.app
  const now = Date.now()
  await lifecycle(app, keyId, 'v1', 'activate', now - 2 * DAY)
  // v2 is new (an hour old): v1 is never ready to deactivate (min_overlap_ms 24 h), as in a rushed rotation.
  await lifecycle(app, keyId, 'v2', 'activate', now - 3_600_000)
  const successes = opts.successes ?? 3
  await produceMessages(
    brokers,
    topic,
    Array.from({ length: successes }, (_, i) => ({
      value: gatewayRecord({ keyId, version: 'v1', status: 200, time: now - 120_000 + i * 1_000 }),
    })),
  )
  await waitForStored(app, keyId, successes)
  await lifecycle(app, keyId, 'v1', 'deactivate', Date.now() - 1_000)
  const producedAt = Date.now()
  await produceMessages(
    brokers,
    topic,
    Array.from({ length: opts.failures ?? 5 }, () => ({
      value: gatewayRecord({ keyId, version: 'v1', status: 401, reason: 'revoked', time: producedAt }),
    })),
  )
  return { producedAt, acknowledgedAt: Date.now() }
}
