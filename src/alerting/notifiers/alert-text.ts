// What a person reads in a notification, shared by the Slack and email
// notifiers: the headline, where the problem is, the evidence and what to do
// next for each alert type. Pure functions over plain text; each notifier
// escapes the strings for its own format. `code` spans are marked with backticks.
import {
  type Alert,
  type AlertType,
  compareSeverity,
  maxSeverity,
  type Notification,
  type NotificationKind,
  type Severity,
} from '../../domain/alert.ts'

const TYPE_LABELS: Record<AlertType, string> = {
  failures_after_deactivation: 'failures after deactivation',
  new_version_failing: 'new version failing',
  deactivated_still_accepted: 'deactivated version still accepted',
  possible_leak: 'possible leak',
  migration_stalled: 'migration stalled',
  expiring_with_traffic: 'expiring with traffic',
  unknown_key_surge: 'unknown key surge',
  failure_spike: 'failure spike',
  usage_anomaly: 'usage anomaly',
  deactivation_ready: 'deactivation ready',
  deactivation_not_ready: 'deactivation not ready',
  ingest_lag: 'ingest lag',
  dead_letter_rate: 'dead-letter rate',
  delivery_failing: 'delivery failing',
  incident_open: 'incident open',
  incident_unknown_source: 'leaked key used by an unknown source',
  incident_accepted_after_deactivation: 'leaked key still accepted after deactivation',
}

export function typeLabel(type: AlertType): string {
  return TYPE_LABELS[type] ?? String(type).replaceAll('_', ' ')
}

export type HeadlineStatus = 'FIRING' | 'RESOLVED' | 'READY' | 'NOT READY' | 'TEST'

const STATUS_OF_KIND: Record<NotificationKind, HeadlineStatus> = {
  'alert.firing': 'FIRING',
  'alert.resolved': 'RESOLVED',
  'rollback.advised': 'FIRING',
  'deactivation.ready': 'READY',
  'deactivation.not_ready': 'NOT READY',
  test: 'TEST',
}

export interface Headline {
  status: HeadlineStatus
  severity: Severity
  /** e.g. `rollback advised for acme-payments v1`, `failure spike for acme-payments v2 (+2 more)` */
  phrase: string
}

/** Display order: firing before resolved, then most severe first; stable otherwise. */
export function orderAlerts(alerts: readonly Alert[]): Alert[] {
  return [...alerts].sort((a, b) => {
    if (a.status !== b.status) return a.status === 'firing' ? -1 : 1
    return compareSeverity(b.severity, a.severity)
  })
}

/** `acme-payments v1`, or just the key when the alert is not about one version. */
export function keyAndVersion(a: Pick<Alert, 'keyId' | 'version'>): string {
  return a.version === '' ? a.keyId : `${a.keyId} ${a.version}`
}

function alertPhrase(a: Alert, kind: NotificationKind): string {
  const what = kind === 'rollback.advised' ? 'rollback advised' : typeLabel(a.type)
  return a.keyId === '' ? what : `${what} for ${keyAndVersion(a)}`
}

export function headline(n: Notification): Headline {
  const status = STATUS_OF_KIND[n.kind]
  const ordered = orderAlerts(n.alerts)
  const lead = ordered[0]
  if (lead === undefined) {
    return { status, severity: 'info', phrase: `test notification for receiver ${n.receiver}` }
  }
  const firing = n.alerts.filter((a) => a.status === 'firing')
  const severity = maxSeverity(firing.length > 0 ? firing : n.alerts)
  const more = ordered.length > 1 ? ` (+${ordered.length - 1} more)` : ''
  return { status, severity, phrase: `${alertPhrase(lead, n.kind)}${more}` }
}

/** `FIRING critical: rollback advised for acme-payments v1` */
export function headlineText(h: Headline): string {
  return `${h.status} ${h.severity}: ${h.phrase}`
}

/** `2026-11-28 13:20:00 UTC` */
export function formatTime(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d{3}Z$/, ' UTC')
}

const MAX_LIST_ITEMS = 5

function listText(values: readonly string[]): string {
  const shown = values.slice(0, MAX_LIST_ITEMS).join(', ')
  return values.length > MAX_LIST_ITEMS ? `${shown} (+${values.length - MAX_LIST_ITEMS} more)` : shown
}

function stringList(v: unknown): string[] | undefined {
  if (!Array.isArray(v) || v.length === 0) return undefined
  if (!v.every((x) => typeof x === 'string')) return undefined
  return v as string[]
}

/**
 * Where the problem is, from the `gateway`, `client` and `route` labels, else from
 * `gateways` / `clients` lists in the evidence; else the scope.
 * e.g. `gateway: kong-eu, envoy-us · client: acme-mobile`
 */
export function whereText(a: Alert): string {
  const parts: string[] = []
  const fields: Array<[string, string, string]> = [
    ['gateway', 'gateway', 'gateways'],
    ['client', 'client', 'clients'],
    ['route', 'route', 'routes'],
  ]
  for (const [name, label, evidenceKey] of fields) {
    const fromLabel = a.labels[label]
    const values =
      fromLabel !== undefined && fromLabel !== ''
        ? fromLabel.split(',').map((s) => s.trim())
        : stringList(a.evidence[evidenceKey])
    if (values !== undefined) parts.push(`${name}: ${listText(values)}`)
  }
  if (parts.length > 0) return parts.join(' · ')
  return a.scope === '*' || a.scope === '' ? 'all gateways and clients' : a.scope
}

const MAX_VALUE_CHARS = 300
const number = new Intl.NumberFormat('en-US', { maximumFractionDigits: 4 })

function clip(s: string): string {
  return s.length > MAX_VALUE_CHARS ? `${s.slice(0, MAX_VALUE_CHARS)}…` : s
}

/** Renders one evidence value on one line. */
export function evidenceValue(v: unknown): string {
  if (typeof v === 'number') return Number.isFinite(v) ? number.format(v) : String(v)
  if (typeof v === 'string') return clip(v.replace(/\s+/g, ' '))
  if (typeof v === 'bigint') return v.toString()
  if (typeof v === 'boolean' || v === null || v === undefined) return String(v)
  if (Array.isArray(v) && v.every((x) => typeof x !== 'object' || x === null)) {
    const items = v.map((x) => evidenceValue(x))
    return clip(listText(items))
  }
  return clip(safeJson(v))
}

/** JSON that tolerates bigint values (stream offsets are bigint). */
export function safeJson(v: unknown, space?: number): string {
  return JSON.stringify(v, (_k, x) => (typeof x === 'bigint' ? x.toString() : x), space) ?? 'null'
}

/** Evidence keys that hold an instant as epoch milliseconds: `deactivatedAt`, `failingSince`, `first_seen_at`. */
const INSTANT_KEY = /(?:At|Since|Until|Time|_at|_since|_until|_time)$/
/** Evidence keys that hold a duration in milliseconds: `lagMs`, `min_overlap_ms`. */
const DURATION_KEY = /(?:Ms|_ms)$/
/** Epoch milliseconds between 1973 and 2286: a number outside is not shown as a time. */
const EPOCH_MS = { min: 1e11, max: 1e13 } as const

/** `45 s`, `2 m 5 s`, `3 h 20 m`, `2 d 4 h`: the two largest units, rounded down. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return String(ms)
  if (ms < 1000) return `${Math.round(ms)} ms`
  const units: Array<[string, number]> = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ]
  const parts: string[] = []
  let rest = Math.floor(ms)
  for (const [name, size] of units) {
    const n = Math.floor(rest / size)
    rest -= n * size
    if (n > 0 || parts.length > 0) parts.push(`${n} ${name}`)
    if (parts.length === 2) break
  }
  return parts.filter((p) => !p.startsWith('0 ')).join(' ')
}

/**
 * One evidence value as a person reads it: instants (keys such as `deactivatedAt`)
 * as UTC times and durations (keys ending in `Ms`) in units, not raw milliseconds.
 */
export function evidenceEntryValue(key: string, v: unknown): string {
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (INSTANT_KEY.test(key) && v >= EPOCH_MS.min && v <= EPOCH_MS.max) return formatTime(v)
    if (DURATION_KEY.test(key) && v >= 0) return formatDuration(v)
  }
  return evidenceValue(v)
}

/** `key: value` lines, at most `max`, the last one saying how many were left out. */
export function evidenceLines(a: Alert, max = 12): string[] {
  const entries = Object.entries(a.evidence)
  const lines = entries.slice(0, max).map(([k, v]) => `${k}: ${evidenceEntryValue(k, v)}`)
  if (entries.length > max) lines.push(`(+${entries.length - max} more in the dashboard)`)
  return lines
}

/** Quotes a CLI argument for a POSIX shell when it needs it; backticks are dropped (they end a code span). */
export function shellArg(s: string): string {
  const clean = s.replaceAll('`', '')
  return /^[A-Za-z0-9._:@/+=-]+$/.test(clean) ? clean : `'${clean.replaceAll("'", `'"'"'`)}'`
}

function reactivate(a: Alert): string {
  return `\`keyshift key reactivate ${shellArg(a.keyId)} ${shellArg(a.version)}\``
}

function gate(a: Alert): string {
  return `\`keyshift gate ${shellArg(a.keyId)} ${shellArg(a.version)}\``
}

/** What the reader should do about one alert, in order. */
export function nextSteps(a: Alert, kind: NotificationKind): string[] {
  const v = a.version === '' ? 'the version' : a.version
  if (kind === 'test') return ['Nothing: this is a test notification sent to check the receiver.']
  if (a.status === 'resolved') return ['No action needed: the condition has cleared.']
  if (kind === 'rollback.advised' || a.type === 'failures_after_deactivation') {
    return [
      `Reactivate ${v} now: ${reactivate(a)}`,
      'Then move the failing clients listed in the evidence to the new version before deactivating again.',
    ]
  }
  switch (a.type) {
    case 'new_version_failing':
      return [
        'Keep the old version active: do not deactivate it while the new version fails.',
        `Check that ${v} is provisioned on every gateway and in every client listed under Where.`,
      ]
    case 'deactivated_still_accepted':
      return [
        `Remove ${v} from the key store of the gateways listed under Where, or flush their credential cache: it still works there.`,
        `If ${v} was rotated because of a leak, treat this as part of the incident.`,
      ]
    case 'possible_leak':
      return [
        `Treat ${v} as compromised: issue a new version and move clients to it now.`,
        'Review the source addresses and user agents in the evidence; block them at the gateway if they are not yours.',
        `Deactivate ${v} as soon as its legitimate traffic has moved; ${gate(a)} says when.`,
      ]
    case 'migration_stalled':
      return [
        `Contact the clients still on ${v} (listed in the evidence); the owner reminder email lists them per client.`,
        `Extend ${v}'s expiry rather than deactivating it while it carries traffic.`,
      ]
    case 'expiring_with_traffic':
      return [
        `${v} expires soon and still carries traffic: move the remaining clients, or extend its expiry to avoid an outage.`,
      ]
    case 'unknown_key_surge':
      return [
        'Check the source addresses in the evidence for credential stuffing; rate-limit or block them at the gateway.',
        'If a client was just rotated, it may be sending a version that was never registered: check its deployment.',
      ]
    case 'failure_spike':
      return [
        'Look at the failure reasons in the evidence; if the spike began with a rotation step, undo that step.',
      ]
    case 'usage_anomaly':
      return [
        'Compare the observed value with the expected band in the evidence: a surge can be a leaked key or a retry storm, a collapse clients failing before the gateway.',
        "If the new level is expected (a launch, a migration), silence this alert or lower the key's sensitivity (`analysis.usage_anomaly.keys`).",
      ]
    case 'deactivation_ready':
      return [`${v} has no remaining traffic: it is safe to deactivate; ${gate(a)} will pass.`]
    case 'deactivation_not_ready':
      return [`Do not deactivate ${v} yet: the evidence shows which rules still fail.`]
    case 'ingest_lag':
      return [
        'keyshift is behind on auth events, so readiness verdicts are unknown until it catches up.',
        'Check the Kafka consumer lag and ClickHouse health.',
      ]
    case 'dead_letter_rate':
      return [
        "Auth events are being dead-lettered: check the decoder preset or field mapping against the gateway's log format, and inspect the dead-letter topic.",
      ]
    case 'delivery_failing':
      return [
        'Notifications to a receiver keep failing: check its configuration and that its endpoint is reachable. keyshift keeps retrying.',
      ]
    case 'incident_open':
      return [
        `Move every known user listed in the evidence to the new version now; \`keyshift incident show ${String(a.labels.incident ?? '')}\` lists who is left.`,
        `Deactivate ${v} as soon as they have moved (or accept the listed breakage with \`keyshift gate --accept-breakage\`).`,
      ]
    case 'incident_unknown_source':
      return [
        `A source outside the snapshot of ${v}'s known users is using it: block the address at the gateway if it is not yours.`,
        `Deactivate ${v} as soon as its known users have moved; ${gate(a)} says when.`,
      ]
    case 'incident_accepted_after_deactivation':
      return [
        `${v} is deactivated but the gateway under Where still accepts it: remove it from that gateway's key store or flush its credential cache now.`,
      ]
    default:
      return []
  }
}
