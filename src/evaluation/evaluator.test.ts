import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { waitUntil } from '../../test/kit/http-peer.ts'
import { alertingConfigSchema } from '../alerting/config.ts'
import { DeliveryWorker } from '../alerting/delivery.ts'
import { MemoryAlertStore } from '../alerting/memory-store.test-helper.ts'
import type { DeliveryResult, Notifier } from '../alerting/notifiers/notifier.ts'
import { content } from '../alerting/pipeline/fixtures.test-helper.ts'
import { AlertPipeline } from '../alerting/pipeline.ts'
import type { Finding } from '../analysis/findings.ts'
import { keyVersion } from '../analysis/fixtures.ts'
import type { VerdictWithRules } from '../analysis/readiness.ts'
import type { Notification } from '../domain/alert.ts'
import type { Leadership } from '../ingest/kafka/leadership.ts'
import { type EvaluationSources, Evaluator } from './evaluator.ts'

class Recorder implements Notifier {
  readonly kind = 'webhook' as const
  readonly name = 'ops'
  readonly got: Notification[] = []
  async notify(n: Notification): Promise<DeliveryResult> {
    this.got.push(n)
    return { ok: true }
  }
}

class SwitchLeadership implements Leadership {
  readonly kind = 'single' as const
  #leader = false
  #fns = new Set<(l: boolean) => void>()
  isLeader() {
    return this.#leader
  }
  onChange(fn: (l: boolean) => void) {
    this.#fns.add(fn)
    return () => this.#fns.delete(fn)
  }
  set(l: boolean) {
    this.#leader = l
    for (const fn of this.#fns) fn(l)
  }
  async start() {}
  async stop() {}
}

const fad: Finding = { ...content(), type: 'failures_after_deactivation', firstSeen: 0, lastSeen: 0 }
const logger = pino({ level: 'silent' })
const running: Evaluator[] = []
afterEach(async () => {
  for (const e of running.splice(0)) await e.stop()
})

function setup(
  findings: () => Promise<Finding[]>,
  clock?: () => number,
  ingest?: () => { backlog: number; ready: boolean },
  /** Sources that replace the defaults below (readiness, versions, changed keys…). */
  overrides: Partial<EvaluationSources> = {},
) {
  const store = new MemoryAlertStore()
  const cfg = alertingConfigSchema.parse({ default_receivers: ['ops'], group_wait_ms: 50 })
  const ops = new Recorder()
  const pipeline = new AlertPipeline({ config: cfg, store })
  const delivery = new DeliveryWorker({
    store,
    notifiers: new Map([['ops', ops]]),
    maxAgeMs: 60_000,
    retryBaseMs: 10,
    retryMaxMs: 100,
    concurrency: 2,
    instance: 'test',
    logger,
  })
  let calls = 0
  const sources: EvaluationSources = {
    findings: async () => {
      calls++
      return findings()
    },
    readiness: async () => {
      throw new Error('no candidates expected')
    },
    versions: () => [],
    freshness: async () => ({ lagMs: 0, instances: [] }),
    deadLetterCounts: async () => ({ deadLetters: 0, events: 0 }),
    ...overrides,
  }
  const leadership = new SwitchLeadership()
  const evaluator = new Evaluator({
    sources,
    pipeline,
    delivery,
    leadership,
    intervalMs: 60_000,
    selfMonitoring: cfg.self_monitoring,
    logger,
    clock,
    ...(ingest ? { ingest } : {}),
  })
  running.push(evaluator)
  return { store, ops, evaluator, leadership, calls: () => calls }
}

describe('Evaluator', () => {
  it('evaluates only while leading, and delivers once the group falls due', async () => {
    const s = setup(async () => [fad])
    s.evaluator.start()
    s.evaluator.kick()
    await new Promise((r) => setTimeout(r, 50))
    expect(s.calls()).toBe(0)

    const t = Date.now()
    s.leadership.set(true)
    await waitUntil(() => s.ops.got.length === 2, 2_000, 'two notifications')
    expect(Date.now() - t).toBeLessThan(1_000)
    expect(s.ops.got.map((n) => n.kind).sort()).toEqual(['alert.firing', 'rollback.advised'])

    s.leadership.set(false)
    await new Promise((r) => setTimeout(r, 20))
    const before = s.calls()
    s.evaluator.kick()
    await new Promise((r) => setTimeout(r, 50))
    expect(s.calls()).toBe(before)
  })

  it('keeps at most one evaluation in flight and folds kicks into one more', async () => {
    let release: () => void = () => {}
    const s = setup(
      () =>
        new Promise<Finding[]>((resolve) => {
          release = () => resolve([])
        }),
    )
    s.leadership.set(true)
    s.evaluator.start()
    await waitUntil(() => s.calls() === 1, 2_000, 'first evaluation')
    for (let i = 0; i < 20; i++) s.evaluator.kick()
    await new Promise((r) => setTimeout(r, 30))
    expect(s.calls()).toBe(1)
    release()
    await waitUntil(() => s.calls() === 2, 2_000, 'one folded evaluation')
    release()
    await new Promise((r) => setTimeout(r, 300))
    expect(s.calls()).toBe(2)
  })

  it('waits 2× the recent evaluations (median of the last 5) before the next one, but at most 5 s', async () => {
    let now = 1_000_000
    let cost = 1_000 // clock time one evaluation takes
    const s = setup(
      async () => {
        now += cost
        return []
      },
      () => now,
    )
    s.leadership.set(true)
    s.evaluator.start()
    await waitUntil(() => s.calls() === 1, 2_000, 'first evaluation')
    const kickAt = async (t: number) => {
      now = t
      s.evaluator.kick()
      await new Promise((r) => setTimeout(r, 150))
    }
    // It ended at 1 001 000 after 1 s: the next may start 2 s later. A kick
    // before that is deferred (here by a real second), not run.
    await kickAt(1_002_000)
    expect(s.calls()).toBe(1)
    await kickAt(1_003_000)
    expect(s.calls()).toBe(2)
    // One slow round (3 s, ends at 1 013 000) does not stretch the pause: the
    // median of 1, 1 and 3 s is 1 s.
    cost = 3_000
    await kickAt(1_010_000)
    expect(s.calls()).toBe(3)
    await kickAt(1_015_000)
    expect(s.calls()).toBe(4) // ends at 1 018 000; median of 1, 1, 3, 3 s: 1 s
    await kickAt(1_020_000)
    expect(s.calls()).toBe(5) // ends at 1 023 000
    // Rounds that stay slow do: the median is 3 s, twice that 6 s, capped at 5 s.
    await kickAt(1_027_000)
    expect(s.calls()).toBe(5)
    await kickAt(1_028_000)
    expect(s.calls()).toBe(6)
  })

  it('evaluates at most every 30 s while ingest catches up on a backlog of 50 000 records', async () => {
    let now = 1_000_000
    let backlog = 50_000
    let ready = true
    const s = setup(
      async () => {
        now += 10
        return []
      },
      () => now,
      () => ({ backlog, ready }),
    )
    const kickAt = async (t: number) => {
      now = t
      s.evaluator.kick()
      await new Promise((r) => setTimeout(r, 100))
    }
    // Taking over while catching up: the first evaluation waits 30 s (kicks
    // before that are deferred, here by a real second, not run).
    s.leadership.set(true)
    s.evaluator.start()
    await new Promise((r) => setTimeout(r, 100)) // the takeover, at 1 000 000
    await kickAt(1_000_500)
    await kickAt(1_029_000)
    expect(s.calls()).toBe(0)
    await kickAt(1_030_000)
    expect(s.calls()).toBe(1)
    // It ended at 1 030 010: without a backlog the next kick could run 250 ms
    // later; catching up, not before 1 060 010.
    await kickAt(1_031_000)
    await kickAt(1_059_000)
    expect(s.calls()).toBe(1)
    await kickAt(1_060_010)
    expect(s.calls()).toBe(2)
    // One record fewer than the threshold: caught up, kicks evaluate again.
    backlog = 49_999
    await kickAt(1_060_300)
    expect(s.calls()).toBe(3)
    // A source that is not consuming (yet) counts as catching up too...
    ready = false
    await kickAt(1_061_000)
    expect(s.calls()).toBe(3)
    // ...and once it consumes, the next check (within a real second) evaluates
    // without waiting for a flush.
    ready = true
    await new Promise((r) => setTimeout(r, 1_200))
    expect(s.calls()).toBe(4)
  })

  it('counts a failed evaluation and tries again at the next kick', async () => {
    let fail = true
    const s = setup(async () => {
      if (fail) throw new Error('store unavailable')
      return [fad]
    })
    s.leadership.set(true)
    s.evaluator.start()
    await waitUntil(() => s.calls() === 1, 2_000, 'failed evaluation')
    fail = false
    await new Promise((r) => setTimeout(r, 260))
    s.evaluator.kick()
    await waitUntil(() => s.ops.got.length === 2, 2_000, 'notifications after recovery')
  })

  it('reads a readiness verdict again when its key changed, and 5 others in turn; keeps the rest', async () => {
    const keys = ['k0', 'k1', 'k2', 'k3', 'k4', 'k5', 'k6']
    const versions = keys.flatMap((keyId) => [
      keyVersion('v1', { keyId, state: 'deprecated' }),
      keyVersion('v2', { keyId }),
    ])
    let asked: string[] = []
    let changed: ReadonlySet<string> | null = null
    const verdict = (keyId: string): VerdictWithRules => ({
      keyId,
      version: 'v1',
      verdict: 'ready',
      rules: [],
    })
    const e = setup(async () => [], undefined, undefined, {
      readiness: async (keyId) => {
        asked.push(keyId)
        return verdict(keyId)
      },
      versions: () => versions,
      changedKeys: () => changed,
    }).evaluator
    const ready = (obs: Awaited<ReturnType<Evaluator['observe']>>) =>
      obs.filter((o) => o.channel === 'readiness').map((o) => o.alert.keyId)

    // Every key read (the first round): every verdict is read; the turn moves 5 on.
    expect(ready(await e.observe(1_000))).toEqual(keys)
    expect(asked).toEqual(keys)
    // k3 changed: read, with the turn's 5 (k5, k6, k0, k1, k2); k4 keeps its verdict, still observed.
    asked = []
    changed = new Set(['k3'])
    expect(ready(await e.observe(2_000))).toEqual(keys)
    expect(asked).toEqual(['k0', 'k1', 'k2', 'k3', 'k5', 'k6'])
    // Nothing changed: only the turn's 5 (k3, k4, k5, k6, k0).
    asked = []
    changed = new Set()
    await e.observe(3_000)
    expect(asked).toEqual(['k0', 'k3', 'k4', 'k5', 'k6'])
  })

  it('reads the dead-letter counts at most every 30 s (they sum every key of ten minutes)', async () => {
    const asked: number[] = []
    const e = setup(async () => [], undefined, undefined, {
      deadLetterCounts: async (from, to) => {
        asked.push(to - from, to)
        return { deadLetters: 0, events: 0 }
      },
    }).evaluator
    for (const now of [100_000, 110_000, 129_999, 130_000, 131_000]) await e.observe(now)
    // Ten-minute windows ending at 100 000 and 130 000 ms; the rounds between reuse the first.
    expect(asked).toEqual([600_000, 100_000, 600_000, 130_000])
  })
})
