import { describe, expect, it } from 'vitest'
import { DEFAULT_FINDING_SETTINGS, type Finding } from '../analysis/findings.ts'
import { DAY_MS, MINUTE_MS } from '../analysis/types.ts'
import { newestActiveVersion, versionsOfKey } from '../analysis/versions.ts'
import { alertId } from '../domain/alert.ts'
import { UNKNOWN_KEY } from '../domain/auth-event.ts'
import { type KeyVersion, newKeyVersion } from '../domain/key-version.ts'
import { IncrementalFindings, type IncrementalSources } from './incremental-findings.ts'
import type { KeyTouch } from './round-plan.ts'

// An in-memory double of the store and of two detectors that follow the rules
// round-plan.ts relies on: a finding per key with a rejection in the last
// 15 minutes, and one per key used on a version other than its newest active
// one in the last day.
interface Ev {
  keyId: string
  version: string
  failed: boolean
  time: number
}

const T0 = Date.UTC(2026, 11, 7, 12, 0, 0)

class World implements IncrementalSources {
  events: Ev[] = []
  touches: KeyTouch[] = []
  registry: KeyVersion[] = []
  /** Keys passed to keyFindings, per call. */
  reads: string[][] = []
  #n = 0

  store(at: number, evs: Ev[]): void {
    this.events.push(...evs)
    const byKey = new Map<string, Ev[]>()
    for (const e of evs) byKey.set(e.keyId, [...(byKey.get(e.keyId) ?? []), e])
    for (const [keyId, es] of byKey) {
      this.touches.push({
        at,
        keyId,
        failures: es.filter((e) => e.failed).length,
        versions: [...new Set(es.map((e) => e.version))],
        id: `t${this.#n++}`,
      })
    }
  }

  async keys(now: number) {
    const seen = this.events.filter((e) => e.time >= now - DAY_MS && e.time < now).map((e) => e.keyId)
    return [...new Set([...seen, ...this.registry.map((v) => v.keyId)])]
      .filter((k) => k !== UNKNOWN_KEY)
      .sort()
  }

  async keyFindings(keyIds: readonly string[], now: number) {
    this.reads.push([...keyIds])
    return keyIds.flatMap((k) => findingsOf(this.events, this.registry, k, now))
  }

  otherReads = 0
  async otherFindings(now: number) {
    this.otherReads++
    return surgesOf(this.events, now)
  }

  async touchesSince(from: number, limit: number) {
    return this.touches.filter((t) => t.at >= from).slice(0, limit)
  }

  async latestTouch() {
    return this.touches.length > 0 ? Math.max(...this.touches.map((t) => t.at)) : null
  }

  versions() {
    return this.registry
  }
}

function f(type: Finding['type'], keyId: string, version: string, lastSeen: number): Finding {
  const x = {
    type,
    severity: 'warning' as const,
    keyId,
    version,
    scope: '*',
    labels: {},
    title: type,
    summary: '',
    evidence: {},
    firstSeen: lastSeen,
    lastSeen,
  }
  return { id: alertId(x), ...x }
}

function findingsOf(events: Ev[], registry: KeyVersion[], keyId: string, now: number): Finding[] {
  const own = events.filter((e) => e.keyId === keyId && e.time < now)
  const out: Finding[] = []
  const failed = own.filter((e) => e.failed && e.time >= now - 15 * MINUTE_MS)
  if (failed.length > 0) out.push(f('failure_spike', keyId, '', Math.max(...failed.map((e) => e.time))))
  const vs = versionsOfKey(registry, keyId)
  if (vs.length > 0) {
    const newest = newestActiveVersion(vs, keyId)?.version
    const old = own.filter((e) => e.version !== newest && e.time >= now - DAY_MS)
    for (const v of [...new Set(old.map((e) => e.version))].sort()) {
      out.push(
        f('possible_leak', keyId, v, Math.max(...old.filter((e) => e.version === v).map((e) => e.time))),
      )
    }
  }
  return out
}

/** An unknown_key_surge while rejections without a known key are in the last 15 minutes. */
function surgesOf(events: Ev[], now: number): Finding[] {
  const hits = events.filter(
    (e) => e.keyId === UNKNOWN_KEY && e.failed && e.time >= now - 15 * MINUTE_MS && e.time < now,
  )
  return hits.length > 0 ? [f('unknown_key_surge', '', '', Math.max(...hits.map((e) => e.time)))] : []
}

const ids = (fs: readonly Finding[]) => fs.map((x) => `${x.id}@${x.lastSeen}`).sort()
const options = { settings: DEFAULT_FINDING_SETTINGS, touchVersionsMax: 32, sweepPeriodMs: 10 * 60_000 }

function world(keys: number): World {
  const w = new World()
  for (let i = 0; i < keys; i++)
    w.registry.push(newKeyVersion(`k${String(i).padStart(3, '0')}`, 'v2', 'active'))
  w.store(
    T0 - MINUTE_MS,
    w.registry.map((v) => ({ keyId: v.keyId, version: 'v2', failed: false, time: T0 - 2 * MINUTE_MS })),
  )
  return w
}

describe('IncrementalFindings', () => {
  it('reads every key once, then only keys whose stored events matter, plus the sweep', async () => {
    const w = world(600)
    const inc = new IncrementalFindings(w, options)
    expect(await inc.findings(T0)).toEqual([])
    expect(inc.lastRound).toEqual({ keysTouched: 600, keysTotal: 600, full: true })

    // 1 s later: successes on every key's newest version, and rejections on k007.
    w.store(T0 + 500, [
      ...w.registry.map((v) => ({ keyId: v.keyId, version: 'v2', failed: false, time: T0 + 400 })),
      { keyId: 'k007', version: 'v2', failed: true, time: T0 + 400 },
    ])
    w.reads = []
    const got = await inc.findings(T0 + 1_000)
    expect(ids(got)).toEqual([`failure_spike:k007:v2:*@${T0 + 400}`.replace(':v2:', '::')])
    // k007 (touched by a rejection) and the sweep: ceil(600 × 1 s / 600 s) = 1 key, k000.
    expect(w.reads).toEqual([['k000', 'k007']])
    expect(inc.lastRound).toEqual({ keysTouched: 2, keysTotal: 600, full: false })
    expect([...(inc.evaluatedKeys ?? [])]).toEqual(['k000', 'k007'])
  })

  it('equals a full evaluation at the same now through failures, retired versions, registry changes and windows sliding', async () => {
    const w = world(40)
    // A sweep so slow it reads one key a round: the result must not lean on it.
    const inc = new IncrementalFindings(w, { ...options, sweepPeriodMs: 365 * DAY_MS })
    await inc.findings(T0)
    const steps: { at: number; act: () => void }[] = [
      {
        at: T0 + 1_000,
        act: () => w.store(T0 + 900, [{ keyId: 'k003', version: 'v2', failed: true, time: T0 + 800 }]),
      },
      {
        at: T0 + 2_000,
        act: () => {
          // k010 rotates: v2 deprecated, v3 active; its v2 traffic now matters.
          w.registry = [
            ...w.registry.filter((v) => v.keyId !== 'k010'),
            { ...newKeyVersion('k010', 'v2', 'deprecated') },
            newKeyVersion('k010', 'v3', 'active'),
          ]
        },
      },
      {
        at: T0 + 3_000,
        act: () => w.store(T0 + 2_900, [{ keyId: 'k010', version: 'v3', failed: false, time: T0 + 2_800 }]),
      },
      // A late event (an hour old) with an unknown version on k020.
      {
        at: T0 + 4_000,
        act: () =>
          w.store(T0 + 3_900, [{ keyId: 'k020', version: 'v9', failed: false, time: T0 - 60 * MINUTE_MS }]),
      },
      // A new unregistered key, failing; and failures with no identified key (not any key's findings).
      {
        at: T0 + 5_000,
        act: () =>
          w.store(T0 + 4_900, [
            { keyId: 'zz', version: 'v1', failed: true, time: T0 + 4_000 },
            { keyId: UNKNOWN_KEY, version: 'v1', failed: true, time: T0 + 4_000 },
          ]),
      },
      // 16 minutes on: the rejections have left the 15-minute window, nothing new stored.
      { at: T0 + 16 * MINUTE_MS + 5_000, act: () => {} },
      // A day on: the late event has left the day too.
      { at: T0 + DAY_MS, act: () => {} },
    ]
    for (const step of steps) {
      step.act()
      const incremental = await inc.findings(step.at)
      const full = [
        ...(await w.keys(step.at)).flatMap((k) => findingsOf(w.events, w.registry, k, step.at)),
        ...surgesOf(w.events, step.at),
      ]
      expect(ids(incremental), `at +${step.at - T0} ms`).toEqual(ids(full))
    }
    // The checks above are not vacuous: the early steps held findings.
    expect(w.reads.length).toBe(steps.length + 1)
  })

  it('rebuilds from the store after reset (a leadership change) and reads nothing twice', async () => {
    const w = world(50)
    const first = new IncrementalFindings(w, options)
    await first.findings(T0)
    w.store(T0 + 500, [{ keyId: 'k001', version: 'v2', failed: true, time: T0 + 400 }])
    const before = await first.findings(T0 + 1_000)

    // A new leader (or this one after a reset) starts from the store alone.
    const second = new IncrementalFindings(w, options)
    expect(ids(await second.findings(T0 + 1_000))).toEqual(ids(before))
    first.reset()
    expect(ids(await first.findings(T0 + 1_000))).toEqual(ids(before))
    expect(first.lastRound?.full).toBe(true)

    // The touch read before the reset is not acted on again after the rebuild.
    w.reads = []
    await first.findings(T0 + 1_100)
    expect(w.reads).toEqual([['k000', 'k001']]) // the sweep's one key and k001's open finding
  })

  it('changes nothing when a read fails, and does the same work on the next round', async () => {
    const w = world(5)
    const inc = new IncrementalFindings(w, options)
    await inc.findings(T0)
    w.store(T0 + 500, [{ keyId: 'k002', version: 'v2', failed: true, time: T0 + 400 }])
    const keyFindings = w.keyFindings.bind(w)
    w.keyFindings = async () => {
      throw new Error('store down')
    }
    await expect(inc.findings(T0 + 1_000)).rejects.toThrow('store down')
    w.keyFindings = keyFindings
    w.reads = []
    expect(ids(await inc.findings(T0 + 2_000))).toEqual([`failure_spike:k002::*@${T0 + 400}`])
    expect(w.reads).toEqual([['k000', 'k002']])
  })

  it('reads findings not about one key only when such failures arrive, while one is open, and every minute', async () => {
    const w = world(5)
    const inc = new IncrementalFindings(w, options)
    await inc.findings(T0)
    expect(w.otherReads).toBe(1)
    await inc.findings(T0 + 1_000) // nothing stored: kept
    w.store(T0 + 1_500, [{ keyId: 'k001', version: 'v2', failed: true, time: T0 + 1_400 }])
    await inc.findings(T0 + 2_000) // a known key's rejection: kept
    expect(w.otherReads).toBe(1)
    w.store(T0 + 2_500, [{ keyId: UNKNOWN_KEY, version: 'v1', failed: true, time: T0 + 2_400 }])
    expect(ids(await inc.findings(T0 + 3_000))).toContain(`unknown_key_surge:::*@${T0 + 2_400}`)
    expect(w.otherReads).toBe(2)
    await inc.findings(T0 + 4_000) // open: read again as its window slides
    expect(w.otherReads).toBe(3)
    expect(ids(await inc.findings(T0 + 16 * MINUTE_MS))).toEqual([]) // it closed
    expect(w.otherReads).toBe(4)
    await inc.findings(T0 + 16 * MINUTE_MS + 1_000) // closed and nothing new: kept
    expect(w.otherReads).toBe(4)
    await inc.findings(T0 + 17 * MINUTE_MS + 1_000) // a minute on: read anyway
    expect(w.otherReads).toBe(5)
  })

  it('sweeps at most maxSweepPerRound keys a round', async () => {
    const w = world(100)
    const inc = new IncrementalFindings(w, { ...options, sweepPeriodMs: 60_000, maxSweepPerRound: 7 })
    await inc.findings(T0)
    w.reads = []
    await inc.findings(T0 + 30_000) // 50 keys due by time, 7 read
    expect(w.reads).toEqual([['k000', 'k001', 'k002', 'k003', 'k004', 'k005', 'k006']])
  })

  it('reads the sweep ahead between rounds, and reads a key again in the round when that found something', async () => {
    const w = world(600)
    const inc = new IncrementalFindings(w, { ...options, sweepAhead: true })
    const settle = () => new Promise((r) => setImmediate(r))
    await inc.findings(T0)
    await settle()
    // After the full read, the sweep's next key is read ahead (at least one key).
    expect(w.reads.slice(1)).toEqual([['k000']])

    // A rejection on k001 whose touch never came (the sweep is the safety net), and a touched one on k007.
    w.events.push({ keyId: 'k001', version: 'v2', failed: true, time: T0 + 300 })
    w.store(T0 + 500, [{ keyId: 'k007', version: 'v2', failed: true, time: T0 + 400 }])
    w.reads = []
    let got = await inc.findings(T0 + 1_000)
    await settle()
    // The round reads only k007; k000's read ahead (nothing) is taken; k001 is read ahead next.
    expect(w.reads).toEqual([['k007'], ['k001']])
    expect(ids(got)).toEqual([`failure_spike:k007::*@${T0 + 400}`])
    expect([...(inc.evaluatedKeys ?? [])].sort()).toEqual(['k000', 'k007'])
    expect(inc.lastRound).toEqual({ keysTouched: 1, keysTotal: 600, full: false })

    w.reads = []
    got = await inc.findings(T0 + 2_000)
    await settle()
    // The read ahead found k001's rejection: the round reads k001 at its own time, with k007's open finding.
    expect(w.reads).toEqual([['k001', 'k007'], ['k002']])
    expect(ids(got)).toEqual([`failure_spike:k001::*@${T0 + 300}`, `failure_spike:k007::*@${T0 + 400}`])
  })

  it('drops a sweep read ahead that is too old and reads its keys ahead again', async () => {
    const w = world(600)
    const inc = new IncrementalFindings(w, { ...options, sweepAhead: true, sweepAheadMaxAgeMs: 30_000 })
    const settle = () => new Promise((r) => setImmediate(r))
    await inc.findings(T0)
    await settle()
    w.reads = []
    await inc.findings(T0 + 60_000)
    await settle()
    // k000 read at T0 is a minute old: not taken. The next read ahead starts at k000 again
    // and covers the minute: 600 keys × 60 s / 600 s = 60, at most 25 a round.
    const next = Array.from({ length: 25 }, (_, i) => `k${String(i).padStart(3, '0')}`)
    expect(w.reads).toEqual([[], next])
    expect([...(inc.evaluatedKeys ?? [])]).toEqual([])
  })
})
