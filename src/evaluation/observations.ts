// What one evaluation observed, as input to the alert path: findings (and the
// rollback signal a failures_after_deactivation finding raises), deactivation
// readiness signals, and keyshift's own health (ingest lag, dead-letter rate,
// failing deliveries). Pure functions from read-side results to observations.

import type { AlertingConfig } from '../alerting/config.ts'
import type { FailingReceiver } from '../alerting/delivery.ts'
import { type AlertContent, type AlertState, alertKey, type Observation } from '../alerting/pipeline/types.ts'
import type { Finding } from '../analysis/findings.ts'
import type { VerdictWithRules as Readiness } from '../analysis/readiness.ts'
import { newerVersions } from '../analysis/versions.ts'
import { type AlertType, alertId, SCOPE_ALL } from '../domain/alert.ts'
import type { KeyVersion } from '../domain/key-version.ts'

// ------------------------------------------------------------------ findings

function findingContent(f: Finding): AlertContent {
  return {
    id: f.id,
    type: f.type,
    severity: f.severity,
    keyId: f.keyId,
    version: f.version,
    scope: f.scope,
    labels: f.labels,
    title: f.title,
    summary: f.summary,
    evidence: f.evidence,
  }
}

/** One alert per finding; a failures_after_deactivation finding also raises the rollback signal. */
export function findingObservations(findings: readonly Finding[]): Observation[] {
  const out: Observation[] = []
  for (const f of findings) {
    const alert = findingContent(f)
    out.push({ channel: 'alert', alert, startedAt: f.firstSeen })
    if (f.type === 'failures_after_deactivation')
      out.push({ channel: 'rollback', alert, startedAt: f.firstSeen })
  }
  return out
}

// ----------------------------------------------------------------- readiness

/** Versions whose deactivation readiness is watched: deprecated, or with a newer active version, and not deactivated. */
export function readinessCandidates(versions: readonly KeyVersion[]): KeyVersion[] {
  // Per key: newerVersions over the whole registry for every version cost
  // versions² (10⁸ comparisons, ~0.4 s a round, at 10 000 keys).
  const byKey = new Map<string, KeyVersion[]>()
  for (const v of versions) {
    const vs = byKey.get(v.keyId)
    if (vs) vs.push(v)
    else byKey.set(v.keyId, [v])
  }
  return versions.filter(
    (v) =>
      v.state !== 'deactivated' &&
      (v.state === 'deprecated' ||
        newerVersions(byKey.get(v.keyId) ?? [], v).some((n) => n.state === 'active')),
  )
}

export function readinessAlertId(
  type: 'deactivation_ready' | 'deactivation_not_ready',
  v: Pick<KeyVersion, 'keyId' | 'version'>,
) {
  return alertId({ type, keyId: v.keyId, version: v.version, scope: SCOPE_ALL })
}

function readinessContent(type: 'deactivation_ready' | 'deactivation_not_ready', r: Readiness): AlertContent {
  const ready = type === 'deactivation_ready'
  const kv = `${r.keyId} ${r.version}`
  const failing = r.rules.filter((x) => x.outcome !== 'pass')
  const traffic = r.rules.find((x) => x.id === 'old_traffic_below_threshold')
  return {
    id: readinessAlertId(type, r),
    type,
    severity: ready ? 'info' : 'warning',
    keyId: r.keyId,
    version: r.version,
    scope: SCOPE_ALL,
    labels: {},
    title: ready ? `${kv} is ready to deactivate` : `${kv} is no longer ready to deactivate`,
    summary: ready
      ? `Every readiness rule passes for ${kv}${traffic ? ` (${traffic.detail})` : ''}; keyshift gate will pass.`
      : `${kv} was ready to deactivate and no longer is: ${failing.map((x) => `${x.id}: ${x.detail}`).join('; ')}.`,
    evidence: {
      verdict: r.verdict,
      ...Object.fromEntries(r.rules.map((x) => [x.id, `${x.outcome}: ${x.detail}`])),
    },
  }
}

/** A readiness verdict of one candidate, or the failure to compute it. */
export interface ReadinessOutcome {
  version: Pick<KeyVersion, 'keyId' | 'version'>
  readiness: Readiness | null
}

/**
 * Readiness signals. `deactivation_ready` is observed while the verdict is ready;
 * `deactivation_not_ready` only after a regression: while the verdict is
 * not_ready and the version's ready signal was notified (or it already
 * regressed): a ready verdict that flipped back before anyone was told is
 * dropped quietly, not announced as a regression. An `unknown`
 * verdict, or a failure to compute one, changes nothing: the last signal is held
 * (stale data must not flip automation back and forth; the gate fails closed anyway).
 */
export function readinessObservations(
  outcomes: readonly ReadinessOutcome[],
  current: (key: string) => AlertState | undefined,
  /** Whether the current episode of an alert state was in a notification (AlertPipeline.wasNotified). */
  notified: (key: string) => boolean,
): Observation[] {
  const out: Observation[] = []
  const active = (type: 'deactivation_ready' | 'deactivation_not_ready', v: ReadinessOutcome['version']) => {
    const s = current(alertKey('readiness', readinessAlertId(type, v)))
    return s !== undefined && s.phase !== 'resolved' ? s : undefined
  }
  for (const { version: v, readiness: r } of outcomes) {
    const ready = active('deactivation_ready', v)
    const notReady = active('deactivation_not_ready', v)
    if (r === null || r.verdict === 'unknown') {
      for (const s of [ready, notReady]) if (s) out.push({ channel: 'readiness', alert: s.alert })
    } else if (r.verdict === 'ready') {
      out.push({ channel: 'readiness', alert: readinessContent('deactivation_ready', r) })
    } else if ((ready && notified(ready.key)) || notReady) {
      out.push({ channel: 'readiness', alert: readinessContent('deactivation_not_ready', r) })
    }
  }
  return out
}

// ----------------------------------------------------------- self-monitoring

type SelfMonitoring = AlertingConfig['self_monitoring']

function selfContent(
  type: AlertType,
  rest: Omit<AlertContent, 'id' | 'type' | 'keyId' | 'version' | 'scope'> & { scope?: string },
): AlertContent {
  const scope = rest.scope ?? SCOPE_ALL
  return {
    id: alertId({ type, keyId: '', version: '', scope }),
    type,
    keyId: '',
    version: '',
    ...rest,
    scope,
  }
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`

/** `ingest_lag` when stored data is further behind than the threshold. */
export function ingestLagObservation(lagMs: number | null, s: SelfMonitoring): Observation | null {
  if (lagMs === null || lagMs <= s.ingest_lag_ms) return null
  return {
    channel: 'alert',
    alert: selfContent('ingest_lag', {
      severity: 'warning',
      labels: {},
      title: `keyshift ingestion is ${seconds(lagMs)} behind`,
      summary:
        `Stored auth events are ${seconds(lagMs)} behind (threshold ${seconds(s.ingest_lag_ms)}); ` +
        'findings are late and readiness verdicts are unknown until ingestion catches up.',
      evidence: { lagMs, thresholdMs: s.ingest_lag_ms },
    }),
  }
}

/** Window of the dead-letter rate. */
export const DEAD_LETTER_WINDOW_MS = 10 * 60_000

/** `dead_letter_rate` when more than the threshold share of records was dead-lettered over the last 10 minutes. */
export function deadLetterObservation(
  counts: { deadLetters: number; events: number },
  s: SelfMonitoring,
): Observation | null {
  const total = counts.deadLetters + counts.events
  if (counts.deadLetters < s.dead_letter_min_count || total === 0) return null
  const ratio = counts.deadLetters / total
  if (ratio <= s.dead_letter_ratio) return null
  return {
    channel: 'alert',
    alert: selfContent('dead_letter_rate', {
      severity: 'warning',
      labels: {},
      title: `${(ratio * 100).toFixed(1)}% of auth event records are dead-lettered`,
      summary:
        `${counts.deadLetters} of ${total} records in the last 10 min could not be decoded ` +
        `(threshold ${(s.dead_letter_ratio * 100).toFixed(1)}%); their events are missing from every count.`,
      evidence: {
        deadLetters: counts.deadLetters,
        events: counts.events,
        ratio,
        threshold: s.dead_letter_ratio,
        windowMs: DEAD_LETTER_WINDOW_MS,
      },
    }),
  }
}

/** One `delivery_failing` alert per receiver whose notifications keep failing. */
export function deliveryFailingObservations(
  failing: readonly FailingReceiver[],
  s: SelfMonitoring,
): Observation[] {
  return failing.map((f) => ({
    channel: 'alert' as const,
    alert: selfContent('delivery_failing', {
      severity: 'critical',
      scope: `receiver=${f.receiver}`,
      labels: { receiver: f.receiver },
      title: `Notifications to receiver ${f.receiver} keep failing`,
      summary:
        `${f.notifications} notification(s) to ${f.receiver} failed for ${seconds(s.delivery_failing_after_ms)} ` +
        `or more, or were given up on; last error: ${f.lastError}`,
      evidence: {
        receiver: f.receiver,
        notifications: f.notifications,
        failingSince: f.since,
        lastError: f.lastError,
      },
    }),
  }))
}

/** Re-observes the open alerts of `types`, when their source could not be read this time (no false resolution). */
export function holdObservations(
  states: readonly AlertState[],
  types: ReadonlySet<AlertType>,
): Observation[] {
  return states
    .filter((s) => s.channel === 'alert' && s.phase !== 'resolved' && types.has(s.alert.type))
    .map((s) => ({ channel: 'alert' as const, alert: s.alert, startedAt: s.startsAt }))
}
