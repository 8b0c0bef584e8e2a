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

function setup(findings: () => Promise<Finding[]>) {
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
})
