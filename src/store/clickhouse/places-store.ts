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
   */
  async keyPlacesHeard(keyId: string, w: TimeWindow): Promise<{ ofKey: KeyPlaces; heard: PlaceHeard[] }> {
    const part = `if(startsWith(src, 'kafka:'), src_partition, 0)`
    const rows = await this.#c
      .query({
        query: `WITH key_places AS (
            SELECT DISTINCT gateway, src, ${part} AS part
            FROM ${qualified(this.#db, 'auth_key_places_minute')}
            WHERE key_id = {key:String}
              AND minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
          )
          SELECT gateway, src, ${part} AS part, toUnixTimestamp64Milli(max(last_time)) AS last_ms,
            gateway IN (SELECT gateway FROM key_places) AS of_gateway,
            (src, part) IN (SELECT src, part FROM key_places) AS of_source
          FROM ${qualified(this.#db, 'auth_places_minute')}
          WHERE minute >= toDateTime({from:UInt32}, 'UTC') AND minute < toDateTime({to:UInt32}, 'UTC')
            AND (of_gateway OR of_source)
          GROUP BY gateway, src, part`,
        query_params: { key: keyId, from: sec(w.from), to: secCeil(w.to) },
        format: 'JSONEachRow',
      })
      .then((rs) =>
        rs.json<{
          gateway: string
          src: string
          part: number | string
          last_ms: number | string
          of_gateway: number
          of_source: number
        }>(),
      )
      .catch((err: unknown) => {
        throw classifyStoreError(err, "reading the places of a key's traffic")
      })
    const gateways = new Map<string, number>()
    const sources = new Map<string, number>()
    const keep = (m: Map<string, number>, name: string, t: number) =>
      m.set(name, Math.max(m.get(name) ?? t, t))
    for (const r of rows) {
      const t = Number(r.last_ms)
      if (Number(r.of_gateway) === 1) keep(gateways, r.gateway, t)
      if (Number(r.of_source) === 1) keep(sources, sourcePlaceName(r.src, Number(r.part)), t)
    }
    const byName = (a: [string, number], b: [string, number]) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
    const g = [...gateways].sort(byName)
    const s = [...sources].sort(byName)
    return {
      ofKey: { gateways: g.map(([name]) => name), sources: s.map(([name]) => name) },
      heard: [
        ...g.map(([name, lastHeard]) => ({ kind: 'gateway' as const, name, lastHeard })),
        ...s.map(([name, lastHeard]) => ({ kind: 'source' as const, name, lastHeard })),
      ],
    }
  }
}
