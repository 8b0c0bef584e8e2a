// An in-memory AlertPipelineStore + DeliveryStore for unit tests of the
// pipeline runner and the delivery worker. It keeps the newest version of each
// row like the ReplacingMergeTree tables do (highest `ver` wins), so tests can
// check what a restart would load. The ClickHouse store is tested in
// test/integration against the real thing.

import type { DeliveryLogRow } from '../store/clickhouse/alert-store.ts'
import type { DeliveryStore } from './delivery.ts'
import type { AlertState, GroupState, OutboxEntry, Silence } from './pipeline/types.ts'
import type { AlertPipelineStore } from './pipeline.ts'

export class MemoryAlertStore implements AlertPipelineStore, DeliveryStore {
  readonly states = new Map<string, AlertState>()
  readonly groups = new Map<string, GroupState>()
  readonly silenceRows = new Map<string, Silence>()
  readonly outboxRows = new Map<string, OutboxEntry>()
  readonly log: DeliveryLogRow[] = []
  /** Every outbox write, in order (inserts and updates). */
  readonly outboxWrites: OutboxEntry[] = []
  /** Number of insertOutbox calls, and rows they carried. */
  outboxInserts = 0
  fail: Partial<Record<'saveAlertStates' | 'insertOutbox' | 'saveGroupStates' | 'updateOutbox', Error>> = {}

  #put<T extends { ver: number }>(map: Map<string, T>, key: string, row: T): void {
    const cur = map.get(key)
    if (cur === undefined || row.ver >= cur.ver) map.set(key, structuredClone(row))
  }

  async loadAlertStates(resolvedSince: number): Promise<AlertState[]> {
    return [...this.states.values()]
      .filter((s) => s.phase !== 'resolved' || (s.resolvedAt ?? 0) >= resolvedSince)
      .map((s) => structuredClone(s))
  }
  async saveAlertStates(states: readonly AlertState[]): Promise<void> {
    if (this.fail.saveAlertStates) throw this.fail.saveAlertStates
    for (const s of states) this.#put(this.states, s.key, s)
  }
  async loadGroupStates(): Promise<GroupState[]> {
    return [...this.groups.values()].map((g) => structuredClone(g))
  }
  async saveGroupStates(states: readonly GroupState[]): Promise<void> {
    if (this.fail.saveGroupStates) throw this.fail.saveGroupStates
    for (const g of states) this.#put(this.groups, `${g.receiver}\u0000${g.groupKey}`, g)
  }
  async silences(now: number): Promise<Silence[]> {
    return [...this.silenceRows.values()].filter((s) => s.endsAt > now)
  }
  async existingOutboxIds(ids: readonly string[]): Promise<Set<string>> {
    return new Set(ids.filter((id) => this.outboxRows.has(id)))
  }
  async insertOutbox(entries: readonly OutboxEntry[]): Promise<void> {
    if (this.fail.insertOutbox) throw this.fail.insertOutbox
    this.outboxInserts++
    for (const e of entries) {
      this.outboxWrites.push(structuredClone(e))
      this.#put(this.outboxRows, e.id, e)
    }
  }
  async pendingOutbox(): Promise<OutboxEntry[]> {
    return [...this.outboxRows.values()].filter((e) => e.state === 'pending').map((e) => structuredClone(e))
  }
  async updateOutbox(entry: OutboxEntry): Promise<void> {
    if (this.fail.updateOutbox) throw this.fail.updateOutbox
    this.outboxWrites.push(structuredClone(entry))
    this.#put(this.outboxRows, entry.id, entry)
  }
  async logDelivery(row: DeliveryLogRow): Promise<void> {
    this.log.push(row)
  }
}
