// Who is still on the old version: clients that used it within the lookback window
// (stragglers, with where they come from and whether they already use a newer
// version too), and clients that used it before but have moved to a newer version
// (with when they moved). This is what teams chase before deactivating a version.

import { groupBy } from '../shared/group-by.ts'
import type { ClientUsage, TimeWindow } from './types.ts'
import { compareVersionLabels } from './versions.ts'

export interface StragglerInput {
  oldVersion: string
  /** Labels of the versions that count as newer than `oldVersion` (see `newerVersions`). */
  newerVersions: readonly string[]
  /** The key's usage aggregated over the lookback window. */
  recent: readonly ClientUsage[]
  /**
   * The key's usage aggregated over a longer window ending with the lookback window
   * (it may include it): tells who used the old version before, and since when a
   * client uses a newer one.
   */
  history: readonly ClientUsage[]
  /** The lookback window; recent rows are kept only when they overlap it. */
  window: TimeWindow
}

/** Where a client's requests came from (each list sorted, de-duplicated). */
export interface ClientFootprint {
  sourceAddresses: string[]
  userAgents: string[]
  gateways: string[]
  routes: string[]
}

export interface Straggler extends ClientFootprint {
  clientId: string
  /** Requests and failures on the old version within the window. */
  requests: number
  failures: number
  firstSeen: number
  lastSeen: number
  /** True when the client also used a newer version within the window. */
  partiallyMigrated: boolean
  /** Newer versions the client used within the window, and its requests on them. */
  newerVersionsUsed: string[]
  newerRequests: number
}

export interface MovedClient extends ClientFootprint {
  clientId: string
  /** First request on a newer version (over history and window), epoch ms. */
  movedAt: number
  /** Last request on the old version, epoch ms. */
  lastSeenOld: number
  /** Newer versions used within the window and requests on them; footprint is of these requests. */
  newerVersionsUsed: string[]
  requests: number
}

export interface StragglerReport {
  stragglers: Straggler[]
  moved: MovedClient[]
}

function footprint(rows: readonly ClientUsage[]): ClientFootprint {
  const set = (f: (r: ClientUsage) => string[]) =>
    [...new Set(rows.flatMap(f))].filter((s) => s !== '').sort()
  return {
    sourceAddresses: set((r) => [r.sourceAddress]),
    userAgents: set((r) => [r.userAgent]),
    gateways: set((r) => [r.gateway]),
    routes: set((r) => r.routes),
  }
}

const sum = (rows: readonly ClientUsage[], f: (r: ClientUsage) => number) =>
  rows.reduce((s, r) => s + f(r), 0)
const byRequestsThenClient = (
  a: { requests: number; clientId: string },
  b: { requests: number; clientId: string },
) => b.requests - a.requests || (a.clientId < b.clientId ? -1 : a.clientId > b.clientId ? 1 : 0)

/**
 * Stragglers and moved clients of `oldVersion`, grouped by client id (an empty id is
 * one group: clients that sent none). A client that used the old version in the
 * window and then only newer ones has moved, not straggled. Both lists are sorted by requests, descending,
 * then client id.
 */
export function findStragglers(input: StragglerInput): StragglerReport {
  const newer = new Set(input.newerVersions)
  const inWindow = input.recent.filter(
    (r) => r.requests > 0 && r.lastSeen >= input.window.from && r.firstSeen < input.window.to,
  )
  const recentByClient = groupBy(inWindow, (r) => r.clientId)
  const historyByClient = groupBy(
    input.history.filter((r) => r.requests > 0),
    (r) => r.clientId,
  )

  const stragglers: Straggler[] = []
  const moved: MovedClient[] = []
  for (const [clientId, rows] of recentByClient) {
    const old = rows.filter((r) => r.version === input.oldVersion)
    const onNewer = rows.filter((r) => newer.has(r.version))
    const newerVersionsUsed = [...new Set(onNewer.map((r) => r.version))].sort(compareVersionLabels)
    // Every old-version request in the window came before the first newer one: the
    // client switched inside the window. It has moved; listing it would bury the
    // clients that still send the old version.
    const switchedInWindow =
      old.length > 0 &&
      onNewer.length > 0 &&
      Math.max(...old.map((r) => r.lastSeen)) < Math.min(...onNewer.map((r) => r.firstSeen))
    if (old.length > 0 && !switchedInWindow) {
      stragglers.push({
        clientId,
        requests: sum(old, (r) => r.requests),
        failures: sum(old, (r) => r.failures),
        firstSeen: Math.min(...old.map((r) => r.firstSeen)),
        lastSeen: Math.max(...old.map((r) => r.lastSeen)),
        partiallyMigrated: onNewer.length > 0,
        newerVersionsUsed,
        newerRequests: sum(onNewer, (r) => r.requests),
        ...footprint(old),
      })
      continue
    }
    const history = historyByClient.get(clientId) ?? []
    const oldBefore = [...old, ...history.filter((r) => r.version === input.oldVersion)]
    if (onNewer.length === 0 || oldBefore.length === 0) continue
    const newerEver = [...onNewer, ...history.filter((r) => newer.has(r.version))]
    moved.push({
      clientId,
      movedAt: Math.min(...newerEver.map((r) => r.firstSeen)),
      lastSeenOld: Math.max(...oldBefore.map((r) => r.lastSeen)),
      newerVersionsUsed,
      requests: sum(onNewer, (r) => r.requests),
      ...footprint(onNewer),
    })
  }
  return { stragglers: stragglers.sort(byRequestsThenClient), moved: moved.sort(byRequestsThenClient) }
}
