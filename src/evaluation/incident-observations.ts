// What an evaluation observes about open incidents, as input to the alert
// path: the incident itself (one page when it opens), one critical alert per
// unknown source using the leaked version (scope `source=<address>`, grouped
// per source by `alerting.group_by_by_type`), and one per gateway that still
// accepts the version after its deactivation. Pure.
import type { AlertContent, Observation } from '../alerting/pipeline/types.ts'
import type { IncidentSettings, IncidentView } from '../analysis/incident.ts'
import { alertId } from '../domain/alert.ts'

const MAX_LABEL_ROUTES = 5
/**
 * Unknown sources paged per incident, most recent first: a botnet must not
 * become a thousand pages. The incident_open alert counts them all.
 */
export const MAX_SOURCE_ALERTS = 50
/** Names listed in an evidence list (counts are always complete). */
const MAX_EVIDENCE_NAMES = 50
const short = (xs: readonly string[], n = MAX_LABEL_ROUTES) =>
  xs.length > n ? `${xs.slice(0, n).join(',')},+${xs.length - n}` : xs.join(',')

function content(
  type: AlertContent['type'],
  v: IncidentView,
  scope: string,
  rest: Pick<AlertContent, 'labels' | 'title' | 'summary' | 'evidence'>,
): AlertContent {
  const { keyId, version } = v.incident
  return {
    id: alertId({ type, keyId, version, scope }),
    type,
    severity: 'critical',
    keyId,
    version,
    scope,
    ...rest,
    labels: { incident: v.incident.id, ...rest.labels },
  }
}

/** Observations of the open incidents' views at `now`. */
export function incidentObservations(views: readonly IncidentView[], s: IncidentSettings): Observation[] {
  const out: Observation[] = []
  for (const v of views) {
    if (v.incident.state !== 'open') continue
    const { keyId, version, id, reason } = v.incident
    const kv = `${keyId} ${version}`
    const left = v.knownUsers.filter((u) => u.state !== 'moved')
    out.push({
      channel: 'alert',
      startedAt: v.incident.openedAt,
      alert: content('incident_open', v, `incident=${id}`, {
        labels: {},
        title: `Incident ${id}: ${kv} ${reason}`,
        summary:
          `${kv} is handled as ${reason}: ${left.length} of ${v.knownUsers.length} known user(s) still to move, ` +
          `${v.unknownSources.length} unknown source(s) seen since opening.`,
        evidence: {
          incident: id,
          reason,
          openedBy: v.incident.openedBy,
          clients: [...new Set(left.map((u) => u.clientId))].sort().slice(0, MAX_EVIDENCE_NAMES),
          knownUsers: v.knownUsers.length,
          knownUsersMoved: v.knownUsersMoved,
          unknownSourceCount: v.unknownSources.length,
          unknownSources: v.unknownSources.slice(0, MAX_EVIDENCE_NAMES).map((u) => u.sourceAddress),
          checklist: Object.fromEntries(v.checklist.map((c) => [c.id, c.state])),
        },
      }),
    })
    // unknownSources is sorted most recent first.
    const paged = v.unknownSources
      .filter((u) => u.lastSeen >= v.now - s.quiet_window_ms)
      .slice(0, MAX_SOURCE_ALERTS)
    for (const u of paged) {
      out.push({
        channel: 'alert',
        startedAt: u.firstSeen,
        alert: content('incident_unknown_source', v, `source=${u.sourceAddress}`, {
          labels: {
            source: u.sourceAddress,
            gateway: u.gateways.join(','),
            client: u.clients.join(','),
            route: short(u.routes),
          },
          title: `Leaked ${kv} used from unknown source ${u.sourceAddress || '(no address)'}`,
          summary:
            `${u.sourceAddress || 'A caller without a source address'} (${u.userAgents.join(', ') || 'no user agent'}) ` +
            `is not among ${kv}'s known users and made ${u.requests} request(s) with it since the incident opened, ` +
            `${u.accepted} accepted, through ${u.gateways.join(', ')}.`,
          evidence: {
            source: u.sourceAddress,
            userAgents: u.userAgents,
            gateways: u.gateways,
            clients: u.clients,
            routes: u.routes,
            scopes: u.accepted > 0 ? v.scopes : [],
            reasons: u.reasons,
            requests: u.requests,
            accepted: u.accepted,
            rejected: u.rejected,
            firstSeen: u.firstSeen,
            lastSeen: u.lastSeen,
          },
        }),
      })
    }
    for (const g of v.afterDeactivation.acceptedByGateway) {
      out.push({
        channel: 'alert',
        ...(v.deactivatedAt === null ? {} : { startedAt: v.deactivatedAt }),
        alert: content('incident_accepted_after_deactivation', v, `gateway=${g.gateway}`, {
          labels: { gateway: g.gateway },
          title: `Leaked ${kv} still accepted on ${g.gateway} after deactivation`,
          summary: `${g.gateway} accepted ${g.requests} request(s) with ${kv} after it was deactivated: the key still works there.`,
          evidence: { gateway: g.gateway, requests: g.requests, sources: g.sources },
        }),
      })
    }
  }
  return out
}

/**
 * Drops the rollback advice for versions under an open incident, both the
 * rollback signal and the failures_after_deactivation alert whose text says to
 * reactivate: reactivating a leaked version is never the advice; its failures
 * after deactivation are the listed breakage (the incident view shows who
 * breaks), not a reason to undo it.
 */
export function withoutIncidentRollbacks(
  observations: readonly Observation[],
  views: readonly IncidentView[],
): Observation[] {
  const leaked = new Set(
    views
      .filter((v) => v.incident.state === 'open')
      .map((v) => `${v.incident.keyId}\u0000${v.incident.version}`),
  )
  if (leaked.size === 0) return [...observations]
  return observations.filter(
    (o) =>
      !(o.channel === 'rollback' || o.alert.type === 'failures_after_deactivation') ||
      !leaked.has(`${o.alert.keyId}\u0000${o.alert.version}`),
  )
}
