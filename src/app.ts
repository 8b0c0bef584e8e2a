// createApp(config): the whole daemon in-process — store, registry, ingest
// pipeline, sources and HTTP — wired from one validated config. main.ts and the
// tests both use it; nothing here reads process.env or the clock directly.
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { listOpenAlerts } from './alerting/alert-view.ts'
import type { Config, DecoderConfig } from './config/schema.ts'
import { ConfigError } from './domain/errors.ts'
import { type Alerting, createAlerting } from './evaluation/alerting.ts'
import { UsageAnomalies } from './evaluation/usage-anomalies.ts'
import { openApiDocument } from './http/api-docs.ts'
import { TokenAuth } from './http/auth.ts'
import { checkOpenApiBinding } from './http/bind-check.ts'
import { incidentRoutes } from './http/routes/incidents.ts'
import { lifecycleRoutes } from './http/routes/lifecycle.ts'
import { rotationRoutes } from './http/routes/rotation.ts'
import { silenceRoutes } from './http/routes/silences.ts'
import { usageRoutes } from './http/routes/usage.ts'
import { createHttpServer, type HttpServer } from './http/server.ts'
import { statusPageRoutes } from './http/status-page/routes.ts'
import { IncidentService } from './incident/incident-service.ts'
import { createDecoder } from './ingest/decode/decoder.ts'
import { FileDeadLetterSink } from './ingest/file-dead-letter.ts'
import { createKafka } from './ingest/kafka/kafka-client.ts'
import { KafkaDeadLetterSink } from './ingest/kafka/kafka-dead-letter.ts'
import { isKafkaSourceId, KafkaSource, kafkaSourceId } from './ingest/kafka/kafka-source.ts'
import { LifecycleConsumer } from './ingest/kafka/lifecycle-consumer.ts'
import { type DeadLetterSink, IngestPipeline, type RecordDecoder } from './ingest/pipeline.ts'
import { createFingerprinter } from './ingest/secrets/fingerprint.ts'
import { createInputScrubber } from './ingest/secrets/input-scrubber.ts'
import { scrubBytes, scrubText, scrubTruncatedBytes } from './ingest/secrets/scrub.ts'
import type { Source } from './ingest/source.ts'
import { createFileSource } from './ingest/sources/file-source.ts'
import { createStdinSource } from './ingest/sources/stdin-source.ts'
import { KeyRegistry } from './registry/key-registry.ts'
import { loadLifecycleFiles } from './registry/lifecycle-files.ts'
import { createPlacesMonitor } from './rotation/places-monitor.ts'
import { RotationService } from './rotation/rotation-service.ts'
import { hostStdin } from './shared/host-stdin.ts'
import { mkdirPrivate, openToOthers, restrictUmask } from './shared/private-files.ts'
import { AnalyticsStore } from './store/clickhouse/analytics-store.ts'
import {
  assertStoreExists,
  createStoreClient,
  embeddedPath,
  type StoreClient,
  storeUnreachable,
} from './store/clickhouse/client.ts'
import { EventStore } from './store/clickhouse/event-store.ts'
import { IncidentStore } from './store/clickhouse/incident-store.ts'
import { migrate } from './store/clickhouse/migrations.ts'
import { PlacesStore } from './store/clickhouse/places-store.ts'
import { RegistryStore } from './store/clickhouse/registry-store.ts'
import { StatusStore } from './store/clickhouse/status-store.ts'
import { UsageBandStore } from './store/clickhouse/usage-band-store.ts'
import { createLogger, type Logger, scrubLogsWith } from './telemetry/logger.ts'
import { createRegistry, type Registry } from './telemetry/metrics.ts'

export interface AppDeps {
  logger?: Logger
  registry?: Registry
  clock?: () => number
  /** Overrides stdin for the stdin source (tests, replay). */
  stdin?: NodeJS.ReadableStream
  /** Refuse to create an embedded store (and its pepper) that does not exist yet: read commands. */
  existingStore?: boolean
}

export interface App {
  config: Config
  logger: Logger
  metrics: Registry
  store: StoreClient
  events: EventStore
  keys: KeyRegistry
  status: StatusStore
  rotation: RotationService
  incidents: IncidentService
  alerting: Alerting
  auth: TokenAuth
  pipeline: IngestPipeline
  sources: Source[]
  http: HttpServer | null
  fingerprint: (material: string) => string
  decoderFor(source: string): RecordDecoder
  /** Registers the decoder of a source created outside the config (replay). */
  registerDecoder(source: string, decoder: DecoderConfig): void
  start(): Promise<void>
  stop(): Promise<void>
  /** Resolves when every stdin source reached EOF and its records are stored. */
  stdinDone(): Promise<void>
  url(): string | null
}

/**
 * The pepper keys every fingerprint. Configured explicitly in production (all
 * instances must share it); on a single embedded machine one is generated once
 * and kept in the data directory with mode 0600.
 */
export function resolvePepper(config: Config): string {
  const configured = config.secrets.pepper?.reveal()
  if (configured) return configured
  if (config.clickhouse.url) {
    throw new ConfigError(
      'secrets.pepper: required when clickhouse.url is set (every instance must fingerprint keys alike); ' +
        'set KEYSHIFT_SECRETS__PEPPER or KEYSHIFT_SECRETS__PEPPER_FILE to at least 16 random characters',
    )
  }
  const dir = resolve(config.data_dir)
  const file = join(dir, 'pepper')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirPrivate(dir)
  const pepper = randomBytes(32).toString('base64url')
  writeFileSync(file, `${pepper}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  return pepper
}

export async function createApp(config: Config, deps: AppDeps = {}): Promise<App> {
  const logger = deps.logger ?? createLogger({ level: config.log.level })
  const metrics = deps.registry ?? createRegistry()
  const clock = deps.clock ?? Date.now
  // A command that only reads an existing store fails before anything is created.
  if (deps.existingStore) assertStoreExists(config)
  // Everything keyshift and its embedded engine create is private to this user.
  restrictUmask()
  const dataDir = resolve(config.data_dir)
  const deadLetterPath = config.ingest.dead_letter_file ?? join(dataDir, 'dead-letters.ndjson')
  const existing = [dataDir, embeddedPath(dataDir), join(dataDir, 'pepper'), deadLetterPath]
  for (const w of openToOthers(existing)) {
    logger.warn(
      { path: w.path, mode: w.mode },
      'A keyshift data path is open to other users (it holds auth events, notes or the pepper); run chmod go-rwx on it.',
    )
  }
  const fingerprint = createFingerprinter(resolvePepper(config))
  scrubLogsWith(logger, fingerprint)
  // The same scrubber as gateway logs at the HTTP edge (registry files and the
  // lifecycle topic build theirs from the same fingerprinter).
  const scrubInput = createInputScrubber(fingerprint)

  const store = createStoreClient(config, { metrics })
  try {
    await migrate(store.client, store.database, {
      rawDays: config.clickhouse.retention_days,
      rollupDays: config.clickhouse.rollup_retention_days,
    })
  } catch (err) {
    await store.close().catch(() => {})
    throw storeUnreachable(err, store)
  }
  const events = new EventStore(
    store.client,
    store.database,
    clock,
    store.mode === 'embedded' ? join(resolve(config.data_dir), 'spool') : null,
  )
  const status = new StatusStore(store.client, store.database)
  const keys = new KeyRegistry(new RegistryStore(store.client, store.database), logger)
  await keys.refresh()
  const analytics = new AnalyticsStore(store.client, store.database)
  const usageBands = new UsageBandStore(store.client, store.database)
  const rotation = new RotationService({
    analytics,
    status,
    places: new PlacesStore(store.client, store.database),
    keys,
    analysis: config.analysis,
  })
  const incidents = new IncidentService({
    store: new IncidentStore(store.client, store.database),
    versions: () => keys.versions(),
    freshness: (now) => status.freshness(now),
    readiness: (req, now) => rotation.readiness(req, now),
    audit: (e) => status.audit(e),
    auditLog: (keyId, version) => status.auditLog(keyId, version, 1000),
    scrub: (text) => scrubText(text, fingerprint),
    settings: config.incidents,
  })
  const auth = new TokenAuth(config.http.read_tokens, config.http.admin_tokens)
  if (config.http.enabled) await checkOpenApiBinding({ host: config.http.host, open: auth.open })

  const kafka = config.kafka.brokers.length > 0 ? createKafka(config.kafka, logger) : null
  const kafkaSources = config.sources.filter((s) => s.type === 'kafka')
  if (kafkaSources.length > 0 && !kafka) {
    throw new ConfigError(
      'sources: a kafka source is configured but kafka.brokers is empty; list the brokers',
    )
  }

  const decoders = new Map<string, RecordDecoder>()
  const makeDecoder = (d: DecoderConfig): RecordDecoder =>
    createDecoder({
      preset: d.preset,
      mapping: d.mapping,
      secretPaths: [...config.secrets.fields, ...d.secret_fields],
      fingerprint,
      resolveFingerprint: keys.resolveFingerprint,
      defaultGateway: d.default_gateway ?? d.preset,
      maxRecordBytes: d.max_record_bytes,
      maxFutureSkewMs: d.max_future_skew_ms,
    })

  const deadLetterFile = new FileDeadLetterSink(deadLetterPath, clock)
  const deadLetterKafka = kafka ? new KafkaDeadLetterSink(kafka, config.kafka.dead_letter_topic) : null
  const deadLetters: DeadLetterSink = {
    async send(letters) {
      const fromKafka = letters.filter((l) => isKafkaSourceId(l.source))
      const other = letters.filter((l) => !isKafkaSourceId(l.source))
      if (fromKafka.length > 0 && deadLetterKafka) await deadLetterKafka.send(fromKafka)
      if (other.length > 0) await deadLetterFile.send(other)
    },
  }

  let kickEvaluation: () => void = () => {}
  const pipeline = new IngestPipeline({
    store: events,
    decoderFor: (source) => {
      const d = decoders.get(source)
      if (!d) throw new ConfigError(`no decoder configured for source ${source}`)
      return d
    },
    deadLetters,
    scrub: (bytes, truncated) =>
      truncated ? scrubTruncatedBytes(bytes, fingerprint) : scrubBytes(bytes, fingerprint),
    logger,
    registry: metrics,
    batchMaxEvents: config.ingest.batch_max_events,
    batchMaxWaitMs: config.ingest.batch_max_wait_ms,
    maxBufferedEvents: config.ingest.max_buffered_events,
    retryBaseMs: config.ingest.retry_base_ms,
    retryMaxMs: config.ingest.retry_max_ms,
    clock,
    isEphemeral: (source) => source === 'stdin',
    groupsPartitions: isKafkaSourceId,
    // Evaluate right after new events are stored, so alerts follow within seconds.
    onStored: () => kickEvaluation(),
  })
  const alerting = createAlerting({
    config,
    store,
    rotation,
    touches: analytics,
    status,
    keys,
    incidents,
    kafka,
    logger,
    metrics,
    clock,
    ingest: () => ingestState(),
    usage: new UsageAnomalies(
      config.analysis.usage_anomaly,
      {
        keys: async (now) => [
          ...new Set([
            ...(await analytics.keys({ from: now - 86_400_000, to: now })).map((k) => k.keyId),
            ...keys.versions().map((v) => v.keyId),
          ]),
        ],
        usageBuckets: (keyIds, w, bucketMs) => analytics.usageBucketsOfKeys(keyIds, w, bucketMs),
        sourceSightings: (keyIds, w, maxPerKey) => analytics.sourceSightingsOfKeys(keyIds, w, maxPerKey),
        freshness: (now) => status.freshness(now),
        recordBands: (points) => usageBands.insert(points),
      },
      logger,
    ),
  })
  kickEvaluation = () => alerting.kick()

  const sources: Source[] = []
  /** Records the sources have read (or could read) and not stored yet, and whether all of them consume. */
  const ingestState = () => ({
    backlog: sources.reduce((sum, s) => sum + (s.backlog?.() ?? 0), 0),
    ready: sources.every((s) => s.ready()),
  })
  const stdinDone: Promise<void>[] = []
  if (kafkaSources.length > 0 && kafka) {
    for (const s of kafkaSources) decoders.set(kafkaSourceId(s.topic), makeDecoder(s.decoder))
    sources.push(
      new KafkaSource({
        kafka,
        groupId: config.kafka.group_id,
        topics: kafkaSources.map((s) => s.topic),
        sink: pipeline,
        logger,
        registry: metrics,
        partitionsConsumedConcurrently: config.kafka.partitions_consumed_concurrently,
        sessionTimeoutMs: config.kafka.session_timeout_ms,
      }),
    )
  }
  if (kafka) {
    sources.push(
      new LifecycleConsumer({
        kafka,
        groupId: config.kafka.group_id,
        topic: config.kafka.lifecycle_topic,
        registry: keys,
        incidents,
        fingerprint,
        logger,
        metrics,
        clock,
      }),
    )
  }
  for (const s of config.sources) {
    if (s.type === 'file') {
      const src = createFileSource({
        path: resolve(s.path),
        sink: pipeline,
        logger,
        pollIntervalMs: s.poll_interval_ms,
        maxBatchRecords: config.ingest.batch_max_events,
        startAt: s.start_at,
        // The position's digest of the file's first (raw, possibly key-bearing) bytes is keyed by the pepper.
        headKey: fingerprint('file-source-head-digest'),
      })
      decoders.set(src.id, makeDecoder(s.decoder))
      sources.push(src)
    } else if (s.type === 'stdin') {
      const src = createStdinSource({
        input: deps.stdin ?? hostStdin(),
        logger,
        sink: pipeline,
        maxBatchRecords: config.ingest.batch_max_events,
      })
      decoders.set(src.id, makeDecoder(s.decoder))
      sources.push(src)
      stdinDone.push(src.done)
    }
  }

  const places = createPlacesMonitor({ places: (now) => rotation.places(now), clock, registry: metrics })
  const http = config.http.enabled
    ? createHttpServer({
        logger,
        registry: metrics,
        scrubInput,
        maxBodyBytes: config.http.max_body_bytes,
        checks: [
          {
            name: 'store',
            check: async () => {
              const r = await store.client.ping()
              return r.success ? { ok: true } : { ok: false, detail: 'store ping failed' }
            },
          },
          {
            // Not ready while nothing is being stored (a write failing again and again, or halted).
            name: 'ingest',
            check: async () => pipeline.health(),
          },
          ...sources.map((s) => ({
            name: `source ${s.id}`,
            check: async () => ({ ok: s.ready(), detail: s.ready() ? 'consuming' : 'not consuming yet' }),
          })),
          { name: 'places', check: places.check },
        ],
      })
    : null
  if (http) {
    await http.register(
      rotationRoutes({
        rotation,
        auth,
        clock,
        verdict: (req, now) => incidents.verdict(req, now),
        openAlerts: (now) => listOpenAlerts(alerting.store, now),
      }),
    )
    await http.register(incidentRoutes({ incidents, auth, clock }))
    await http.register(usageRoutes({ bands: usageBands, auth, clock }))
    await http.register(lifecycleRoutes({ keys, auth, fingerprint, clock }))
    await http.register(statusPageRoutes())
    await http.register(
      silenceRoutes({
        auth,
        silences: alerting.store,
        clock,
        evaluation: () => alerting.evaluator.lastRound,
      }),
    )
    // The contract of every route above, public like /healthz: it holds no data.
    // Built on first request, not at every start (z.toJSONSchema over every route).
    let openapi: ReturnType<typeof openApiDocument> | undefined
    http.get('/api/v1/openapi.json', async () => {
      openapi ??= openApiDocument()
      return openapi
    })
  }

  const heartbeat = async () => {
    const ingest = ingestState()
    await status.heartbeat({
      time: clock(),
      instance: config.instance,
      newestEventTime: pipeline.newestEventTime(),
      consumerLagMessages: ingest.backlog,
      bufferedEvents: pipeline.bufferedEvents(),
      sourcesReady: ingest.ready,
    })
  }
  let heartbeatTimer: NodeJS.Timeout | null = null

  let address: string | null = null
  return {
    config,
    logger,
    metrics,
    store,
    events,
    keys,
    status,
    rotation,
    incidents,
    alerting,
    auth,
    pipeline,
    sources,
    http,
    fingerprint,
    decoderFor: (source) => decoders.get(source)!,
    registerDecoder: (source, d) => {
      decoders.set(source, makeDecoder(d))
    },
    url: () => address,
    stdinDone: async () => {
      await Promise.all(stdinDone)
      await pipeline.drain()
    },
    async start() {
      if (config.registry.files.length > 0) {
        const loaded = await loadLifecycleFiles(config.registry.files, { fingerprint, now: clock() })
        await keys.record(loaded)
        logger.info(
          { files: config.registry.files, events: loaded.length },
          'Loaded lifecycle events from files.',
        )
      }
      keys.startRefreshing(5_000)
      if (http) {
        address = await http.listen({ host: config.http.host, port: config.http.port })
        logger.info({ url: address }, 'HTTP server listening.')
      }
      for (const s of sources) await s.start()
      await alerting.start()
      if (sources.length > 0) {
        heartbeatTimer = setInterval(() => {
          heartbeat().catch((err) =>
            logger.warn({ err: (err as Error).message }, 'Writing an ingest heartbeat failed.'),
          )
        }, config.ingest.heartbeat_interval_ms)
        heartbeatTimer.unref()
      }
      logger.info({ sources: sources.map((s) => s.id), store: store.mode }, 'keyshift started.')
    },
    async stop() {
      if (heartbeatTimer) clearInterval(heartbeatTimer)
      pipeline.close()
      for (const s of sources)
        await s.stop().catch((err) => logger.warn({ err }, 'Stopping a source failed.'))
      await pipeline.stop()
      await alerting.stop()
      keys.stop()
      await http?.close()
      await deadLetterKafka?.close()
      await store.close()
      logger.info('keyshift stopped.')
    },
  }
}
