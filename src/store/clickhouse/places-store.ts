// Reads for freshness per place (analysis/freshness.ts), from the rollups of
// migration 7: when each gateway and source was last heard from (the newest
// event time stored from it), and which places carried one key's traffic.
// Both read minutes × places rows, never raw events, so they stay cheap enough
// for every readiness verdict.
import type { ClickHouseClient } from '@clickhouse/client'
import { type PlaceHeard, sourcePlaceName } from '../../analysis/freshness.ts'
import type { TimeWindow } from '../../analysis/types.ts'
import { classifyStoreError } from './errors.ts'
import { qualified } from './identifiers.ts'

const sec = (ms: number) => Math.floor(ms / 1000)
const secCeil = (ms: number) => Math.ceil(ms / 1000)

interface PlaceRow {
  gateway: string
  src: string
  src_partition: number | string
  last_ms: number | string
}

/** The places of a key's traffic, by kind: gateway names and source place names. */
export interface KeyPlaces {
  gateways: string[]
  sources: string[]
}

export class PlacesStore {
  readonly #c: ClickHouseClient
  readonly #db: string
  constructor(client: ClickHouseClient, db: string) {
    this.#c = client
    this.#db = db
  }

  async #rows(what: string, query: string, params: Record<string, unknown>): Promise<PlaceRow[]> {
    try {
      const rs = await this.#c.query({ query, query_params: params, format: 'JSONEachRow' })
      return await rs.json<PlaceRow>()
    } catch (err) {
      throw classifyStoreError(err, what)
    }
  }

  /** Every place heard from in the window, with the time of its newest event there. */
  async heard(w: TimeWindow): Promise<PlaceHeard[]> {
    const rows = await this.#rows(
      'reading when each place was last heard from',
      `SELECT gateway, src, src_partition, toUnixTimestamp64Milli(max(last_time)) AS last_ms
        FROM ${qualified(this.#db, 'auth_places_minute')}
        WHERE minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
        GROUP BY gateway, src, src_partition`,
      { from: sec(w.from), to: secCeil(w.to) },
    )
    const gateways = new Map<string, number>()
    const sources = new Map<string, number>()
    const keep = (m: Map<string, number>, name: string, t: number) =>
      m.set(name, Math.max(m.get(name) ?? t, t))
    for (const r of rows) {
      const t = Number(r.last_ms)
      keep(gateways, r.gateway, t)
      keep(sources, sourcePlaceName(r.src, Number(r.src_partition)), t)
    }
    return [
      ...[...gateways].map(([name, lastHeard]) => ({ kind: 'gateway' as const, name, lastHeard })),
      ...[...sources].map(([name, lastHeard]) => ({ kind: 'source' as const, name, lastHeard })),
    ]
  }

  /**
   * In one read: the places that carried `keyId`'s traffic in the window, and
   * when each of them was last heard from in it (from any key's events). A
   * gateway counts as heard through any source, a source through any gateway.
   * Two plain scans in one UNION ALL: filtering one rollup by a subquery on the
   * other took 12 ms per read at 1M stored events, this 8 ms.
   */
  async keyPlacesHeard(keyId: string, w: TimeWindow): Promise<{ ofKey: KeyPlaces; heard: PlaceHeard[] }> {
    const range = `minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')`
    const rows = await this.#c
      .query({
        query: `SELECT 0 AS of_key, gateway, src, src_partition, toUnixTimestamp64Milli(max(last_time)) AS last_ms
            FROM ${qualified(this.#db, 'auth_places_minute')}
            WHERE ${range}
            GROUP BY gateway, src, src_partition
          UNION ALL
          SELECT 1 AS of_key, gateway, src, src_partition, toUnixTimestamp64Milli(max(last_time)) AS last_ms
            FROM ${qualified(this.#db, 'auth_key_places_minute')}
            WHERE key_id = {key:String} AND ${range}
            GROUP BY gateway, src, src_partition`,
        query_params: { key: keyId, from: sec(w.from), to: secCeil(w.to) },
        format: 'JSONEachRow',
      })
      .then((rs) => rs.json<PlaceRow & { of_key: number | string }>())
      .catch((err: unknown) => {
        throw classifyStoreError(err, "reading the places of a key's traffic")
      })
    const ofKey = rows.filter((r) => Number(r.of_key) === 1)
    const gateways = new Set(ofKey.map((r) => r.gateway))
    const sources = new Set(ofKey.map((r) => sourcePlaceName(r.src, Number(r.src_partition))))
    const gatewayLast = new Map<string, number>()
    const sourceLast = new Map<string, number>()
    const keep = (m: Map<string, number>, name: string, t: number) =>
      m.set(name, Math.max(m.get(name) ?? t, t))
    for (const r of rows) {
      if (Number(r.of_key) === 1) continue
      const t = Number(r.last_ms)
      if (gateways.has(r.gateway)) keep(gatewayLast, r.gateway, t)
      const source = sourcePlaceName(r.src, Number(r.src_partition))
      if (sources.has(source)) keep(sourceLast, source, t)
    }
    const g = [...gateways].sort()
    const s = [...sources].sort()
    return {
      ofKey: { gateways: g, sources: s },
      heard: [
        ...g.flatMap((name) => {
          const lastHeard = gatewayLast.get(name)
          return lastHeard === undefined ? [] : [{ kind: 'gateway' as const, name, lastHeard }]
        }),
        ...s.flatMap((name) => {
          const lastHeard = sourceLast.get(name)
          return lastHeard === undefined ? [] : [{ kind: 'source' as const, name, lastHeard }]
        }),
      ],
    }
  }
}
