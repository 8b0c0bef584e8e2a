// When each version of a key was first and last seen, and by how many clients,
// addresses and gateways, from client usage rows aggregated over a window. Shows
// at a glance whether an old version is still in use and since when a new one is.
import type { ClientUsage } from './types.ts'
import { compareVersionLabels } from './versions.ts'

export interface VersionSeen {
  version: string
  /** Exact time of the first / last request on the version within the rows' window, epoch ms. */
  firstSeen: number
  lastSeen: number
  requests: number
  failures: number
  /** Distinct non-empty client ids, source addresses, and the gateways (sorted). */
  clients: number
  sourceAddresses: number
  gateways: string[]
}

/** First/last seen per version, versions in natural label order. Rows without requests are ignored. */
export function seenByVersion(rows: readonly ClientUsage[]): VersionSeen[] {
  const acc = new Map<
    string,
    {
      v: Omit<VersionSeen, 'clients' | 'sourceAddresses' | 'gateways'>
      c: Set<string>
      a: Set<string>
      g: Set<string>
    }
  >()
  for (const r of rows) {
    if (r.requests <= 0) continue
    let e = acc.get(r.version)
    if (!e) {
      e = {
        v: { version: r.version, firstSeen: r.firstSeen, lastSeen: r.lastSeen, requests: 0, failures: 0 },
        c: new Set(),
        a: new Set(),
        g: new Set(),
      }
      acc.set(r.version, e)
    }
    e.v.firstSeen = Math.min(e.v.firstSeen, r.firstSeen)
    e.v.lastSeen = Math.max(e.v.lastSeen, r.lastSeen)
    e.v.requests += r.requests
    e.v.failures += r.failures
    if (r.clientId !== '') e.c.add(r.clientId)
    if (r.sourceAddress !== '') e.a.add(r.sourceAddress)
    if (r.gateway !== '') e.g.add(r.gateway)
  }
  return [...acc.values()]
    .map((e) => ({ ...e.v, clients: e.c.size, sourceAddresses: e.a.size, gateways: [...e.g].sort() }))
    .sort((x, y) => compareVersionLabels(x.version, y.version))
}
