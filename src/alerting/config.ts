// The `alerting` section: receivers, routes and the timing of the alert path
// (Alertmanager semantics: for, group_wait, group_interval, repeat_interval),
// delivery retry bounds and self-monitoring thresholds. Every duration says its
// unit; unknown keys are rejected. `validateAlertingConfig` checks what a schema
// cannot see (routes naming receivers that do not exist) and runs at start.
import { z } from 'zod'
import { ALERT_TYPES, type AlertType, NOTIFICATION_KINDS, SEVERITIES } from '../domain/alert.ts'
import { ConfigError } from '../domain/errors.ts'
import { receiverConfigSchema, receiverName } from './notifiers/registry.ts'

const MINUTE_MS = 60_000
const HOUR_MS = 60 * MINUTE_MS

const ms = (dflt: number) =>
  z.number().int('must be a whole number of milliseconds').nonnegative().default(dflt)
const positiveMs = (dflt: number) =>
  z.number().int('must be a whole number of milliseconds').positive('must be more than 0 ms').default(dflt)

/** Alert fields a group can be keyed by; `labels.<name>` reads one alert label. */
export const GROUP_FIELDS = ['type', 'severity', 'keyId', 'version', 'scope'] as const
const groupField = z
  .string()
  .refine(
    (f) => (GROUP_FIELDS as readonly string[]).includes(f) || /^labels\.[A-Za-z0-9_.-]+$/.test(f),
    `group_by entries are ${GROUP_FIELDS.join(', ')} or labels.<name>`,
  )

/** Notification kinds a route can select (every kind but `test`). */
export const ROUTABLE_KINDS = NOTIFICATION_KINDS.filter((k) => k !== 'test') as Exclude<
  (typeof NOTIFICATION_KINDS)[number],
  'test'
>[]

const globList = z.array(
  z
    .string()
    .min(1)
    .regex(
      /^[A-Za-z0-9._:@/*?=,-]+$/,
      'globs may use letters, digits, . _ : @ / = , - and the wildcards * ?',
    ),
)

const matchSchema = z.strictObject({
  /** Alert types, e.g. [failures_after_deactivation, new_version_failing]. */
  type: z.array(z.enum(ALERT_TYPES)).optional(),
  severity: z.array(z.enum(SEVERITIES)).optional(),
  /** Key id globs, e.g. [acme-*]. */
  key: globList.optional(),
  /** Notification kinds, e.g. [rollback.advised, deactivation.ready] to send automation signals only. */
  kind: z.array(z.enum(ROUTABLE_KINDS)).optional(),
  /** Every listed label must match (values are globs). */
  labels: z.record(z.string().min(1), z.string()).optional(),
})

const routeSchema = z.strictObject({
  match: matchSchema.prefault({}),
  receivers: z.array(z.string().min(1)).min(1, 'list at least one receiver'),
  /** Keep matching later routes after this one (default false: the first matching route wins). */
  continue: z.boolean().default(false),
  group_by: z.array(groupField).min(1).optional(),
  group_wait_ms: z.number().int().nonnegative().optional(),
  group_interval_ms: z.number().int().positive().optional(),
  repeat_interval_ms: z.number().int().positive().optional(),
})

/**
 * Defaults (milliseconds):
 * - `group_wait_ms` 500: a spike's alerts go out in one notification, adding at most 0.5 s
 *   (with rounds after every flush, a round or two; it was 1 s, half of a 2 s alert budget).
 * - `group_interval_ms` 60000: changes to a group already notified wait this long.
 * - `repeat_interval_ms` 4 h: an unchanged firing group is re-sent this often.
 * - `for_ms` 0 (findings already need several failures in a 15-minute window), with
 *   `for_ms_by_type` 60000 for `ingest_lag` and `dead_letter_rate` (no flapping at start-up).
 * - `resolve_after_ms` 60000: an alert resolves when its condition was not seen for
 *   this long (30 evaluations at the default 2 s), so a flapping finding does not
 *   send resolved/firing pairs. Readiness signals resolve at once (they are edges).
 * - `max_delivery_age_ms` 1 h; retries back off from `delivery_retry_base_ms` 1000 to
 *   `delivery_retry_max_ms` 60000 with full jitter.
 */
export const alertingConfigSchema = z.strictObject({
  receivers: z.record(receiverName, receiverConfigSchema).default({}),
  routes: z.array(routeSchema).default([]),
  /** Receivers for alerts no route matched. */
  default_receivers: z.array(z.string().min(1)).default([]),
  group_by: z.array(groupField).min(1).default(['type', 'keyId']),
  /**
   * Fields added to a route's grouping for alerts of one type. The default
   * groups incident alerts per source address and per gateway, so a burst from
   * one source is one page and a new source is a new page.
   */
  group_by_by_type: z.partialRecord(z.enum(ALERT_TYPES), z.array(groupField).min(1)).default({
    incident_unknown_source: ['labels.source'],
    incident_accepted_after_deactivation: ['labels.gateway'],
  }),
  group_wait_ms: ms(500),
  group_interval_ms: positiveMs(MINUTE_MS),
  repeat_interval_ms: positiveMs(4 * HOUR_MS),
  for_ms: ms(0),
  for_ms_by_type: z
    .partialRecord(z.enum(ALERT_TYPES), z.number().int().nonnegative())
    .default({ ingest_lag: MINUTE_MS, dead_letter_rate: MINUTE_MS }),
  resolve_after_ms: ms(MINUTE_MS),
  max_delivery_age_ms: positiveMs(HOUR_MS),
  delivery_retry_base_ms: positiveMs(1_000),
  delivery_retry_max_ms: positiveMs(MINUTE_MS),
  /** Deliveries in flight at once, over all receivers. */
  delivery_concurrency: z.number().int().min(1).max(64).default(4),
  /** Linked from every notification. */
  dashboard_url: z.url({ protocol: /^https?$/, error: 'must be an absolute http(s) URL' }).optional(),
  /** CloudEvents `source` of webhook deliveries: the same on every instance, e.g. keyshift/prod-eu. */
  event_source: z.string().min(1).default('keyshift'),
  /** Opt-in emails to a key's owner contacts listing the clients still on a deprecated version. */
  reminders: z
    .strictObject({
      enabled: z.boolean().default(false),
      interval_ms: positiveMs(24 * HOUR_MS),
      /** The email receiver whose SMTP settings and sender are used; default: the first email receiver. */
      receiver: z.string().min(1).optional(),
    })
    .prefault({}),
  self_monitoring: z
    .strictObject({
      /** `ingest_lag` fires when stored data is further behind than this. */
      ingest_lag_ms: positiveMs(5 * MINUTE_MS),
      /** `dead_letter_rate` fires above this share of dead-lettered records over the last 10 minutes… */
      dead_letter_ratio: z.number().gt(0).max(1).default(0.05),
      /** …once at least this many records were dead-lettered in those 10 minutes. */
      dead_letter_min_count: z.number().int().min(1).default(10),
      /** `delivery_failing` fires when a notification has kept failing for this long. */
      delivery_failing_after_ms: positiveMs(10 * MINUTE_MS),
    })
    .prefault({}),
  leadership: z
    .strictObject({
      /** One-partition topic whose single owner is the leader; created when missing. */
      topic: z.string().min(1).default('keyshift.leader'),
      /** How long a silent leader keeps leadership before another instance takes over. */
      session_timeout_ms: z.number().int().min(6_000).max(300_000).default(10_000),
    })
    .prefault({}),
})

export type AlertingConfig = z.output<typeof alertingConfigSchema>
export type AlertingConfigInput = z.input<typeof alertingConfigSchema>
export type RouteMatch = z.output<typeof matchSchema>
export type RoutableKind = (typeof ROUTABLE_KINDS)[number]

/** A route with its inherited timing filled in. `index` is -1 for `default_receivers`. */
export interface ResolvedRoute {
  index: number
  match: RouteMatch
  receivers: string[]
  continue: boolean
  groupBy: string[]
  /** Fields added to `groupBy` for alerts of a type (`alerting.group_by_by_type`). */
  groupByType?: Partial<Record<AlertType, string[]>>
  groupWaitMs: number
  groupIntervalMs: number
  repeatIntervalMs: number
}

/** Routes in order, each with the section's timing where it sets none, then the default route. */
export function resolveRoutes(cfg: AlertingConfig): ResolvedRoute[] {
  const out: ResolvedRoute[] = cfg.routes.map((r, index) => ({
    index,
    match: r.match,
    receivers: [...r.receivers],
    continue: r.continue,
    groupBy: [...(r.group_by ?? cfg.group_by)],
    groupByType: cfg.group_by_by_type,
    groupWaitMs: r.group_wait_ms ?? cfg.group_wait_ms,
    groupIntervalMs: r.group_interval_ms ?? cfg.group_interval_ms,
    repeatIntervalMs: r.repeat_interval_ms ?? cfg.repeat_interval_ms,
  }))
  out.push({
    index: -1,
    match: {},
    receivers: [...cfg.default_receivers],
    continue: false,
    groupBy: [...cfg.group_by],
    groupByType: cfg.group_by_by_type,
    groupWaitMs: cfg.group_wait_ms,
    groupIntervalMs: cfg.group_interval_ms,
    repeatIntervalMs: cfg.repeat_interval_ms,
  })
  return out
}

/** The email receiver owner reminders are sent through, if any. */
export function reminderReceiver(cfg: Pick<AlertingConfig, 'receivers' | 'reminders'>): string | undefined {
  const isEmail = (name: string) => cfg.receivers[name]?.type === 'email'
  const named = cfg.reminders.receiver
  if (named !== undefined) return isEmail(named) ? named : undefined
  return Object.keys(cfg.receivers).find(isEmail)
}

/** The pending → firing delay of an alert type. */
export function forMsOf(cfg: Pick<AlertingConfig, 'for_ms' | 'for_ms_by_type'>, type: AlertType): number {
  return cfg.for_ms_by_type[type] ?? cfg.for_ms
}

/**
 * Checks what the schema cannot: every receiver a route or `default_receivers`
 * names is defined. Throws ConfigError listing each problem with its fix.
 */
export function validateAlertingConfig(cfg: AlertingConfig): void {
  const known = Object.keys(cfg.receivers).sort()
  const knownText = known.length > 0 ? `defined receivers: ${known.join(', ')}` : 'no receiver is defined yet'
  const problems: string[] = []
  const check = (where: string, name: string) => {
    if (!Object.hasOwn(cfg.receivers, name)) {
      problems.push(
        `  - ${where}: unknown receiver "${name}"; define it under alerting.receivers or fix the name (${knownText})`,
      )
    }
  }
  cfg.routes.forEach((r, i) => {
    for (const name of r.receivers) check(`alerting.routes[${i}].receivers`, name)
  })
  for (const name of cfg.default_receivers) check('alerting.default_receivers', name)
  if (cfg.reminders.enabled && reminderReceiver(cfg) === undefined) {
    const named = cfg.reminders.receiver
    problems.push(
      named === undefined
        ? '  - alerting.reminders: owner reminders are sent by email; define an email receiver or set enabled: false'
        : `  - alerting.reminders.receiver: "${named}" is not an email receiver; name one of type email`,
    )
  }
  if (cfg.delivery_retry_base_ms > cfg.delivery_retry_max_ms) {
    problems.push(
      `  - alerting.delivery_retry_base_ms: ${cfg.delivery_retry_base_ms} is above delivery_retry_max_ms (${cfg.delivery_retry_max_ms}); lower it or raise the maximum`,
    )
  }
  if (problems.length > 0) throw new ConfigError(`invalid alerting configuration:\n${problems.join('\n')}`)
}
