// Wires the alerting side of the daemon from one validated config: notifiers,
// the alert pipeline, the outbox delivery worker, leader election and the
// evaluation loop. createApp calls `createAlerting` once; `start` joins the
// leader election (the leader evaluates and delivers), `kick` asks for an
// evaluation right after an ingest flush.
import type { Kafka } from 'kafkajs'
import { reminderReceiver, validateAlertingConfig } from '../alerting/config.ts'
import { DeliveryWorker } from '../alerting/delivery.ts'
import { EmailNotifier } from '../alerting/notifiers/email.ts'
import type { Notifier, NotifierDeps } from '../alerting/notifiers/notifier.ts'
import { createNotifier } from '../alerting/notifiers/registry.ts'
import type { Hash } from '../alerting/pipeline/record.ts'
import { AlertPipeline } from '../alerting/pipeline.ts'
import type { Config } from '../config/schema.ts'
import type { IncidentService } from '../incident/incident-service.ts'
import { KafkaLeadership, type Leadership, SingleInstanceLeadership } from '../ingest/kafka/leadership.ts'
import type { KeyRegistry } from '../registry/key-registry.ts'
import type { RotationService } from '../rotation/rotation-service.ts'
import { AlertStore } from '../store/clickhouse/alert-store.ts'
import type { AnalyticsStore } from '../store/clickhouse/analytics-store.ts'
import type { ClickHouseClient } from '../store/clickhouse/client.ts'
import { TOUCH_VERSIONS_MAX } from '../store/clickhouse/migrations.ts'
import type { StatusStore } from '../store/clickhouse/status-store.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'
import { Evaluator } from './evaluator.ts'
import { IncidentMonitor } from './incident-monitor.ts'
import { IncrementalFindings } from './incremental-findings.ts'
import { OwnerReminders } from './reminders.ts'
import { type UsageAnomalies, UsageInBackground } from './usage-anomalies.ts'

export interface AlertingDeps {
  config: Config
  store: { client: ClickHouseClient; database: string; mode?: 'server' | 'embedded' }
  rotation: Pick<
    RotationService,
    'findings' | 'readiness' | 'stragglers' | 'findingKeys' | 'keyFindings' | 'unknownKeyFindings'
  >
  /**
   * Which keys stored inserts touched (AnalyticsStore): with it, each round
   * re-reads only keys that changed (incremental-findings.ts); without, every key.
   */
  touches?: Pick<AnalyticsStore, 'touchesSince' | 'latestTouch'>
  status: Pick<StatusStore, 'freshness'>
  keys: Pick<KeyRegistry, 'versions'>
  /** Incidents: their alerts, owner notices, and the gate under incident rules for the readiness signals. */
  incidents?: IncidentService
  /** The daemon's Kafka client; null without Kafka (one instance: always the leader). */
  kafka: Kafka | null
  logger: Logger
  metrics: Registry
  clock?: () => number
  /** The daemon's ingest backlog and readiness (evaluations space out while it catches up). */
  ingest?: () => { backlog: number; ready: boolean }
  /** The usage-anomaly watch, whose findings join the rotation findings. */
  usage?: Pick<UsageAnomalies, 'findings'>
  /** Overrides for the notifiers (tests: fetch). */
  notifierDeps?: Pick<NotifierDeps, 'fetch'>
  /** Overrides the leader election (tests). */
  leadership?: Leadership
  hash?: Hash
  random?: () => number
}

export interface Alerting {
  store: AlertStore
  pipeline: AlertPipeline
  delivery: DeliveryWorker
  evaluator: Evaluator
  leadership: Leadership
  notifiers: ReadonlyMap<string, Notifier>
  /** Asks for an evaluation now (call after each ingest flush). */
  kick(): void
  start(): Promise<void>
  stop(): Promise<void>
}

/** Builds the alerting side; throws ConfigError for a route naming an unknown receiver or an unusable receiver. */
export function createAlerting(deps: AlertingDeps): Alerting {
  const cfg = deps.config.alerting
  validateAlertingConfig(cfg)
  const clock = deps.clock ?? Date.now
  const logger = deps.logger.child({ component: 'alerting' })
  const store = new AlertStore(deps.store.client, deps.store.database)

  const notifiers = new Map<string, Notifier>()
  for (const [name, receiver] of Object.entries(cfg.receivers)) {
    notifiers.set(
      name,
      createNotifier(name, receiver, {
        ...deps.notifierDeps,
        clock: { now: clock },
        logger: logger.child({ receiver: name }),
        source: cfg.event_source,
      }),
    )
  }

  const pipeline = new AlertPipeline({ config: cfg, store, hash: deps.hash, logger, registry: deps.metrics })
  const delivery = new DeliveryWorker({
    store,
    notifiers,
    maxAgeMs: cfg.max_delivery_age_ms,
    retryBaseMs: cfg.delivery_retry_base_ms,
    retryMaxMs: cfg.delivery_retry_max_ms,
    concurrency: cfg.delivery_concurrency,
    instance: deps.config.instance,
    clock: { now: clock },
    random: deps.random,
    logger,
    registry: deps.metrics,
  })

  const leadership =
    deps.leadership ??
    (deps.kafka
      ? new KafkaLeadership({
          kafka: deps.kafka,
          groupId: deps.config.kafka.group_id,
          topic: cfg.leadership.topic,
          sessionTimeoutMs: cfg.leadership.session_timeout_ms,
          logger,
          registry: deps.metrics,
        })
      : new SingleInstanceLeadership())
  if (leadership.kind === 'single' && deps.store.mode === 'server') {
    logger.warn(
      'No Kafka is configured, so this instance evaluates and delivers alerts on its own; ' +
        'run one instance per ClickHouse database, or configure kafka.brokers for leader election.',
    )
  }

  let reminders: OwnerReminders | undefined
  const mailer = cfg.reminders.enabled ? notifiers.get(reminderReceiver(cfg) ?? '') : undefined
  if (mailer instanceof EmailNotifier) {
    reminders = new OwnerReminders({
      versions: () => deps.keys.versions(),
      stragglers: (keyId, version, now) => deps.rotation.stragglers(keyId, version, now),
      store,
      send: (m) => mailer.send(m),
      intervalMs: cfg.reminders.interval_ms,
      dashboardUrl: cfg.dashboard_url,
      logger,
    })
  }

  // Incident owner notices go through the same email receiver as owner
  // reminders, but are not opt-in: owners of a leaked version are told at once.
  const incidentMailer = notifiers.get(reminderReceiver(cfg) ?? '')
  const incidents = deps.incidents
    ? new IncidentMonitor({
        service: deps.incidents,
        versions: () => deps.keys.versions(),
        send: incidentMailer instanceof EmailNotifier ? (m) => incidentMailer.send(m) : undefined,
        dashboardUrl: cfg.dashboard_url,
        logger,
      })
    : undefined

  const touches = deps.touches
  const incremental = touches
    ? new IncrementalFindings(
        {
          keys: (now) => deps.rotation.findingKeys(now),
          keyFindings: (keyIds, now) => deps.rotation.keyFindings(keyIds, now),
          otherFindings: (now) => deps.rotation.unknownKeyFindings(now),
          touchesSince: (from, limit) => touches.touchesSince(from, limit),
          latestTouch: () => touches.latestTouch(),
          versions: () => deps.keys.versions(),
        },
        {
          settings: deps.config.analysis.findings,
          touchVersionsMax: TOUCH_VERSIONS_MAX,
          // The embedded engine runs one statement at a time, so an insert is
          // visible before any later one starts: a second of overlap is plenty.
          // A server takes inserts in parallel: one may land seconds after a later one.
          touchOverlapMs: deps.store.mode === 'embedded' ? 1_000 : 10_000,
          // The sweep is read between rounds, so the round that carries an alert reads only what changed.
          sweepAhead: true,
        },
      )
    : null

  // Usage anomalies are judged per 5-minute bucket and warm up new keys over many
  // rounds: computed beside the rounds, never inside one.
  const usage = deps.usage ? new UsageInBackground(deps.usage, () => evaluator.kick(), logger) : null
  const evaluator = new Evaluator({
    sources: {
      findings: async (now) => [
        ...(incremental ? await incremental.findings(now) : await deps.rotation.findings(now)),
        ...(usage ? usage.latest(now) : []),
      ],
      ...(incremental
        ? {
            round: () => incremental.lastRound,
            changedKeys: () => incremental.changedKeys,
            resetFindings: () => incremental.reset(),
          }
        : {}),
      readiness: (keyId, version, now) => {
        const req = { keyId, version, askedBy: 'keyshift', via: 'evaluation', audit: false } as const
        return deps.incidents ? deps.incidents.verdict(req, now) : deps.rotation.readiness(req, now)
      },
      versions: () => deps.keys.versions(),
      freshness: (now) => deps.status.freshness(now),
      deadLetterCounts: (from, to) => store.deadLetterCounts(from, to),
    },
    pipeline,
    delivery,
    leadership,
    intervalMs: deps.config.analysis.evaluation_interval_ms,
    selfMonitoring: cfg.self_monitoring,
    ...(reminders ? { reminders } : {}),
    ...(incidents ? { incidents } : {}),
    clock,
    logger,
    registry: deps.metrics,
    ...(deps.ingest ? { ingest: deps.ingest } : {}),
  })

  return {
    store,
    pipeline,
    delivery,
    evaluator,
    leadership,
    notifiers,
    kick: () => evaluator.kick(),
    async start() {
      evaluator.start()
      await leadership.start()
    },
    async stop() {
      await leadership.stop().catch((err) => logger.warn({ err }, 'Leaving the leader election failed.'))
      await evaluator.stop()
      await usage?.stop()
    },
  }
}
