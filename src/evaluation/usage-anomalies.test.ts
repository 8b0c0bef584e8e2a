import { describe, expect, it } from 'vitest'
import type { TimeWindow } from '../analysis/types.ts'
import {
  type SourceSighting,
  type UsageBucket,
  usageAnomalySettingsSchema,
} from '../analysis/usage-anomaly.ts'
import { withPriority } from '../shared/work-priority.ts'
import { UsageAnomalies, UsageInBackground, type UsageSources } from './usage-anomalies.ts'

const MIN = 60_000
const BUCKET = 5 * MIN
const DAY = 86_400_000
const T0 = Date.UTC(2026, 0, 5) // a Monday

/** An in-memory store of our own port: every key has 20 requests per bucket from one address. */
function store(keys: string[]) {
  const reads: { kind: 'buckets' | 'sources'; keys: number; w: TimeWindow }[] = []
  let failSources = false
  const sources: UsageSources = {
    keys: async () => keys,
    freshness: async () => ({ lagMs: 0 }),
    usageBuckets: async (ks, w, bucketMs) => {
      reads.push({ kind: 'buckets', keys: ks.length, w })
      const out = new Map<string, UsageBucket[]>()
      for (const k of ks) {
        const rows: UsageBucket[] = []
        for (let b = w.from; b < w.to; b += bucketMs)
          rows.push({ bucket: b, version: 'v1', requests: 20, failures: 0 })
        out.set(k, rows)
      }
      return out
    },
    sourceSightings: async (ks, w) => {
      reads.push({ kind: 'sources', keys: ks.length, w })
      if (failSources) throw new Error('store down')
      return new Map<string, SourceSighting[]>(
        ks.map((k) => [k, [{ source: '10.0.0.1', first: w.from, last: w.to - MIN }]]),
      )
    },
  }
  return { sources, reads, fail: (v: boolean) => (failSources = v) }
}

const settings = usageAnomalySettingsSchema.parse({})

describe('UsageAnomalies', () => {
  it('reads history ten keys at a time, then each round the last bucket of every key in one read', async () => {
    const keys = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(2, '0')}`)
    const s = store(keys)
    const u = new UsageAnomalies(settings, s.sources)
    // Complete up to 10:00 (settle 1 min): 8 days back, 2 304 buckets a key.
    const now = T0 + 8 * DAY + 10 * 60 * MIN + MIN
    await u.findings(now)
    const end = T0 + 8 * DAY + 10 * 60 * MIN
    expect(s.reads.map((r) => [r.kind, r.keys, (r.w.to - r.w.from) / BUCKET])).toEqual([
      ['buckets', 10, 2304],
      ['sources', 10, 2304],
      ['buckets', 10, 2304],
      ['sources', 10, 2304],
      ['buckets', 5, 2304],
      ['sources', 5, 2304],
    ])
    expect(s.reads[0]!.w.to).toBe(end)
    s.reads.length = 0
    // The next bucket: one read of each kind for all 25 keys, over that bucket only.
    await u.findings(now + BUCKET)
    expect(s.reads.map((r) => [r.kind, r.keys, r.w.from, r.w.to])).toEqual([
      ['buckets', 25, end, end + BUCKET],
      ['sources', 25, end, end + BUCKET],
    ])
  })

  it('warms up new keys over rounds: at least 50 a round, then the next round goes on, not only the next bucket', async () => {
    const keys = Array.from({ length: 120 }, (_, i) => `k${String(i).padStart(3, '0')}`)
    const s = store(keys)
    // A budget of 0 ms: each round takes the minimum, 50 keys (five history reads of ten).
    const u = new UsageAnomalies(settings, s.sources, undefined, 0)
    const now = T0 + 8 * DAY + 10 * 60 * MIN + MIN
    const historyReads = () => s.reads.filter((r) => r.kind === 'buckets').map((r) => r.keys)
    await u.findings(now)
    expect(historyReads()).toEqual([10, 10, 10, 10, 10])
    s.reads.length = 0
    await u.findings(now)
    expect(historyReads()).toEqual([10, 10, 10, 10, 10])
    s.reads.length = 0
    await u.findings(now)
    expect(historyReads()).toEqual([10, 10])
    s.reads.length = 0
    // Every key is watched and fed to this bucket: nothing to read until the next one.
    await u.findings(now)
    expect(s.reads).toEqual([])
    await u.findings(now + BUCKET)
    expect(s.reads.map((r) => [r.kind, r.keys])).toEqual([
      ['buckets', 120],
      ['sources', 120],
    ])
  })

  it("writes the bands of the last day only, not a new key's whole history", async () => {
    const written: number[] = []
    const s = store(['acme'])
    const u = new UsageAnomalies(settings, {
      ...s.sources,
      recordBands: async (points) => {
        written.push(...points.map((p) => p.bucket))
      },
    })
    const now = T0 + 8 * DAY + 10 * 60 * MIN + MIN
    await u.findings(now)
    const end = T0 + 8 * DAY + 10 * 60 * MIN
    expect(written.length).toBeGreaterThan(0)
    expect(Math.min(...written)).toBeGreaterThanOrEqual(end - DAY)
    expect(Math.max(...written)).toBe(end - BUCKET)
  })

  it('feeds nothing when the sightings read fails, and reads the same window again next time', async () => {
    const s = store(['acme'])
    const u = new UsageAnomalies(settings, s.sources)
    const now = T0 + 8 * DAY + MIN
    await u.findings(now)
    s.reads.length = 0
    s.fail(true)
    await expect(u.findings(now + BUCKET)).rejects.toThrow('store down')
    s.fail(false)
    s.reads.length = 0
    await u.findings(now + BUCKET)
    const end = T0 + 8 * DAY
    expect(s.reads.map((r) => [r.kind, r.w.from, r.w.to])).toEqual([
      ['buckets', end, end + BUCKET],
      ['sources', end, end + BUCKET],
    ])
  })

  it('does not read sightings with new_sources disabled', async () => {
    const s = store(['acme'])
    const off = usageAnomalySettingsSchema.parse({ new_sources: { enabled: false } })
    await new UsageAnomalies(off, s.sources).findings(T0 + 8 * DAY + MIN)
    expect(s.reads.map((r) => r.kind)).toEqual(['buckets'])
  })

  it('in the background: answers the last findings at once, updates beside the round, kicks when they change', async () => {
    const finding = (id: string) => ({ id }) as unknown as import('../analysis/findings.ts').Finding
    let release: (f: ReturnType<typeof finding>[]) => void = () => {}
    let fail: (e: Error) => void = () => {}
    let calls = 0
    const usage = {
      findings: () => {
        calls++
        return new Promise<ReturnType<typeof finding>[]>((resolve, reject) => {
          release = resolve
          fail = reject
        })
      },
    }
    let kicks = 0
    const warned: string[] = []
    const logger = { warn: ((_o: unknown, msg: string) => warned.push(msg)) as never }
    const bg = new UsageInBackground(usage, () => kicks++, logger)
    const settle = () => new Promise((r) => setImmediate(r))
    // The first round: nothing computed yet; the update runs beside it.
    expect(bg.latest(1)).toEqual([])
    // A second round while it runs starts no second update.
    expect(bg.latest(2)).toEqual([])
    expect(calls).toBe(1)
    release([finding('a')])
    await settle()
    expect(kicks).toBe(1)
    expect(bg.latest(3)).toEqual([finding('a')])
    expect(calls).toBe(2)
    // The same findings again: no kick.
    release([finding('a')])
    await settle()
    expect(kicks).toBe(1)
    // A failed update keeps the last findings and says so.
    expect(bg.latest(4)).toEqual([finding('a')])
    fail(new Error('store down'))
    await settle()
    expect(warned).toEqual([
      'Updating usage anomalies failed; keeping the last ones, trying again next round.',
    ])
    expect(bg.latest(5)).toEqual([finding('a')])
    expect(calls).toBe(4)
    release([])
    await bg.stop()
    expect(kicks).toBe(2)
    expect(bg.latest(6)).toEqual([])
  })
})

describe('UsageAnomalies beside evaluation rounds', () => {
  it('stops feeding while a round holds the store lane, and goes on when it ends', async () => {
    const keys = Array.from({ length: 3 }, (_, i) => `k${i}`)
    const s = store(keys)
    const u = new UsageAnomalies(settings, s.sources)
    const now = T0 + 8 * DAY + 10 * 60 * MIN + MIN
    let endRound: () => void = () => {}
    const round = withPriority(
      'alert',
      () =>
        new Promise<void>((resolve) => {
          endRound = resolve
        }),
      { hold: true },
    )
    let done = false
    const feeding = u.findings(now).then(() => {
      done = true
    })
    // The first key's history is read and fed; then feeding waits for the round.
    await waitFor(() => s.reads.length >= 2)
    await new Promise((r) => setTimeout(r, 50))
    expect(done).toBe(false)
    expect(s.reads).toHaveLength(2)
    endRound()
    await round
    await feeding
    expect(done).toBe(true)
    expect(s.reads.map((r) => [r.kind, r.keys])).toEqual([
      ['buckets', 3],
      ['sources', 3],
    ])
  })
})

async function waitFor(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 1))
}
