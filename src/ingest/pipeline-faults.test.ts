// The pipeline's exactly-once behaviour under store faults, against the
// in-memory store double (memory-store.ts): poison rows, errors after the
// event insert landed, a store that hangs or keeps failing at shutdown, and
// rebalances. Counts are exact; no test waits on time, only on conditions.
import { describe, expect, it } from 'vitest'
import type { AuthEvent } from '../domain/auth-event.ts'
import { DecodeError, StoreError } from '../domain/errors.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { createRegistry } from '../telemetry/metrics.ts'
import { MemoryIngestStore, rejected, unavailable, type WriteStep } from './memory-store.ts'
import {
  type DeadLetter,
  IngestPipeline,
  PipelineFencedError,
  type PipelineOptions,
  PipelineStoppedError,
  STORE_REFUSED_REASON,
} from './pipeline.ts'
import type { SourceRecord } from './source.ts'

const NOW = Date.parse('2026-11-28T12:00:00Z')
const DAY = 86_400_000
const SRC = 'kafka:auth'

/**
 * A decoder that keeps text as it came (no normalisation), so a lone surrogate
 * reaches the store: the case the store must refuse and the pipeline isolate.
 */
const rawDecoder = {
  decodeAll(bytes: Buffer) {
    return { events: [this.decode(bytes)], skipped: 0 }
  },
  decode(bytes: Buffer): AuthEvent {
    let d: { t: number; ua: string }
    try {
      d = JSON.parse(bytes.toString('utf8'))
    } catch {
      throw new DecodeError('invalid_json', 'record is not valid JSON')
    }
    return {
      eventId: `e${d.t}`,
      time: d.t,
      keyId: 'k',
      keyVersion: 'v1',
      keyFingerprint: '',
      identitySource: 'key_id',
      outcome: 'success',
      reason: 'none',
      status: 200,
      clientId: 'c',
      sourceAddress: '10.0.0.1',
      userAgent: d.ua,
      method: 'GET',
      route: '/',
      gateway: 'g',
      latencyMs: 1,
    }
  },
}

function setup(store: MemoryIngestStore, options: Partial<PipelineOptions> = {}) {
  const letters: DeadLetter[] = []
  const pipeline = new IngestPipeline({
    store,
    decoderFor: () => rawDecoder,
    deadLetters: { send: async (l) => void letters.push(...l) },
    scrub: (b) => b,
    logger: silentLogger(),
    registry: createRegistry(),
    batchMaxEvents: 1_000,
    batchMaxWaitMs: 1,
    retryBaseMs: 1,
    retryMaxMs: 5,
    shutdownTimeoutMs: 20,
    clock: () => NOW,
    groupsPartitions: () => true,
    ...options,
  })
  return { pipeline, letters }
}

/** Records [from, to] of a partition; `poison` offsets carry a lone surrogate; `dayOf` spreads event days. */
function records(
  partition: number,
  from: number,
  to: number,
  opts: { poison?: number[]; dayOf?: (offset: number) => number } = {},
): SourceRecord[] {
  return Array.from({ length: to - from + 1 }, (_, k) => {
    const offset = from + k
    const ua = opts.poison?.includes(offset) ? `agent-\ud800-${offset}` : `agent-${offset}`
    const t = NOW - 60_000 + offset - (opts.dayOf?.(offset) ?? 0) * DAY
    return {
      value: Buffer.from(JSON.stringify({ t, ua })),
      partition,
      offset: BigInt(offset),
      nextOffset: BigInt(offset + 1),
    }
  })
}

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000; i++) {
    if (cond()) return
    await new Promise((r) => setImmediate(r))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe('poison records', () => {
  it('dead-letters a row the store refuses with its reason and stores the rest of the batch once', async () => {
    const store = new MemoryIngestStore()
    const { pipeline, letters } = setup(store)
    await pipeline.submit(SRC, 0, records(0, 0, 99, { poison: [17, 64] }))
    expect(store.counts(SRC)).toEqual({ stored: 98, distinct: 98, duplicates: 0 })
    expect(letters.map((l) => [l.offset, l.reason])).toEqual([
      [17n, STORE_REFUSED_REASON],
      [64n, STORE_REFUSED_REASON],
    ])
    expect(letters[0]!.detail).toContain('ClickHouse code 25')
    expect(store.deadLetterRows.map((d) => d.offset)).toEqual([17n, 64n])
    // Ingest goes on: the next batch is stored, and the pipeline is healthy.
    await pipeline.submit(SRC, 0, records(0, 100, 109))
    expect(store.counts(SRC)).toEqual({ stored: 108, distinct: 108, duplicates: 0 })
    expect(pipeline.health().ok).toBe(true)
    await pipeline.stop()
  })

  it('keeps the flush identity, so a day insert that landed before the refused one is not stored twice', async () => {
    const store = new MemoryIngestStore()
    const { pipeline, letters } = setup(store)
    // Offsets 0–9 are a day older (their insert runs first and lands); 15 is refused on the newer day.
    await pipeline.submit(SRC, 0, records(0, 0, 19, { poison: [15], dayOf: (o) => (o < 10 ? 1 : 0) }))
    expect(store.counts(SRC)).toEqual({ stored: 19, distinct: 19, duplicates: 0 })
    expect(letters.map((l) => l.offset)).toEqual([15n])
    const flushIds = new Set(store.writes.flat().map((b) => b.flush))
    expect(flushIds.size).toBe(1)
    await pipeline.stop()
  })

  it('probes a batch that keeps failing with an error the adapter thought retriable', async () => {
    const store = new MemoryIngestStore()
    // An adapter that does not know the refusal's code calls it retriable.
    store.fault = (step) =>
      step.kind === 'events' && store.writes.length <= 3 ? unavailable('unknown code 9999') : undefined
    const { pipeline, letters } = setup(store)
    await pipeline.submit(SRC, 0, records(0, 0, 9, { poison: [3] }))
    expect(store.counts(SRC)).toEqual({ stored: 9, distinct: 9, duplicates: 0 })
    expect(letters.map((l) => l.offset)).toEqual([3n])
    await pipeline.stop()
  })
})

describe('a non-retriable store error after the event insert landed (hole a)', () => {
  for (const failAt of ['dead_letters', 'committed'] as const) {
    it(`fails at ${failAt}: ingest halts, not ready with the reason; after a restart each record is stored once`, async () => {
      const store = new MemoryIngestStore()
      let failed = 0
      store.fault = (step: WriteStep) =>
        step.kind === failAt && failed++ === 0 ? rejected('ACCESS_DENIED on commit') : undefined
      const first = setup(store)
      // A record that fails decoding makes the batch carry a dead-letter row.
      const recs = records(0, 0, 49)
      recs[10] = { ...recs[10]!, value: Buffer.from('{not json') }
      const submitted = first.pipeline.submit(SRC, 0, recs).then(
        () => 'stored',
        (err) => err,
      )
      await until('the write to fail', () => failed === 1)
      await until('health to report it', () => !first.pipeline.health().ok)
      expect(first.pipeline.health().detail).toContain('ACCESS_DENIED on commit')
      // The events landed once; nothing is retried or re-read under another identity.
      expect(store.counts(SRC).stored).toBe(49)
      first.pipeline.close()
      await first.pipeline.stop()
      expect(await submitted).toBeInstanceOf(PipelineStoppedError)

      const second = setup(store)
      const [pos] = await second.pipeline.positions(SRC)
      expect(pos!.pendingLastOffset).toBe(49n)
      await second.pipeline.submit(SRC, 0, records(0, 0, 59))
      expect(store.counts(SRC)).toEqual({ stored: 59, distinct: 59, duplicates: 0 })
      expect(store.writes[1]![0]!.flush).toBe(store.writes[0]![0]!.flush)
      await second.pipeline.stop()
    })
  }

  it('a retriable error after the event insert landed is retried under the same identity', async () => {
    const store = new MemoryIngestStore({ grouped: false })
    let failed = 0
    store.fault = (step) => (step.kind === 'committed' && failed++ < 2 ? unavailable() : undefined)
    const { pipeline } = setup(store, { groupsPartitions: () => false })
    await pipeline.submit(SRC, 0, records(0, 0, 29))
    expect(failed).toBe(3)
    expect(store.counts(SRC)).toEqual({ stored: 30, distinct: 30, duplicates: 0 })
    expect(pipeline.health().ok).toBe(true)
    await pipeline.stop()
  })
})

describe('shutdown whatever the store does', () => {
  it('stop() finishes while the store hangs; the batch is rebuilt at the next start', async () => {
    const store = new MemoryIngestStore()
    store.hang = true
    const first = setup(store)
    const submitted = first.pipeline.submit(SRC, 0, records(0, 0, 9)).catch((err) => err)
    await until('the write to start', () => store.writes.length === 1)
    first.pipeline.close()
    await first.pipeline.stop()
    expect(await submitted).toBeInstanceOf(PipelineStoppedError)
    store.hang = false
    const second = setup(store)
    await second.pipeline.positions(SRC)
    await second.pipeline.submit(SRC, 0, records(0, 0, 9))
    expect(store.counts(SRC)).toEqual({ stored: 10, distinct: 10, duplicates: 0 })
  })

  it('stop() finishes while every write fails, and /readyz says why meanwhile', async () => {
    const store = new MemoryIngestStore()
    store.fault = () => unavailable('TOO_MANY_PARTS')
    const { pipeline } = setup(store)
    const submitted = pipeline.submit(SRC, 0, records(0, 0, 9)).catch((err) => err)
    await until('a failed write', () => store.writes.length >= 2)
    expect(pipeline.health()).toMatchObject({ ok: false })
    expect(pipeline.health().detail).toContain('TOO_MANY_PARTS')
    await pipeline.stop()
    expect(await submitted).toBeInstanceOf(PipelineStoppedError)
    expect(store.counts(SRC).stored).toBe(0)
  })
})

describe('rebalances (hole b)', () => {
  it('refuses a fetch of the old assignment after a fence instead of storing it from offset 0', async () => {
    const store = new MemoryIngestStore({ grouped: false })
    const a = setup(store, { groupsPartitions: () => false })
    await a.pipeline.positions(SRC)
    await a.pipeline.submit(SRC, 0, records(0, 0, 9))
    a.pipeline.fence(SRC)
    // kafkajs may still hand over a batch fetched before the rebalance.
    await expect(a.pipeline.submit(SRC, 0, records(0, 10, 19))).rejects.toBeInstanceOf(PipelineFencedError)
    // The next owner resumes at the stored position and stores the rest once.
    const b = setup(store, { groupsPartitions: () => false })
    await b.pipeline.positions(SRC)
    await b.pipeline.submit(SRC, 0, records(0, 10, 19))
    expect(store.counts(SRC)).toEqual({ stored: 20, distinct: 20, duplicates: 0 })
    // The old owner takes submits again once it has read positions for a new assignment.
    await a.pipeline.positions(SRC)
    await a.pipeline.submit(SRC, 0, records(0, 15, 24))
    expect(store.counts(SRC)).toEqual({ stored: 25, distinct: 25, duplicates: 0 })
  })

  it('a batch in flight across a rebalance is rebuilt by the next owner under the same identity', async () => {
    const store = new MemoryIngestStore({ grouped: false })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    // The old owner's first write stops right after its pending row landed;
    // its retry waits until the next owner has written.
    let failed = false
    store.fault = (step) => {
      if (step.kind !== 'events' || failed) return undefined
      failed = true
      return new StoreError('connection reset', { retriable: true })
    }
    let aWrites = 0
    const aStore = Object.assign(Object.create(store) as MemoryIngestStore, {
      write: async (batches: Parameters<MemoryIngestStore['write']>[0]) => {
        if (++aWrites === 2) await gate
        return store.write(batches)
      },
    })
    const a = setup(aStore, { groupsPartitions: () => false })
    await a.pipeline.positions(SRC)
    const old = a.pipeline.submit(SRC, 0, records(0, 0, 9))
    await until('the pending row', () => failed && aWrites === 2)
    a.pipeline.fence(SRC)
    const b = setup(store, { groupsPartitions: () => false })
    const [pos] = await b.pipeline.positions(SRC)
    expect(pos!.pendingLastOffset).toBe(9n)
    await b.pipeline.submit(SRC, 0, records(0, 0, 14))
    release()
    await old
    expect(store.counts(SRC)).toEqual({ stored: 15, distinct: 15, duplicates: 0 })
    // The old owner's late commit does not move the position back.
    const [after] = await store.positions(SRC)
    expect(after!.nextOffset).toBe(15n)
  })

  it('an old owner whose write lands after the next owner read the positions stores nothing of it (claims)', async () => {
    const store = new MemoryIngestStore({ grouped: false })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let aWrites = 0
    const aStore = Object.assign(Object.create(store) as MemoryIngestStore, {
      write: async (batches: Parameters<MemoryIngestStore['write']>[0]) => {
        if (++aWrites === 2) await gate
        return store.write(batches)
      },
    })
    const a = setup(aStore, { groupsPartitions: () => false })
    await a.pipeline.positions(SRC, [0])
    await a.pipeline.submit(SRC, 0, records(0, 0, 9))
    // A's second batch is on its way to the store when the group rebalances.
    const late = a.pipeline.submit(SRC, 0, records(0, 10, 19)).catch((err) => err)
    await until('the old owner to start writing', () => aWrites === 2)
    const b = setup(store, { groupsPartitions: () => false })
    const [pos] = await b.pipeline.positions(SRC, [0])
    expect(pos).toMatchObject({ nextOffset: 10n, pendingLastOffset: null })
    await b.pipeline.submit(SRC, 0, records(0, 10, 24))
    release()
    expect(await late).toBeInstanceOf(PipelineFencedError)
    expect(store.counts(SRC)).toEqual({ stored: 25, distinct: 25, duplicates: 0 })
    const [after] = await store.positions(SRC)
    expect(after).toMatchObject({ nextOffset: 25n, pendingLastOffset: null })
    // The old owner takes nothing more of the source until it is assigned partitions again.
    await expect(a.pipeline.submit(SRC, 0, records(0, 25, 26))).rejects.toBeInstanceOf(PipelineFencedError)
  })

  it("an old owner's late pending row of a partition's first batch ranks below the next owner's rows, whatever its clock", async () => {
    const store = new MemoryIngestStore({ grouped: false })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let aWrites = 0
    const aStore = Object.assign(Object.create(store) as MemoryIngestStore, {
      write: async (batches: Parameters<MemoryIngestStore['write']>[0]) => {
        if (++aWrites === 1) await gate
        return store.write(batches)
      },
    })
    const a = setup(aStore, { groupsPartitions: () => false, clock: () => NOW + 3_600_000 })
    await a.pipeline.positions(SRC, [0])
    const late = a.pipeline.submit(SRC, 0, records(0, 0, 9)).catch((err) => err)
    await until('the old owner to start writing', () => aWrites === 1)
    const b = setup(store, { groupsPartitions: () => false })
    expect(await b.pipeline.positions(SRC, [0])).toEqual([])
    await b.pipeline.submit(SRC, 0, records(0, 0, 14))
    release()
    expect(await late).toBeInstanceOf(PipelineFencedError)
    expect(store.counts(SRC)).toEqual({ stored: 15, distinct: 15, duplicates: 0 })
    // A's pending row landed last, but B's committed row is the partition's position.
    expect(store.positionRows.at(-1)).toMatchObject({ state: 'pending', first: 0n, last: 9n })
    const [after] = await store.positions(SRC)
    expect(after).toMatchObject({ nextOffset: 15n, pendingLastOffset: null })
  })

  it('a partition claimed away mid-write stops only that partition; the others go on', async () => {
    const store = new MemoryIngestStore({ grouped: false })
    let release!: () => void
    const gate = new Promise<void>((r) => {
      release = r
    })
    let aWrites = 0
    const aStore = Object.assign(Object.create(store) as MemoryIngestStore, {
      write: async (batches: Parameters<MemoryIngestStore['write']>[0]) => {
        if (++aWrites === 1) await gate
        return store.write(batches)
      },
    })
    // One flush of A carries both partitions; B is assigned partition 0 while it is on its way.
    const a = setup(aStore, { groupsPartitions: () => false, batchMaxEvents: 20 })
    await a.pipeline.positions(SRC, [0, 1])
    const p0 = a.pipeline.submit(SRC, 0, records(0, 0, 9)).catch((err) => err)
    const p1 = a.pipeline.submit(SRC, 1, records(1, 0, 9))
    await until('the flush of both partitions', () => aWrites === 1)
    const b = setup(store, { groupsPartitions: () => false })
    await b.pipeline.positions(SRC, [0])
    release()
    expect(await p0).toBeInstanceOf(PipelineFencedError)
    await p1
    // Partition 1 is still A's: it keeps storing; partition 0 is refused until assigned again.
    await a.pipeline.submit(SRC, 1, records(1, 10, 14))
    await expect(a.pipeline.submit(SRC, 0, records(0, 10, 14))).rejects.toBeInstanceOf(PipelineFencedError)
    await b.pipeline.submit(SRC, 0, records(0, 0, 14))
    const stored = store.events.filter((e) => e.source === SRC)
    expect([0, 1].map((p) => stored.filter((e) => e.partition === p).length)).toEqual([15, 15])
    expect(store.counts(SRC)).toEqual({ stored: 30, distinct: 30, duplicates: 0 })
  })

  it('refuses a partition the consumer group did not assign to this process', async () => {
    const store = new MemoryIngestStore({ grouped: false })
    const { pipeline } = setup(store, { groupsPartitions: () => false })
    await pipeline.positions(SRC, [0, 2])
    await pipeline.submit(SRC, 2, records(2, 0, 4))
    await expect(pipeline.submit(SRC, 1, records(1, 0, 4))).rejects.toBeInstanceOf(PipelineFencedError)
    expect(store.counts(SRC)).toEqual({ stored: 5, distinct: 5, duplicates: 0 })
    await pipeline.stop()
  })
})
