// Stage 3 — route: each alert goes to the receivers of the first route whose
// matcher it satisfies (and of later ones while a matching route says
// `continue`); alerts no route matched go to `default_receivers`. Pure.

import type { ResolvedRoute, RoutableKind, RouteMatch } from '../config.ts'
import { matchesAny, matchesLabels } from '../glob.ts'
import type { LiveAlert, Routed } from './types.ts'

/** The notification kinds an alert can produce, which `match.kind` selects on. */
export function kindsOf(live: Pick<LiveAlert, 'channel' | 'alert'>): RoutableKind[] {
  switch (live.channel) {
    case 'alert':
      return ['alert.firing', 'alert.resolved']
    case 'rollback':
      return ['rollback.advised']
    case 'readiness':
      return live.alert.type === 'deactivation_not_ready'
        ? ['deactivation.not_ready']
        : ['deactivation.ready']
  }
}

export function routeMatches(match: RouteMatch, live: LiveAlert): boolean {
  const a = live.alert
  return (
    (match.type === undefined || match.type.includes(a.type)) &&
    (match.severity === undefined || match.severity.includes(a.severity)) &&
    matchesAny(a.keyId, match.key) &&
    (match.kind === undefined || kindsOf(live).some((k) => match.kind!.includes(k))) &&
    matchesLabels(a.labels, match.labels)
  )
}

/**
 * Routes alerts. `routes` is `resolveRoutes(config)`: the configured routes in
 * order, then the default route (index -1), used only when no other matched.
 */
export function routeAlerts(alerts: readonly LiveAlert[], routes: readonly ResolvedRoute[]): Routed[] {
  const out: Routed[] = []
  const fallback = routes.find((r) => r.index === -1)
  for (const live of alerts) {
    let matched = false
    for (const route of routes) {
      if (route.index === -1 || !routeMatches(route.match, live)) continue
      matched = true
      for (const receiver of route.receivers) out.push({ live, receiver, route })
      if (!route.continue) break
    }
    if (!matched && fallback)
      for (const receiver of fallback.receivers) out.push({ live, receiver, route: fallback })
  }
  return out
}
