// Alerts and the notifications that carry them to receivers. An alert is one
// finding about one (key, version, scope) with a stable identity; a
// notification is one delivery of a group of alerts to one receiver, with an id
// that stays the same on every retry so receivers can deduplicate.

/** Findings about key rotations, produced by the evaluation loop. */
export const FINDING_TYPES = [
  'failures_after_deactivation',
  'new_version_failing',
  'deactivated_still_accepted',
  'possible_leak',
  'migration_stalled',
  'expiring_with_traffic',
  'unknown_key_surge',
  'failure_spike',
  'usage_anomaly',
  'deactivation_ready',
  'deactivation_not_ready',
] as const

/** Findings about keyshift itself: it tells the truth about its own health. */
export const SELF_MONITORING_TYPES = ['ingest_lag', 'dead_letter_rate', 'delivery_failing'] as const

/** Alerts about an open incident (a leaked key version), see docs/incidents.md. */
export const INCIDENT_ALERT_TYPES = [
  'incident_open',
  'incident_unknown_source',
  'incident_accepted_after_deactivation',
] as const

export const ALERT_TYPES = [...FINDING_TYPES, ...SELF_MONITORING_TYPES, ...INCIDENT_ALERT_TYPES] as const
export type AlertType = (typeof ALERT_TYPES)[number]

export const SEVERITIES = ['info', 'warning', 'critical'] as const
export type Severity = (typeof SEVERITIES)[number]

export const ALERT_STATUSES = ['firing', 'resolved'] as const
export type AlertStatus = (typeof ALERT_STATUSES)[number]

/** Scope of an alert that concerns a whole key version rather than one gateway, client or route. */
export const SCOPE_ALL = '*'

export interface Alert {
  /** Stable identity `${type}:${keyId}:${version}:${scope}`, see `alertId`. */
  id: string
  type: AlertType
  severity: Severity
  status: AlertStatus
  keyId: string
  /** Version label (`v1`), or '' for alerts that are not about one version (e.g. unknown_key_surge, ingest_lag). */
  version: string
  /** What part of the key's traffic the alert is about: `*` (all), or e.g. `gateway=kong-eu`, `route=/v1/pay`. */
  scope: string
  /**
   * Bounded, low-cardinality context. Conventional names read by the notifiers:
   * `gateway`, `client`, `route` (comma-separated when several).
   */
  labels: Record<string, string>
  /** One line, e.g. `Rollback advised for acme-payments v1`. Never contains key material. */
  title: string
  /** One or two sentences that say what happened and why it matters. */
  summary: string
  /**
   * Numbers and lists that justify the alert (counts, ratios, clients, gateways).
   * Values are JSON-serialisable; key material only ever appears as fingerprints (`fp_…`).
   */
  evidence: Record<string, unknown>
  /** Epoch milliseconds when the condition started. */
  startsAt: number
  /** Epoch milliseconds when it resolved; set only when `status` is `resolved`. */
  endsAt?: number
  /** Epoch milliseconds of the evaluation that last confirmed the alert. */
  updatedAt: number
}

export const NOTIFICATION_KINDS = [
  'alert.firing',
  'alert.resolved',
  'deactivation.ready',
  'deactivation.not_ready',
  'rollback.advised',
  'test',
] as const
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number]

export interface Notification {
  /**
   * Unique per (receiver, group, change), and identical on every retry of the same
   * delivery: it is the `webhook-id`, the CloudEvents `id` and the email Message-ID.
   */
  id: string
  kind: NotificationKind
  /** Name of the configured receiver the notification goes to. */
  receiver: string
  /** The group of alerts, at least one except for `test` notifications. */
  alerts: Alert[]
  /** Identity of the group the alerts were put in (grouping labels). */
  groupKey: string
  /** Epoch milliseconds when the notification was created (not when an attempt was made). */
  createdAt: number
  /** Link to the dashboard or status page for this group, when one is configured. */
  dashboardUrl?: string
}

/** The stable identity of an alert: one per (type, key, version, scope). */
export function alertId(a: Pick<Alert, 'type' | 'keyId' | 'version' | 'scope'>): string {
  return `${a.type}:${a.keyId}:${a.version}:${a.scope}`
}

const SEVERITY_RANK: Record<Severity, number> = { info: 0, warning: 1, critical: 2 }

/** Orders severities: negative when `a` is less severe than `b`. */
export function compareSeverity(a: Severity, b: Severity): number {
  return SEVERITY_RANK[a] - SEVERITY_RANK[b]
}

/** The highest severity in a group; `info` for an empty group. */
export function maxSeverity(alerts: readonly Pick<Alert, 'severity'>[]): Severity {
  let max: Severity = 'info'
  for (const a of alerts) if (compareSeverity(a.severity, max) > 0) max = a.severity
  return max
}
