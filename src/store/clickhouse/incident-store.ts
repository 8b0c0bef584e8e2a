// Incidents in ClickHouse: the incident event log, the known-user snapshots,
// and the two reads an incident needs — who used the version before it
// opened (rollup `auth_minute_clients`) and every use of the key since
// (raw `auth_events`, whose order key (key_id, key_version, time) makes this a
// range read). Every value is bound as a query parameter.
import type { ClickHouseClient } from '@clickhouse/client'
import type { IncidentUsage } from '../../analysis/incident.ts'
import type { TimeWindow } from '../../analysis/types.ts'
import type { IncidentAction, IncidentEvent, IncidentReason, KnownUser } from '../../domain/incident.ts'
import type { IncidentStorePort } from '../../incident/incident-service.ts'
import { classifyStoreError } from './errors.ts'
import { qualified } from './identifiers.ts'

/** Stands for "not deactivated" in the usage read (2255-01-01, inside DateTime64(3)'s range). */
const NEVER_MS = 9_000_000_000_000

export class IncidentStore implements IncidentStorePort {
  readonly #c: ClickHouseClient
  readonly #db: string
  constructor(client: ClickHouseClient, db: string) {
    this.#c = client
    this.#db = db
  }

  async #rows<T>(what: string, query: string, params: Record<string, unknown>): Promise<T[]> {
    try {
      const rs = await this.#c.query({ query, query_params: params, format: 'JSONEachRow' })
      return await rs.json<T>()
    } catch (err) {
      throw classifyStoreError(err, what)
    }
  }

  async recordEvents(events: readonly IncidentEvent[]): Promise<void> {
    if (events.length === 0) return
    try {
      await this.#c.insert({
        table: qualified(this.#db, 'incident_events'),
        values: events.map((e) => ({
          event_id: e.eventId,
          incident_id: e.incidentId,
          time: e.time,
          action: e.action,
          key_id: e.keyId,
          version: e.version,
          reason: e.reason ?? '',
          actor: e.actor,
          note: e.note,
          detail: JSON.stringify(e.detail),
          origin: e.origin,
        })),
        format: 'JSONEachRow',
      })
    } catch (err) {
      throw classifyStoreError(err, 'recording incident events')
    }
  }

  /** Every incident event (of one incident, when given), oldest first, one row per event id. */
  async events(incidentId?: string): Promise<IncidentEvent[]> {
    const rows = await this.#rows<{
      event_id: string
      incident_id: string
      time_ms: number
      action: IncidentAction
      key_id: string
      version: string
      reason: string
      actor: string
      note: string
      detail: string
      origin: string
    }>(
      'reading incident events',
      `SELECT event_id, incident_id, toUnixTimestamp64Milli(time) AS time_ms, action, key_id, version,
          reason, actor, note, detail, origin
        FROM ${qualified(this.#db, 'incident_events')}
        ${incidentId === undefined ? '' : 'WHERE incident_id = {id:String}'}
        ORDER BY time_ms, event_id
        LIMIT 1 BY incident_id, event_id`,
      incidentId === undefined ? {} : { id: incidentId },
    )
    return rows.map((r) => {
      const e: IncidentEvent = {
        eventId: r.event_id,
        incidentId: r.incident_id,
        action: r.action,
        time: Number(r.time_ms),
        keyId: r.key_id,
        version: r.version,
        actor: r.actor,
        note: r.note,
        detail: parseDetail(r.detail),
        origin: r.origin,
      }
      if (r.reason) e.reason = r.reason as IncidentReason
      return e
    })
  }

  /**
   * Who used (key, version) successfully before `w.to`: per (client, source
   * address, user agent, gateway) from the per-minute client rollup. A rollup
   * row counts when its first request is before `w.to`, so a user seen only in
   * the opening minute, before the opening, is known.
   */
  async knownUsersBefore(keyId: string, version: string, w: TimeWindow): Promise<KnownUser[]> {
    const rows = await this.#rows<{
      client_id: string
      source_address: string
      user_agent: string
      gateway: string
      total: number
      failed: number
      first_ms: number
      last_ms: number
    }>(
      'reading known users before an incident',
      `SELECT client_id, source_address, user_agent, gateway,
          sum(requests) AS total, sum(failures) AS failed,
          toUnixTimestamp64Milli(min(first_seen)) AS first_ms,
          least(toUnixTimestamp64Milli(max(last_seen)), {to:Int64}) AS last_ms
        FROM ${qualified(this.#db, 'auth_minute_clients')}
        WHERE key_id = {key:String} AND key_version = {version:String}
          AND minute >= toDateTime({fromSec:UInt32}, 'UTC') AND minute < toDateTime({toSec:UInt32}, 'UTC')
          AND first_seen < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
        GROUP BY client_id, source_address, user_agent, gateway
        HAVING total > failed
        ORDER BY client_id, source_address, user_agent, gateway`,
      {
        key: keyId,
        version,
        fromSec: Math.floor(w.from / 1000),
        toSec: Math.ceil(w.to / 1000),
        to: w.to,
      },
    )
    return rows.map((r) => ({
      clientId: r.client_id,
      sourceAddress: r.source_address,
      userAgent: r.user_agent,
      gateway: r.gateway,
      requests: Number(r.total) - Number(r.failed),
      firstSeen: Number(r.first_ms),
      lastSeen: Number(r.last_ms),
    }))
  }

  async saveSnapshot(incidentId: string, snapshotId: string, users: readonly KnownUser[]): Promise<void> {
    if (users.length === 0) return
    try {
      await this.#c.insert({
        table: qualified(this.#db, 'incident_known_users'),
        values: users.map((u) => ({
          incident_id: incidentId,
          snapshot_id: snapshotId,
          client_id: u.clientId,
          source_address: u.sourceAddress,
          user_agent: u.userAgent,
          gateway: u.gateway,
          requests: u.requests,
          first_seen: u.firstSeen,
          last_seen: u.lastSeen,
        })),
        format: 'JSONEachRow',
      })
    } catch (err) {
      throw classifyStoreError(err, 'saving a known-user snapshot')
    }
  }

  async snapshot(incidentId: string, snapshotId: string): Promise<KnownUser[]> {
    const rows = await this.#rows<{
      client_id: string
      source_address: string
      user_agent: string
      gateway: string
      requests: number
      first_ms: number
      last_ms: number
    }>(
      'reading a known-user snapshot',
      `SELECT client_id, source_address, user_agent, gateway, requests,
          toUnixTimestamp64Milli(first_seen) AS first_ms, toUnixTimestamp64Milli(last_seen) AS last_ms
        FROM ${qualified(this.#db, 'incident_known_users')}
        WHERE incident_id = {id:String} AND snapshot_id = {snap:String}
        ORDER BY client_id, source_address, user_agent, gateway
        LIMIT 1 BY client_id, source_address, user_agent, gateway`,
      { id: incidentId, snap: snapshotId },
    )
    return rows.map((r) => ({
      clientId: r.client_id,
      sourceAddress: r.source_address,
      userAgent: r.user_agent,
      gateway: r.gateway,
      requests: Number(r.requests),
      firstSeen: Number(r.first_ms),
      lastSeen: Number(r.last_ms),
    }))
  }

  /**
   * Every use of `keyId` in `w` (all versions), per (version, client, source
   * address, user agent, gateway), from the raw events: exact times, and
   * accepted/rejected split at the deactivation (null: not deactivated).
   */
  async usageSince(
    keyId: string,
    w: TimeWindow,
    opts: { shareFrom: number; deactivatedAt: number | null },
  ): Promise<IncidentUsage[]> {
    const rows = await this.#rows<{
      version: string
      client_id: string
      source_address: string
      user_agent: string
      gateway: string
      total: number
      ok: number
      first_ms: number
      last_ms: number
      recent: number
      acc_after: number
      rej_after: number
      route_sample: string[]
      reason_sample: string[]
    }>(
      'reading uses since an incident opened',
      `SELECT key_version AS version, client_id, source_address, user_agent, gateway,
          count() AS total, countIf(outcome = 'success') AS ok,
          toUnixTimestamp64Milli(min(time)) AS first_ms, toUnixTimestamp64Milli(max(time)) AS last_ms,
          countIf(time >= fromUnixTimestamp64Milli({share:Int64}, 'UTC')) AS recent,
          countIf(outcome = 'success' AND time >= fromUnixTimestamp64Milli({deact:Int64}, 'UTC')) AS acc_after,
          countIf(outcome = 'failure' AND time >= fromUnixTimestamp64Milli({deact:Int64}, 'UTC')) AS rej_after,
          arraySort(groupUniqArray(20)(route)) AS route_sample,
          arraySort(groupUniqArray(10)(reason)) AS reason_sample
        FROM ${qualified(this.#db, 'auth_events')}
        WHERE key_id = {key:String}
          AND time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
          AND time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')
        GROUP BY version, client_id, source_address, user_agent, gateway
        ORDER BY version, client_id, source_address, user_agent, gateway`,
      {
        key: keyId,
        from: w.from,
        to: w.to,
        share: opts.shareFrom,
        deact: opts.deactivatedAt ?? NEVER_MS,
      },
    )
    return rows.map((r) => ({
      version: r.version,
      clientId: r.client_id,
      sourceAddress: r.source_address,
      userAgent: r.user_agent,
      gateway: r.gateway,
      requests: Number(r.total),
      accepted: Number(r.ok),
      firstSeen: Number(r.first_ms),
      lastSeen: Number(r.last_ms),
      recentRequests: Number(r.recent),
      acceptedAfterDeactivation: Number(r.acc_after),
      rejectedAfterDeactivation: Number(r.rej_after),
      routes: r.route_sample,
      reasons: r.reason_sample,
    }))
  }
}

function parseDetail(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s) as unknown
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {}
  } catch {
    return {}
  }
}
