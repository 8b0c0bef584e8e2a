// The pure exactly-once core on its own: partition claims (which submits a
// consumer-group member may store, what a claim lost in the store drops) and
// how position versions are numbered. No store, no timers: each transition
// is called directly and its result compared whole.
import { describe, expect, it } from 'vitest'
import { type Buffered, IngestCore, type PlanOptions } from './ingest-core.ts'
import type { StoredPositionRow } from './store-port.ts'

const NOW = 1_700_000_000_000
const SRC = 'kafka:auth'

function items(from: number, to: number): Buffered[] {
  return Array.from({ length: to - from + 1 }, (_, k) => ({
    offset: BigInt(from + k),
    nextOffset: BigInt(from + k + 1),
    event: { day: 0, time: NOW, row: `[${from + k}]` },
    size: 1,
  }))
}

/** A waiter that records how its submit settled. */
function waiter(log: string[], name: string) {
  return {
    resolve: () => void log.push(`${name}:stored`),
    reject: (err: unknown) => void log.push(`${name}:${(err as Error).message}`),
  }
}

const stopped = () => new Error('stopped')
const opts: PlanOptions = {
  flush: 'f1',
  groupsPartitions: () => false,
  isEphemeral: () => false,
  runId: 'run',
  now: NOW,
}

function stored(partition: number, next: bigint, ver: bigint): StoredPositionRow {
  return {
    source: SRC,
    partition,
    nextOffset: next,
    pendingLastOffset: null,
    meta: '',
    epoch: 0,
    updatedAt: 0,
    ver,
    flush: '',
  }
}

describe('IngestCore claims', () => {
  it('takes submits of the partitions claimed for a source and refuses the others; unclaimed sources are free', () => {
    const core = new IngestCore(() => NOW)
    core.load(SRC, [], new Error('fenced'))
    core.claimed(SRC, [0, 2], 'c1', [1n, 1n])
    expect([0, 1, 2, 3].map((p) => core.isFenced(SRC, p))).toEqual([false, true, false, true])
    expect(core.isFenced('file:/var/log/kong.log', 7)).toBe(false)
  })

  it('plans batches carrying the claim of their partition', () => {
    const core = new IngestCore(() => NOW)
    core.load(SRC, [], new Error('fenced'))
    core.claimed(SRC, [0], 'c1', [3n])
    core.submit(SRC, 0, items(0, 2), 'm', waiter([], 'a'), stopped)
    core.submit('file:x', 5, items(0, 0), 'm', waiter([], 'b'), stopped)
    const batches = core.plan(core.take(), opts)
    expect(batches.map((b) => [b.source, b.partition, b.claim])).toEqual([
      [SRC, 0, 'c1'],
      ['file:x', 5, ''],
    ])
  })

  it('numbers a fresh partition from its claim rank, a stored one from its stored version', () => {
    const core = new IngestCore(() => NOW)
    core.load(SRC, [stored(1, 40n, 900n)], new Error('fenced'))
    core.claimed(SRC, [0, 1], 'c1', [5n, 2n])
    core.submit(SRC, 0, items(0, 0), 'm', waiter([], 'a'), stopped)
    core.submit(SRC, 1, items(40, 40), 'm', waiter([], 'b'), stopped)
    const vers = core.plan(core.take(), opts).map((b) => [b.partition, b.ver])
    // rank 5 × 2^32 = 21 474 836 480; the stored partition goes on from 900 + 2.
    expect(vers).toEqual([
      [0, 21_474_836_480n],
      [1, 902n],
    ])
  })

  it('a claim lost in the store drops that partition only, unless it was claimed again since', () => {
    const core = new IngestCore(() => NOW)
    const log: string[] = []
    core.load(SRC, [], new Error('fenced'))
    core.claimed(SRC, [0, 1], 'c1', [1n, 1n])
    core.submit(SRC, 0, items(0, 4), 'm', waiter(log, 'p0'), stopped)
    core.submit(SRC, 1, items(0, 4), 'm', waiter(log, 'p1'), stopped)
    expect(core.release(SRC, 0, 'c1', new Error('fenced'))).toBe(true)
    expect(log).toEqual(['p0:fenced'])
    expect(core.buffered()).toBe(5)
    expect([core.isFenced(SRC, 0), core.isFenced(SRC, 1)]).toEqual([true, false])
    // Assigned partition 0 again: a late answer about the old claim changes nothing.
    core.load(SRC, [], new Error('fenced'))
    core.claimed(SRC, [0, 1], 'c2', [3n, 2n])
    expect(core.release(SRC, 0, 'c1', new Error('fenced'))).toBe(false)
    expect(core.isFenced(SRC, 0)).toBe(false)
    expect(core.take().map((s) => [s.partition, s.items.length])).toEqual([[1, 5]])
  })
})
