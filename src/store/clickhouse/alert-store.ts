// The alert path's durable state: alert lifecycles, notification logs (one per
// receiver and group), silences, the notification outbox and the delivery log.
// Every mutable table is a ReplacingMergeTree keyed by identity with a version
// column; reads take the newest row (FINAL), so a late or repeated write with
// an older version never wins. Every value is bound as a query parameter.
import type { ClickHouseClient } from '@clickhouse/client'
import { safeJson } from '../../alerting/notifiers/alert-text.ts'
import type {
  AlertState,
  Channel,
  GroupState,
  OutboxEntry,
  OutboxState,
  Silence,
  SilenceMatchers,
} from '../../alerting/pipeline/types.ts'
import type { AlertPipelineStore } from '../../alerting/pipeline.ts'
import type { NotificationKind } from '../../domain/alert.ts'
import { NotFoundError } from '../../domain/errors.ts'
import { classifyStoreError } from './errors.ts'
import { qualified } from './identifiers.ts'

export interface DeliveryLogRow {
  time: number
  notificationId: string
  receiver: string
  kind: NotificationKind
  attempt: number
  /** `delivered`, `retry` (failed, will retry), `failed` (permanent), `expired` (gave up: too old). */
  outcome: 'delivered' | 'retry' | 'failed' | 'expired'
  /** Safe to show: notifiers never put secrets in error texts. */
  error: string
  instance: string
}

export interface DeadLetterCounts {
  deadLetters: number
  events: number
}

const ms = (col: string) => `toUnixTimestamp64Milli(${col})`
const toNum = (v: unknown) => (v === null || v === undefined ? null : Number(v))

export class AlertStore implements AlertPipelineStore {
  readonly #c: ClickHouseClient
  readonly #db: string

  constructor(client: ClickHouseClient, db: string) {
    this.#c = client
    this.#db = db
  }

  #t(table: string): string {
    return qualified(this.#db, table)
  }

  async #rows<T>(what: string, query: string, params: Record<string, unknown> = {}): Promise<T[]> {
    try {
      const rs = await this.#c.query({ query, query_params: params, format: 'JSONEachRow' })
      return await rs.json<T>()
    } catch (err) {
      throw classifyStoreError(err, what)
    }
  }

  async #insert(what: string, table: string, values: readonly Record<string, unknown>[]): Promise<void> {
    if (values.length === 0) return
    try {
      await this.#c.insert({ table: this.#t(table), values: [...values], format: 'JSONEachRow' })
    } catch (err) {
      throw classifyStoreError(err, what)
    }
  }

  // ------------------------------------------------------------ alert states

  async loadAlertStates(resolvedSince: number): Promise<AlertState[]> {
    const rows = await this.#rows<{ doc: string; ver: number }>(
      'reading alert states',
      `SELECT doc, ver FROM (SELECT doc, ver, phase, resolved_at FROM ${this.#t('alert_states')} FINAL)
        WHERE phase != 'resolved' OR resolved_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
        ORDER BY doc`,
      { since: resolvedSince },
    )
    return rows.map((r) => ({ ...(JSON.parse(r.doc) as AlertState), ver: Number(r.ver) }))
  }

  async saveAlertStates(states: readonly AlertState[], now: number): Promise<void> {
    await this.#insert(
      'writing alert states',
      'alert_states',
      states.map((s) => ({
        key: s.key,
        channel: s.channel,
        alert_id: s.alert.id,
        type: s.alert.type,
        severity: s.alert.severity,
        key_id: s.alert.keyId,
        phase: s.phase,
        resolved_at: s.resolvedAt,
        doc: safeJson(s),
        ver: s.ver,
        updated_at: now,
      })),
    )
  }

  // ------------------------------------------------------- notification logs

  async loadGroupStates(since: number): Promise<GroupState[]> {
    const rows = await this.#rows<{
      receiver: string
      group_key: string
      channel: Channel
      born_at_ms: number | null
      last_notified_at_ms: number | null
      firing: string[]
      seq: number
      ver: number
    }>(
      'reading notification logs',
      `SELECT receiver, group_key, channel, ${ms('born_at')} AS born_at_ms, ${ms('last_notified_at')} AS last_notified_at_ms,
          firing, seq, ver
        FROM (SELECT * FROM ${this.#t('alert_groups')} FINAL)
        WHERE born_at IS NOT NULL OR updated_at >= fromUnixTimestamp64Milli({since:Int64}, 'UTC')
        ORDER BY receiver, group_key`,
      { since },
    )
    return rows.map((r) => ({
      receiver: r.receiver,
      groupKey: r.group_key,
      channel: r.channel,
      bornAt: toNum(r.born_at_ms),
      lastNotifiedAt: toNum(r.last_notified_at_ms),
      firing: r.firing,
      seq: Number(r.seq),
      ver: Number(r.ver),
    }))
  }

  async saveGroupStates(states: readonly GroupState[], now: number): Promise<void> {
    await this.#insert(
      'writing notification logs',
      'alert_groups',
      states.map((g) => ({
        receiver: g.receiver,
        group_key: g.groupKey,
        channel: g.channel,
        born_at: g.bornAt,
        last_notified_at: g.lastNotifiedAt,
        firing: g.firing,
        seq: g.seq,
        ver: g.ver,
        updated_at: now,
      })),
    )
  }

  // ---------------------------------------------------------------- silences

  #silenceQuery(where: string): string {
    return `SELECT id, matchers, ${ms('starts_at')} AS starts_at_ms, ${ms('ends_at')} AS ends_at_ms, created_by, comment,
        ${ms('created_at')} AS created_at_ms, ${ms('updated_at')} AS updated_at_ms, ver
      FROM (SELECT * FROM ${this.#t('alert_silences')} FINAL)
      ${where}
      ORDER BY starts_at_ms, id`
  }

  #toSilence(r: Record<string, unknown>): Silence {
    return {
      id: String(r.id),
      matchers: JSON.parse(String(r.matchers)) as SilenceMatchers,
      startsAt: Number(r.starts_at_ms),
      endsAt: Number(r.ends_at_ms),
      createdBy: String(r.created_by),
      comment: String(r.comment),
      createdAt: Number(r.created_at_ms),
      updatedAt: Number(r.updated_at_ms),
      ver: Number(r.ver),
    }
  }

  async silences(now: number): Promise<Silence[]> {
    const rows = await this.#rows<Record<string, unknown>>(
      'reading silences',
      this.#silenceQuery(`WHERE ends_at > fromUnixTimestamp64Milli({now:Int64}, 'UTC')`),
      { now },
    )
    return rows.map((r) => this.#toSilence(r))
  }

  /** Silences, including those that ended within `expiredSince` (default: none ended). */
  async listSilences(opts: { now: number; includeExpiredSince?: number }): Promise<Silence[]> {
    const since = opts.includeExpiredSince ?? opts.now
    const rows = await this.#rows<Record<string, unknown>>(
      'listing silences',
      this.#silenceQuery(`WHERE ends_at > fromUnixTimestamp64Milli({since:Int64}, 'UTC')`),
      { since },
    )
    return rows.map((r) => this.#toSilence(r))
  }

  async silence(id: string): Promise<Silence | null> {
    const rows = await this.#rows<Record<string, unknown>>(
      'reading a silence',
      this.#silenceQuery('WHERE id = {id:String}'),
      { id },
    )
    return rows[0] === undefined ? null : this.#toSilence(rows[0])
  }

  async saveSilence(s: Silence): Promise<void> {
    await this.#insert('writing a silence', 'alert_silences', [
      {
        id: s.id,
        matchers: JSON.stringify(s.matchers),
        starts_at: s.startsAt,
        ends_at: s.endsAt,
        created_by: s.createdBy,
        comment: s.comment,
        created_at: s.createdAt,
        updated_at: s.updatedAt,
        ver: s.ver,
      },
    ])
  }

  /** Ends a silence now. Throws NotFoundError for an unknown id; an ended silence is returned unchanged. */
  async expireSilence(id: string, now: number): Promise<Silence> {
    const s = await this.silence(id)
    if (s === null) throw new NotFoundError(`no silence with id ${id}`)
    if (s.endsAt <= now) return s
    const ended: Silence = { ...s, endsAt: Math.max(now, s.startsAt), updatedAt: now, ver: s.ver + 1 }
    await this.saveSilence(ended)
    return ended
  }

  // ------------------------------------------------------------------ outbox

  #outboxRow(e: OutboxEntry): Record<string, unknown> {
    return {
      id: e.id,
      receiver: e.receiver,
      kind: e.kind,
      group_key: e.groupKey,
      notification: safeJson(e.notification),
      created_at: e.createdAt,
      state: e.state,
      attempts: e.attempts,
      next_attempt_at: e.nextAttemptAt,
      last_error: e.lastError,
      first_failure_at: e.firstFailureAt,
      updated_at: e.updatedAt,
      ver: e.ver,
    }
  }

  #outboxQuery(where: string): string {
    return `SELECT id, receiver, kind, group_key, notification, ${ms('created_at')} AS created_at_ms, state, attempts,
        ${ms('next_attempt_at')} AS next_attempt_at_ms, last_error, ${ms('first_failure_at')} AS first_failure_at_ms,
        ${ms('updated_at')} AS updated_at_ms, ver
      FROM (SELECT * FROM ${this.#t('alert_outbox')} FINAL)
      ${where}
      ORDER BY created_at_ms, id`
  }

  #toEntry(r: Record<string, unknown>): OutboxEntry {
    return {
      id: String(r.id),
      receiver: String(r.receiver),
      kind: String(r.kind) as NotificationKind,
      groupKey: String(r.group_key),
      notification: JSON.parse(String(r.notification)),
      createdAt: Number(r.created_at_ms),
      state: String(r.state) as OutboxState,
      attempts: Number(r.attempts),
      nextAttemptAt: Number(r.next_attempt_at_ms),
      lastError: String(r.last_error),
      firstFailureAt: toNum(r.first_failure_at_ms),
      updatedAt: Number(r.updated_at_ms),
      ver: Number(r.ver),
    }
  }

  async existingOutboxIds(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set()
    const rows = await this.#rows<{ id: string }>(
      'reading outbox ids',
      `SELECT DISTINCT id FROM ${this.#t('alert_outbox')} WHERE id IN {ids:Array(String)}`,
      { ids },
    )
    return new Set(rows.map((r) => r.id))
  }

  async insertOutbox(entries: readonly OutboxEntry[]): Promise<void> {
    await this.#insert(
      'writing notifications to the outbox',
      'alert_outbox',
      entries.map((e) => this.#outboxRow(e)),
    )
  }

  /** Records an entry's new delivery state (a row with a higher `ver`). */
  async updateOutbox(entry: OutboxEntry): Promise<void> {
    await this.#insert('updating an outbox entry', 'alert_outbox', [this.#outboxRow(entry)])
  }

  async pendingOutbox(): Promise<OutboxEntry[]> {
    const rows = await this.#rows<Record<string, unknown>>(
      'reading pending notifications',
      this.#outboxQuery(`WHERE state = 'pending'`),
    )
    return rows.map((r) => this.#toEntry(r))
  }

  /** Outbox entries, newest state of each, optionally for one receiver; oldest first. */
  async outbox(opts: { receiver?: string; limit?: number } = {}): Promise<OutboxEntry[]> {
    const rows = await this.#rows<Record<string, unknown>>(
      'reading the outbox',
      `${this.#outboxQuery(`WHERE {receiver:String} = '' OR receiver = {receiver:String}`)} LIMIT {limit:UInt32}`,
      { receiver: opts.receiver ?? '', limit: opts.limit ?? 1000 },
    )
    return rows.map((r) => this.#toEntry(r))
  }

  // ------------------------------------------------------------ delivery log

  async logDelivery(row: DeliveryLogRow): Promise<void> {
    await this.#insert('writing the delivery log', 'alert_deliveries', [
      {
        time: row.time,
        notification_id: row.notificationId,
        receiver: row.receiver,
        kind: row.kind,
        attempt: row.attempt,
        outcome: row.outcome,
        error: row.error,
        instance: row.instance,
      },
    ])
  }

  async deliveryLog(notificationId?: string, limit = 1000): Promise<DeliveryLogRow[]> {
    const rows = await this.#rows<Record<string, unknown>>(
      'reading the delivery log',
      `SELECT ${ms('time')} AS time_ms, notification_id, receiver, kind, attempt, outcome, error, instance
        FROM ${this.#t('alert_deliveries')}
        WHERE {id:String} = '' OR notification_id = {id:String}
        ORDER BY time, notification_id, attempt
        LIMIT {limit:UInt32}`,
      { id: notificationId ?? '', limit },
    )
    return rows.map((r) => ({
      time: Number(r.time_ms),
      notificationId: String(r.notification_id),
      receiver: String(r.receiver),
      kind: String(r.kind) as NotificationKind,
      attempt: Number(r.attempt),
      outcome: String(r.outcome) as DeliveryLogRow['outcome'],
      error: String(r.error),
      instance: String(r.instance),
    }))
  }

  // --------------------------------------------------------- self-monitoring

  /**
   * Records dead-lettered and events stored over [from, to): dead letters by the
   * time they were rejected, events from the per-minute rollup (cheap at any volume).
   */
  async deadLetterCounts(from: number, to: number): Promise<DeadLetterCounts> {
    const rows = await this.#rows<{ dead_letters: number; events: number }>(
      'counting dead letters',
      `SELECT
          (SELECT count() FROM ${this.#t('dead_letters')}
            WHERE time >= fromUnixTimestamp64Milli({from:Int64}, 'UTC')
              AND time < fromUnixTimestamp64Milli({to:Int64}, 'UTC')) AS dead_letters,
          (SELECT sum(requests) FROM ${this.#t('auth_minute')}
            WHERE minute >= toStartOfMinute(fromUnixTimestamp64Milli({from:Int64}, 'UTC'))
              AND minute < fromUnixTimestamp64Milli({to:Int64}, 'UTC')) AS events`,
      { from, to },
    )
    const r = rows[0]
    return { deadLetters: Number(r?.dead_letters ?? 0), events: Number(r?.events ?? 0) }
  }
}
