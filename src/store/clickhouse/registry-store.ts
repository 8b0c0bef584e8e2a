// Stores and reads key lifecycle events. Writes are idempotent by event id
// (ReplacingMergeTree key + `LIMIT 1 BY` on read), so redelivered Kafka
// messages or a repeated CLI call never duplicate an event.
import type { ClickHouseClient } from '@clickhouse/client'
import type { RecordedLifecycleEvent } from '../../registry/lifecycle-input.ts'
import { classifyStoreError } from './errors.ts'
import { qualified } from './identifiers.ts'

export class RegistryStore {
  readonly #client: ClickHouseClient
  readonly #db: string
  constructor(client: ClickHouseClient, db: string) {
    this.#client = client
    this.#db = db
  }

  async record(events: readonly RecordedLifecycleEvent[]): Promise<void> {
    if (events.length === 0) return
    try {
      await this.#client.insert({
        table: qualified(this.#db, 'key_lifecycle'),
        values: events.map((e) => ({
          event_id: e.eventId,
          time: e.time,
          key_id: e.keyId,
          version: e.version,
          action: e.action,
          fingerprints: e.fingerprints ?? [],
          expires_at: e.expiresAt === undefined ? null : e.expiresAt,
          scopes: e.scopes ?? [],
          owners: e.owners ?? [],
          actor: e.actor ?? '',
          note: e.note ?? '',
          origin: e.origin,
        })),
        format: 'JSONEachRow',
      })
    } catch (err) {
      throw classifyStoreError(err, 'recording lifecycle events')
    }
  }

  /** Every lifecycle event, oldest first, one row per event id. */
  /**
   * A cheap mark of the log's content (row count, newest record time, XOR of
   * the rows' identities): it changes whenever an event is recorded, so a
   * refresh can skip reading and folding the whole log when nothing was. A
   * background merge that drops a duplicate also changes it (one needless read).
   */
  async mark(): Promise<string> {
    try {
      const rs = await this.#client.query({
        query: `SELECT toString(count()) AS n, toString(max(recorded_at)) AS latest,
            toString(groupBitXor(cityHash64(key_id, version, event_id))) AS ids
          FROM ${qualified(this.#db, 'key_lifecycle')}`,
        format: 'JSONEachRow',
      })
      const [row] = await rs.json<{ n: string; latest: string; ids: string }>()
      return row ? `${row.n}/${row.latest}/${row.ids}` : ''
    } catch (err) {
      throw classifyStoreError(err, 'reading the lifecycle log mark')
    }
  }

  async all(): Promise<RecordedLifecycleEvent[]> {
    try {
      const rs = await this.#client.query({
        query: `SELECT event_id, toUnixTimestamp64Milli(time) AS time, key_id, version, action, fingerprints,
            if(isNull(expires_at), NULL, toUnixTimestamp64Milli(assumeNotNull(expires_at))) AS expires_at,
            scopes, owners, actor, note, origin
          FROM ${qualified(this.#db, 'key_lifecycle')}
          ORDER BY time, recorded_at
          LIMIT 1 BY key_id, version, event_id`,
        format: 'JSONEachRow',
      })
      const rows = await rs.json<{
        event_id: string
        time: number
        key_id: string
        version: string
        action: RecordedLifecycleEvent['action']
        fingerprints: string[]
        expires_at: number | null
        scopes: string[]
        owners: string[]
        actor: string
        note: string
        origin: string
      }>()
      return rows.map((r) => {
        const e: RecordedLifecycleEvent = {
          eventId: r.event_id,
          origin: r.origin,
          keyId: r.key_id,
          version: r.version,
          action: r.action,
          time: Number(r.time),
        }
        if (r.fingerprints.length > 0) e.fingerprints = r.fingerprints
        if (r.expires_at !== null) e.expiresAt = Number(r.expires_at)
        if (r.scopes.length > 0) e.scopes = r.scopes
        if (r.owners.length > 0) e.owners = r.owners
        if (r.actor) e.actor = r.actor
        if (r.note) e.note = r.note
        return e
      })
    } catch (err) {
      throw classifyStoreError(err, 'reading lifecycle events')
    }
  }
}
