import { describe, expect, it } from 'vitest'
import { openAlert } from '../../test/support/open-alert.ts'
import type { TimeWindow } from '../analysis/types.ts'
import { type KeyVersion, type LifecycleState, newKeyVersion } from '../domain/key-version.ts'
import { paginate } from '../http/pagination.ts'
import type { KeySummary } from '../store/clickhouse/analytics-store.ts'
import type { OpenAlertOfKey } from './key-attention.ts'
import {
  alertsMark,
  buildKeyList,
  KeyListCache,
  type KeyListReads,
  keyListBases,
  keyListHour,
  keyListWindow,
  pageAfter,
  type VersionTotal,
  withShares,
} from './key-list.ts'

const MIN = 60_000
const DAY = 86_400_000
/** 2026-12-07T12:00:00Z, a minute (and hour) boundary. */
const T = Date.UTC(2026, 11, 7, 12, 0, 0)

const v = (keyId: string, version: string, state: LifecycleState): KeyVersion =>
  newKeyVersion(keyId, version, state)

const alert = openAlert

const seen = (keyId: string, requests: number, versions: string[]): KeySummary => ({
  keyId,
  requests,
  failures: 0,
  versions,
  lastSeen: T - MIN,
})

describe('keyListWindow', () => {
  // The rollups are read with the window's start floored to the second; the first minute row
  // counted is the first at or after it. The window names that minute, and ends with the current one.
  it.each([
    ['on a minute boundary', T, T - DAY, T + MIN],
    ['1 ms after it (the same second: the boundary minute still counts)', T + 1, T - DAY, T + MIN],
    ['999 ms after it', T + 999, T - DAY, T + MIN],
    ['1 s after it', T + 1_000, T - DAY + MIN, T + MIN],
    ['59.999 s after it', T + 59_999, T - DAY + MIN, T + MIN],
    ['on the next boundary', T + MIN, T - DAY + MIN, T + 2 * MIN],
  ])('%s', (_name, now, from, to) => {
    expect(keyListWindow(now)).toEqual({ from, to })
  })
})

describe('keyListHour', () => {
  // versionTotals(shareHour(now)) counts the minute rows from the first at or after now − 1 h
  // (floored to the second): the hour read with the list must start at that same minute.
  it('starts at the first minute the 1 h shares count, for any now', () => {
    for (const now of [T, T + 1, T + 999, T + 1_000, T + 30_500, T + 59_999, T + MIN, T + 7 * MIN + 1_001]) {
      const counted = Math.ceil(Math.floor((now - 3_600_000) / 1000) / 60) * MIN
      expect(keyListHour(keyListWindow(now))).toEqual({ from: counted, to: keyListWindow(now).to })
    }
  })
})

describe('keyListBases', () => {
  it('lists keys seen or registered once, by key id, with versions oldest first and attention', () => {
    const registry = [v('beta', 'v2', 'active'), v('beta', 'v1', 'deactivated'), v('gamma', 'v1', 'active')]
    const bases = keyListBases([seen('beta', 7, ['v1', 'v2']), seen('acme', 3, ['v1'])], registry, [
      alert({ key_id: 'gamma', severity: 'info', type: 'usage_anomaly' }),
    ])
    expect(bases.map((b) => [b.keyId, b.requests, b.registered, b.seen, b.attention.level])).toEqual([
      ['acme', 3, false, true, null],
      ['beta', 7, true, true, 'critical'],
      ['gamma', 0, true, false, 'info'],
    ])
    expect(bases[1]!.registryVersions.map((x) => x.version)).toEqual(['v1', 'v2'])
    expect(bases[2]!.attention.reasons).toEqual(['usage anomaly on v1 firing'])
  })
})

describe('pageAfter', () => {
  const built = buildKeyList(
    keyListBases(
      ['a', 'b', 'c', 'd', 'e'].map((k) => seen(k, 1, ['v1'])),
      [v('c', 'v1', 'deactivated'), v('e', 'v1', 'deprecated'), v('e', 'v2', 'active')],
      [alert({ key_id: 'b', severity: 'warning' })],
    ),
  )

  it('orders by attention (critical, warning, info, then the rest, each by key id)', () => {
    expect(built.byAttention.map((x) => x.entry.keyId)).toEqual(['c', 'b', 'e', 'a', 'd'])
    expect(built.byKey.map((x) => x.entry.keyId)).toEqual(['a', 'b', 'c', 'd', 'e'])
    expect(built.attention).toEqual({ critical: 1, warning: 1, info: 1 })
  })

  // Every cursor position, every limit: the same pages paginate() gives over the unsorted entries.
  it('answers the pages paginate() answers, from any cursor', () => {
    for (const sorted of [built.byAttention, built.byKey]) {
      const keys = [undefined, ...sorted.map((x) => x.key), '\u0000', '~']
      for (const after of keys) {
        for (const limit of [1, 2, 3, 5, 6]) {
          const cursor =
            after === undefined ? undefined : Buffer.from(JSON.stringify({ k: after })).toString('base64url')
          const want = paginate(
            [...sorted].reverse(),
            (x) => x.key,
            cursor === undefined ? { limit } : { limit, cursor },
          )
          const got = pageAfter(sorted, after, limit)
          expect(got.items).toEqual(want.items)
          expect(got.more).toBe(want.next_cursor !== null)
        }
      }
    }
  })
})

describe('alertsMark', () => {
  it('changes with what attention reads of firing, unsilenced alerts, and with nothing else', () => {
    const a = [alert({}), alert({ key_id: 'beta', severity: 'critical' })]
    const base = alertsMark(a)
    expect(alertsMark([...a, alert({ status: 'pending' })])).toBe(base)
    expect(alertsMark([...a, alert({ silenced_by: ['sil_1'] })])).toBe(base)
    expect(alertsMark([alert({}), alert({ key_id: 'beta', severity: 'warning' })])).not.toBe(base)
    expect(alertsMark([alert({ type: 'new_version_failing' }), a[1]!])).not.toBe(base)
    expect(alertsMark([alert({ version: 'v2' }), a[1]!])).not.toBe(base)
    expect(alertsMark([a[1]!, a[0]!])).not.toBe(base)
    expect(alertsMark([a[0]!])).not.toBe(base)
  })
})

describe('withShares', () => {
  it('gives keys seen in 24 h their 1 h shares and the others none', () => {
    const hour = { from: T - 60 * MIN, to: T + MIN }
    const [acme, gamma] = keyListBases([seen('acme', 9, ['v1', 'v2'])], [v('gamma', 'v1', 'active')], [])
    const out = withShares(
      [acme!, gamma!],
      new Map([
        [
          'acme',
          [
            { keyId: 'acme', version: 'v1', requests: 1, failures: 1 },
            { keyId: 'acme', version: 'v2', requests: 3, failures: 0 },
          ],
        ],
      ]),
      hour,
    )
    expect(out[0]!.shares1h).toMatchObject({ from: hour.from, to: hour.to, totalRequests: 4 })
    expect(out[0]!.shares1h!.versions.map((x) => [x.version, x.requests, x.share])).toEqual([
      ['v1', 1, 0.25],
      ['v2', 3, 0.75],
    ])
    expect(out[1]!.shares1h).toBeNull()
    expect('seen' in out[0]!).toBe(false)
  })
})

/** The store's side of the key list, in memory: rows are per key, their content and mark set by the test. */
class MemoryReads implements KeyListReads {
  rows: KeySummary[] = []
  mark = 'm1'
  keyReads: TimeWindow[] = []
  /** Resolves the next keys() read when set (to hold a build open). */
  gate: Promise<void> | null = null

  async keys(w: TimeWindow): Promise<KeySummary[]> {
    this.keyReads.push(w)
    if (this.gate) await this.gate
    return this.rows.map((r) => ({ ...r }))
  }
  hourRows: VersionTotal[] = []
  async versionTotals() {
    return this.hourRows.map((r) => ({ ...r }))
  }
  async keysMark() {
    return this.mark
  }
}

class MemoryRegistry {
  list: KeyVersion[] = []
  generation = 0
  versions() {
    return [...this.list]
  }
  set(list: KeyVersion[]) {
    this.list = list
    this.generation++
  }
}

describe('KeyListCache', () => {
  const setup = () => {
    const reads = new MemoryReads()
    const registry = new MemoryRegistry()
    reads.rows = [seen('acme', 5, ['v1']), seen('beta', 2, ['v1'])]
    registry.set([v('acme', 'v1', 'active'), v('beta', 'v1', 'active')])
    return { reads, registry, cache: new KeyListCache(reads, registry) }
  }
  const requests = (list: { byKey: { entry: { keyId: string; requests: number } }[] }) =>
    list.byKey.map((x) => [x.entry.keyId, x.entry.requests])
  const none = Promise.resolve([] as OpenAlertOfKey[])

  it('reads every key once while nothing changes, within the minute', async () => {
    const { reads, cache } = setup()
    const first = await cache.get(T + 1_000, none)
    const again = await cache.get(T + 59_999, none)
    expect(again).toBe(first)
    expect(cache.builds).toBe(1)
    expect(reads.keyReads).toEqual([{ from: T - DAY + MIN, to: T + MIN }])
  })

  it('reads again, with exact totals, when the rollups change (new mark)', async () => {
    const { reads, cache } = setup()
    expect(requests(await cache.get(T + 1_000, none))).toEqual([
      ['acme', 5],
      ['beta', 2],
    ])
    reads.rows = [seen('acme', 6, ['v1']), seen('beta', 2, ['v1']), seen('zeta', 1, ['v9'])]
    // Same mark: the store says nothing changed, so nothing is read.
    expect(requests(await cache.get(T + 2_000, none))).toEqual([
      ['acme', 5],
      ['beta', 2],
    ])
    reads.mark = 'm2'
    expect(requests(await cache.get(T + 3_000, none))).toEqual([
      ['acme', 6],
      ['beta', 2],
      ['zeta', 1],
    ])
    expect(cache.builds).toBe(2)
  })

  it("keeps every key's hour totals with the list, read again with it", async () => {
    const { reads, cache } = setup()
    reads.hourRows = [{ keyId: 'acme', version: 'v1', requests: 2, failures: 0 }]
    expect((await cache.get(T, none)).hourTotals.get('acme')).toEqual(reads.hourRows)
    reads.hourRows = [{ keyId: 'acme', version: 'v1', requests: 3, failures: 1 }]
    reads.mark = 'm2'
    expect((await cache.get(T, none)).hourTotals.get('acme')).toEqual(reads.hourRows)
  })

  it('reads again at the next minute: the 24 h window moved', async () => {
    const { reads, cache } = setup()
    await cache.get(T + 30_000, none)
    reads.rows = [seen('acme', 4, ['v1'])]
    expect(requests(await cache.get(T + MIN, none))).toEqual([
      ['acme', 4],
      ['beta', 0],
    ])
    expect(reads.keyReads).toEqual([
      { from: T - DAY + MIN, to: T + MIN },
      { from: T - DAY + MIN, to: T + 2 * MIN },
    ])
  })

  it('judges attention again when the registry view changes', async () => {
    const { registry, cache } = setup()
    expect((await cache.get(T, none)).attention).toEqual({ critical: 0, warning: 0, info: 0 })
    registry.set([v('acme', 'v1', 'deactivated'), v('acme', 'v2', 'active'), v('beta', 'v1', 'active')])
    const after = await cache.get(T, none)
    expect(after.attention).toEqual({ critical: 1, warning: 0, info: 0 })
    expect(after.byAttention.map((x) => x.entry.keyId)).toEqual(['acme', 'beta'])
  })

  it('judges attention again when an alert fires, is silenced or resolves, and not when one is pending', async () => {
    const { cache } = setup()
    const at = (alerts: OpenAlertOfKey[]) => cache.get(T, Promise.resolve(alerts))
    await at([])
    expect((await at([alert({ key_id: 'beta', status: 'pending' })])).attention.warning).toBe(0)
    expect(cache.builds).toBe(1)
    const firing = await at([alert({ key_id: 'beta' })])
    expect(firing.attention.warning).toBe(1)
    expect(firing.byAttention.map((x) => x.entry.keyId)).toEqual(['beta', 'acme'])
    expect((await at([alert({ key_id: 'beta', silenced_by: ['sil_1'] })])).attention.warning).toBe(0)
    expect((await at([alert({ key_id: 'beta' })])).attention.warning).toBe(1)
    expect((await at([])).attention.warning).toBe(0)
    expect(cache.builds).toBe(5)
  })

  it('shares one build between requests arriving while it runs', async () => {
    const { reads, cache } = setup()
    let open!: () => void
    reads.gate = new Promise((r) => {
      open = r
    })
    const a = cache.get(T, none)
    const b = cache.get(T + 1, none)
    // Both have read the mark (one microtask hop each) before the gate opens.
    await new Promise((r) => setImmediate(r))
    open()
    expect(await a).toBe(await b)
    expect(cache.builds).toBe(1)
  })

  it('keeps nothing from a build that failed: the next request reads again', async () => {
    const { reads, cache } = setup()
    const keys = reads.keys.bind(reads)
    reads.keys = async () => {
      throw new Error('store down')
    }
    await expect(cache.get(T, none)).rejects.toThrow('store down')
    reads.keys = keys
    expect(requests(await cache.get(T, none))).toEqual([
      ['acme', 5],
      ['beta', 2],
    ])
    expect(cache.builds).toBe(2)
  })
})
