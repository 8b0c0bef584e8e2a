// An in-memory IngestStore for unit tests of the pipeline: it keeps the write
// protocol's contract (store-port.ts) — pending rows, atomic inserts
// deduplicated by identity, dead-letter rows, committed rows — and refuses
// rows the way ClickHouse does (a lone UTF-16 surrogate in a JSON string,
// code 25). Faults are injected per protocol step. Not used outside tests;
// the real engine is tested in test/integration/.
import type { AuthEvent } from '../domain/auth-event.ts'
import { StoreError, StoreRefusedDataError } from '../domain/errors.ts'
import {
  batchIdentity,
  type EncodedEvent,
  type IngestStore,
  type PartitionBatch,
  type StoredPositionRow,
  type WriteResult,
} from './store-port.ts'

const DAY_MS = 86_400_000
/** A `\uD800`–`\uDFFF` escape JSON.stringify writes for a lone surrogate. */
const LONE_SURROGATE_ESCAPE = /\\ud[89a-f][0-9a-f]{2}/i

export interface StoredRow {
  source: string
  partition: number
  offset: bigint
  userAgent: string
}

/** A step of the write protocol, as a fault hook sees it. */
export type WriteStep =
  | { kind: 'pending'; batches: readonly PartitionBatch[] }
  | { kind: 'events'; token: string; rows: number }
  | { kind: 'dead_letters'; token: string }
  | { kind: 'committed'; batches: readonly PartitionBatch[] }

interface PositionRow {
  source: string
  partition: number
  state: 'pending' | 'committed'
  first: bigint
  last: bigint
  next: bigint
  meta: string
  epoch: number
  ver: bigint
  flush: string
}

export class MemoryIngestStore implements IngestStore {
  /** Groups a source's batches of one flush into one insert per day, like the embedded store. */
  readonly grouped: boolean
  readonly events: StoredRow[] = []
  readonly deadLetterRows: { source: string; partition: number; offset: bigint; reason: string }[] = []
  readonly positionRows: PositionRow[] = []
  /** Claims in the order they were made: the last one of a partition owns it. */
  readonly claims: { source: string; partition: number; claim: string }[] = []
  /** Every write call, in order. */
  readonly writes: PartitionBatch[][] = []
  #tokens = new Set<string>()
  /** Throws (or returns an error to throw) before a step runs; the steps before it stay written. */
  fault: ((step: WriteStep) => Error | undefined) | null = null
  /** While set, `write` never settles (a store that hangs). */
  hang = false

  constructor(opts: { grouped?: boolean } = {}) {
    this.grouped = opts.grouped ?? true
  }

  encode(event: AuthEvent, source: string, partition: number, offset: bigint): EncodedEvent {
    return {
      day: Math.floor(event.time / DAY_MS),
      time: event.time,
      row: JSON.stringify([event.time, event.userAgent, source, partition, offset.toString()]),
    }
  }

  async positions(source: string): Promise<StoredPositionRow[]> {
    const latest = new Map<number, PositionRow>()
    for (const r of this.positionRows) {
      if (r.source !== source) continue
      const prev = latest.get(r.partition)
      if (!prev || r.ver > prev.ver) latest.set(r.partition, r)
    }
    return [...latest.values()]
      .sort((a, b) => a.partition - b.partition)
      .map((r) => ({
        source,
        partition: r.partition,
        nextOffset: r.state === 'pending' ? r.first : r.next,
        pendingLastOffset: r.state === 'pending' ? r.last : null,
        meta: r.meta,
        epoch: r.epoch,
        updatedAt: 0,
        ver: r.ver,
        flush: r.state === 'pending' ? r.flush : '',
      }))
  }

  async probe(events: readonly EncodedEvent[]): Promise<void> {
    for (const e of events) this.#check(e.row)
  }

  #check(row: string): void {
    if (LONE_SURROGATE_ESCAPE.test(row)) {
      throw new StoreRefusedDataError(
        'writing an ingest batch failed (ClickHouse code 25): Cannot parse escape sequence: missing second part of surrogate pair',
      )
    }
  }

  #step(step: WriteStep): void {
    const err = this.fault?.(step)
    if (err) throw err
  }

  async claim(source: string, partitions: readonly number[], claim: string): Promise<bigint[]> {
    return partitions.map((partition) => {
      const rank = this.claims.filter((c) => c.source === source && c.partition === partition).length + 1
      this.claims.push({ source, partition, claim })
      return BigInt(rank)
    })
  }

  /** Indexes of claimed batches whose partition was claimed by someone else since (a server store checks this). */
  #fenced(batches: readonly PartitionBatch[]): number[] {
    if (this.grouped) return []
    return batches.flatMap((b, i) => {
      if (!b.claim) return []
      const latest = this.claims.filter((c) => c.source === b.source && c.partition === b.partition).at(-1)
      return latest && latest.claim !== b.claim ? [i] : []
    })
  }

  async write(all: readonly PartitionBatch[]): Promise<WriteResult> {
    this.writes.push([...all])
    if (this.hang) return new Promise<WriteResult>(() => {})
    const pendingOf = all.filter((b) => !b.ephemeral)
    if (pendingOf.length > 0) {
      this.#step({ kind: 'pending', batches: all })
      for (const b of pendingOf) this.positionRows.push(this.#position(b, 'pending'))
    }
    const fenced = this.#fenced(all)
    const batches = all.filter((_, i) => !fenced.includes(i))
    const positioned = batches.filter((b) => !b.ephemeral)
    const groups = new Map<string, PartitionBatch[]>()
    for (const b of batches) {
      const token =
        this.grouped && b.flush !== '' && !b.ephemeral ? `${b.source}|f:${b.flush}` : batchIdentity(b)
      groups.set(token, [...(groups.get(token) ?? []), b])
    }
    for (const [token, group] of groups) {
      const byDay = new Map<number, StoredRow[]>()
      const rowsOf = new Map<number, string[]>()
      for (const b of group) {
        for (const e of b.events) {
          const [, userAgent, source, partition, offset] = JSON.parse(e.row) as [
            number,
            string,
            string,
            number,
            string,
          ]
          byDay.set(e.day, [
            ...(byDay.get(e.day) ?? []),
            { source, partition, offset: BigInt(offset), userAgent },
          ])
          rowsOf.set(e.day, [...(rowsOf.get(e.day) ?? []), e.row])
        }
      }
      for (const day of [...byDay.keys()].sort((x, y) => x - y)) {
        const t = `${token}|${day}`
        this.#step({ kind: 'events', token: t, rows: byDay.get(day)!.length })
        // One insert is atomic: a refused row fails it whole.
        for (const row of rowsOf.get(day)!) this.#check(row)
        if (this.#tokens.has(t)) continue
        this.#tokens.add(t)
        this.events.push(...byDay.get(day)!)
      }
    }
    for (const b of batches) {
      if (b.deadLetters.length === 0) continue
      const t = `${batchIdentity(b)}|dlq`
      this.#step({ kind: 'dead_letters', token: t })
      if (this.#tokens.has(t)) continue
      this.#tokens.add(t)
      for (const d of b.deadLetters)
        this.deadLetterRows.push({
          source: b.source,
          partition: b.partition,
          offset: d.offset,
          reason: d.reason,
        })
    }
    if (positioned.length > 0) {
      this.#step({ kind: 'committed', batches })
      for (const b of positioned) this.positionRows.push(this.#position(b, 'committed'))
    }
    return { fenced }
  }

  #position(b: PartitionBatch, state: 'pending' | 'committed'): PositionRow {
    return {
      source: b.source,
      partition: b.partition,
      state,
      first: b.firstOffset,
      last: b.lastOffset,
      next: b.nextOffset,
      meta: b.meta,
      epoch: b.epoch,
      ver: state === 'pending' ? b.ver : b.ver + 1n,
      flush: this.grouped ? b.flush : '',
    }
  }

  /** Stored events of `source`, and how many of them are a second copy of a (partition, offset). */
  counts(source: string): { stored: number; distinct: number; duplicates: number } {
    const rows = this.events.filter((e) => e.source === source)
    const distinct = new Set(rows.map((e) => `${e.partition}/${e.offset}`)).size
    return { stored: rows.length, distinct, duplicates: rows.length - distinct }
  }
}

/** A retriable store failure, as the adapter classifies a connection error or an overload. */
export function unavailable(what = 'the store is unavailable'): StoreError {
  return new StoreError(what, { retriable: true })
}

/** A non-retriable failure that is not about the rows (a permission or schema problem). */
export function rejected(what = 'ACCESS_DENIED'): StoreError {
  return new StoreError(what, { retriable: false })
}
