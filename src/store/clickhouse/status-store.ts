// Ingest heartbeats (how caught up each instance is) and the readiness audit
// log. Freshness is judged from here so every reader — the daemon, the HTTP
// API, `keyshift gate` straight against the store — sees the same answer.
import type { ClickHouseClient } from '@clickhouse/client'
import { classifyStoreError } from './errors.ts'
import { qualified } from './identifiers.ts'

export interface Heartbeat {
  time: number
  instance: string
  newestEventTime: number
  consumerLagMessages: number
  bufferedEvents: number
  sourcesReady: boolean
}

export interface Freshness {
  /** Milliseconds the stored data is behind reality, or null when no instance ever reported. */
  lagMs: number | null
  /** Newest heartbeat per instance within the last hour. */
  instances: Heartbeat[]
}

export interface AuditEntry {
  time: number
  keyId: string
  version: string
  verdict: string
  askedBy: string
  via: string
  evidence: unknown
}

export class StatusStore {
  readonly #c: ClickHouseClient
  readonly #db: string
  constructor(client: ClickHouseClient, db: string) {
    this.#c = client
    this.#db = db
  }

  async heartbeat(h: Heartbeat): Promise<void> {
    try {
      await this.#c.insert({
        table: qualified(this.#db, 'ingest_heartbeats'),
        values: [
          {
            time: h.time,
            instance: h.instance,
            newest_event_time: h.newestEventTime,
            consumer_lag_messages: h.consumerLagMessages,
            buffered_events: h.bufferedEvents,
            sources_ready: h.sourcesReady ? 1 : 0,
          },
        ],
        format: 'JSONEachRow',
      })
    } catch (err) {
      throw classifyStoreError(err, 'writing an ingest heartbeat')
    }
  }

  /**
   * Lag of the stored data at `now`: for each instance heard from in the last
   * hour, an instance that is caught up (no consumer lag, nothing buffered) is
   * behind by the age of its heartbeat; one that is behind is behind by the
   * age of the newest event it stored. The worst instance counts.
   */
  async freshness(now: number): Promise<Freshness> {
    try {
      const rs = await this.#c.query({
        query: `SELECT instance,
            toUnixTimestamp64Milli(max(time)) AS last_time,
            toUnixTimestamp64Milli(argMax(newest_event_time, time)) AS newest,
            argMax(consumer_lag_messages, time) AS lag,
            argMax(buffered_events, time) AS buffered,
            argMax(sources_ready, time) AS ready
          FROM ${qualified(this.#db, 'ingest_heartbeats')}
          WHERE time >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
          GROUP BY instance
          ORDER BY instance`,
        query_params: { since: now - 3_600_000 },
        format: 'JSONEachRow',
      })
      const rows = await rs.json<{
        instance: string
        last_time: number
        newest: number
        lag: number
        buffered: number
        ready: number
      }>()
      const instances = rows.map((r) => ({
        instance: r.instance,
        time: Number(r.last_time),
        newestEventTime: Number(r.newest),
        consumerLagMessages: Number(r.lag),
        bufferedEvents: Number(r.buffered),
        sourcesReady: Number(r.ready) === 1,
      }))
      if (instances.length === 0) return { lagMs: null, instances }
      let worst = 0
      for (const h of instances) {
        const caughtUp = h.consumerLagMessages === 0 && h.bufferedEvents === 0 && h.sourcesReady
        const lag = caughtUp ? now - h.time : now - Math.min(h.newestEventTime || h.time, h.time)
        worst = Math.max(worst, lag)
      }
      return { lagMs: Math.max(0, worst), instances }
    } catch (err) {
      throw classifyStoreError(err, 'reading ingest freshness')
    }
  }

  async audit(e: AuditEntry): Promise<void> {
    try {
      await this.#c.insert({
        table: qualified(this.#db, 'readiness_audit'),
        values: [
          {
            time: e.time,
            key_id: e.keyId,
            version: e.version,
            verdict: e.verdict,
            asked_by: e.askedBy,
            via: e.via,
            evidence: JSON.stringify(e.evidence),
          },
        ],
        format: 'JSONEachRow',
      })
    } catch (err) {
      throw classifyStoreError(err, 'recording a readiness verdict')
    }
  }

  async auditLog(keyId: string, version: string, limit = 100): Promise<AuditEntry[]> {
    try {
      const rs = await this.#c.query({
        query: `SELECT toUnixTimestamp64Milli(time) AS time, key_id, version, verdict, asked_by, via, evidence
          FROM ${qualified(this.#db, 'readiness_audit')}
          WHERE key_id = {key:String} AND version = {version:String}
          ORDER BY time DESC LIMIT {limit:UInt32}`,
        query_params: { key: keyId, version, limit },
        format: 'JSONEachRow',
      })
      const rows = await rs.json<{
        time: number
        key_id: string
        version: string
        verdict: string
        asked_by: string
        via: string
        evidence: string
      }>()
      return rows.map((r) => ({
        time: Number(r.time),
        keyId: r.key_id,
        version: r.version,
        verdict: r.verdict,
        askedBy: r.asked_by,
        via: r.via,
        evidence: JSON.parse(r.evidence),
      }))
    } catch (err) {
      throw classifyStoreError(err, 'reading the readiness audit log')
    }
  }
}
