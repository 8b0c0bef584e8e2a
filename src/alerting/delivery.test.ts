import { pino } from 'pino'
import { Registry } from 'prom-client'
import { afterEach, describe, expect, it } from 'vitest'
import { sampleNotification } from '../../test/kit/notifications.ts'
import type { Notification } from '../domain/alert.ts'
import { DeliveryWorker } from './delivery.ts'
import { MemoryAlertStore } from './memory-store.test-helper.ts'
import type { DeliveryResult, Notifier } from './notifiers/notifier.ts'
import type { OutboxEntry } from './pipeline/types.ts'

/** A notifier that answers from a script (the last answer repeats); `hang` waits for the abort signal. */
class ScriptedNotifier implements Notifier {
  readonly kind = 'webhook' as const
  readonly calls: Array<{ id: string; at: number }> = []
  constructor(
    readonly name: string,
    private readonly script: Array<DeliveryResult | 'hang'>,
  ) {}
  async notify(n: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    this.calls.push({ id: n.id, at: Date.now() })
    const answer = this.script[Math.min(this.calls.length - 1, this.script.length - 1)]!
    if (answer !== 'hang') return answer
    return new Promise((resolve) => {
      signal?.addEventListener('abort', () => resolve({ ok: false, retry: true, error: 'aborted' }), {
        once: true,
      })
    })
  }
}

const retriable = (error = 'HTTP 503 from http://127.0.0.1:1/…', retryAfterMs?: number): DeliveryResult =>
  retryAfterMs === undefined
    ? { ok: false, retry: true, error }
    : { ok: false, retry: true, error, retryAfterMs }

function entry(over: Partial<OutboxEntry> = {}): OutboxEntry {
  const now = Date.now()
  const n = sampleNotification({ id: over.id ?? 'ntf_1', createdAt: now })
  return {
    id: n.id,
    receiver: 'ops',
    kind: n.kind,
    groupKey: n.groupKey,
    notification: n,
    createdAt: now,
    state: 'pending',
    attempts: 0,
    nextAttemptAt: now,
    lastError: '',
    firstFailureAt: null,
    updatedAt: now,
    ver: 0,
    ...over,
  }
}

const workers: DeliveryWorker[] = []
function worker(
  store: MemoryAlertStore,
  notifiers: Notifier[],
  over: { maxAgeMs?: number; registry?: Registry } = {},
) {
  const w = new DeliveryWorker({
    store,
    notifiers: new Map(notifiers.map((n) => [n.name, n])),
    maxAgeMs: over.maxAgeMs ?? 60_000,
    retryBaseMs: 20,
    retryMaxMs: 200,
    concurrency: 2,
    instance: 'test',
    random: () => 0.5,
    logger: pino({ level: 'silent' }),
    ...(over.registry ? { registry: over.registry } : {}),
  })
  workers.push(w)
  return w
}

afterEach(async () => {
  for (const w of workers.splice(0)) await w.stop()
})

async function queue(store: MemoryAlertStore, e: OutboxEntry) {
  await store.insertOutbox([e])
  return e
}

describe('DeliveryWorker', () => {
  it('delivers, records the final state with the winning version, and counts it', async () => {
    const store = new MemoryAlertStore()
    const registry = new Registry()
    const ops = new ScriptedNotifier('ops', [{ ok: true }])
    const w = worker(store, [ops], { registry })
    w.start()
    w.enqueue([await queue(store, entry())])
    await w.idle()
    expect(store.outboxRows.get('ntf_1')).toMatchObject({
      state: 'delivered',
      attempts: 1,
      ver: 19,
      lastError: '',
    })
    expect(store.log.map((l) => [l.notificationId, l.attempt, l.outcome, l.error])).toEqual([
      ['ntf_1', 1, 'delivered', ''],
    ])
    expect(await registry.getSingleMetricAsString('keyshift_notifications_sent_total')).toContain(
      'keyshift_notifications_sent_total{receiver="ops",kind="rollback.advised"} 1',
    )
    expect(await registry.getSingleMetricAsString('keyshift_outbox_pending')).toContain(
      'keyshift_outbox_pending 0',
    )
  })

  it('retries with exponential backoff and full jitter, honouring Retry-After', async () => {
    const store = new MemoryAlertStore()
    const ops = new ScriptedNotifier('ops', [
      retriable(),
      retriable(),
      retriable('HTTP 429', 150),
      { ok: true },
    ])
    const w = worker(store, [ops])
    w.start()
    w.enqueue([await queue(store, entry())])
    await w.idle()
    const pending = store.outboxWrites.filter((e) => e.state === 'pending' && e.attempts > 0)
    // random 0.5: half of the ceiling 20, 40, 80 ms; the third is raised to Retry-After (150 ms).
    expect(pending.map((e) => [e.attempts, e.nextAttemptAt - e.updatedAt, e.ver])).toEqual([
      [1, 10, 10],
      [2, 20, 20],
      [3, 150, 30],
    ])
    expect(store.outboxRows.get('ntf_1')).toMatchObject({ state: 'delivered', attempts: 4, ver: 49 })
    expect(store.log.map((l) => l.outcome)).toEqual(['retry', 'retry', 'retry', 'delivered'])
    expect(ops.calls).toHaveLength(4)
  })

  it('gives up on permanent failures and reports the receiver as failing', async () => {
    const store = new MemoryAlertStore()
    const registry = new Registry()
    const ops = new ScriptedNotifier('ops', [
      { ok: false, retry: false, error: 'HTTP 400 from https://x/…: bad' },
    ])
    const w = worker(store, [ops], { registry })
    w.start()
    w.enqueue([await queue(store, entry())])
    await w.idle()
    expect(store.outboxRows.get('ntf_1')).toMatchObject({
      state: 'failed',
      attempts: 1,
      ver: 19,
      lastError: 'HTTP 400 from https://x/…: bad',
    })
    expect(ops.calls).toHaveLength(1)
    expect(await registry.getSingleMetricAsString('keyshift_notification_failures_total')).toContain(
      'keyshift_notification_failures_total{receiver="ops",retriable="false"} 1',
    )
    expect(w.failingReceivers(Date.now(), 600_000)).toMatchObject([
      { receiver: 'ops', notifications: 1, lastError: 'HTTP 400 from https://x/…: bad' },
    ])
  })

  it('expires entries it could not deliver within max_delivery_age_ms', async () => {
    const store = new MemoryAlertStore()
    const w = worker(store, [new ScriptedNotifier('ops', [retriable()])], { maxAgeMs: 100 })
    w.start()
    w.enqueue([await queue(store, entry())])
    await w.idle()
    const final = store.outboxRows.get('ntf_1')!
    expect(final.state).toBe('expired')
    expect(final.nextAttemptAt - final.createdAt).toBeLessThanOrEqual(100)
    expect(store.log.at(-1)!.outcome).toBe('expired')
  })

  it('fails entries for receivers that are not configured any more', async () => {
    const store = new MemoryAlertStore()
    const w = worker(store, [])
    w.start()
    w.enqueue([await queue(store, entry())])
    await w.idle()
    expect(store.outboxRows.get('ntf_1')).toMatchObject({ state: 'failed' })
    expect(store.outboxRows.get('ntf_1')!.lastError).toContain('receiver "ops" is no longer configured')
  })

  it('keeps an entry pending across a stop, and the next worker delivers it', async () => {
    const store = new MemoryAlertStore()
    const hanging = new ScriptedNotifier('ops', ['hang'])
    const first = worker(store, [hanging])
    first.start()
    first.enqueue([await queue(store, entry())])
    while (hanging.calls.length === 0) await new Promise((r) => setTimeout(r, 5))
    await first.stop({ forget: true })
    expect(store.outboxRows.get('ntf_1')).toMatchObject({ state: 'pending', attempts: 1 })

    const ok = new ScriptedNotifier('ops', [{ ok: true }])
    const second = worker(store, [ok])
    second.start()
    expect(await second.load()).toBe(1)
    await second.idle()
    expect(store.outboxRows.get('ntf_1')).toMatchObject({ state: 'delivered', attempts: 2 })
    expect(ok.calls.map((c) => c.id)).toEqual(['ntf_1'])
  })

  it('reports receivers whose pending notifications failed for longer than the threshold', () => {
    const w = worker(new MemoryAlertStore(), [])
    const now = Date.now()
    w.enqueue([
      entry({
        id: 'ntf_old',
        firstFailureAt: now - 700_000,
        lastError: 'HTTP 503',
        nextAttemptAt: now + 60_000,
      }),
      entry({
        id: 'ntf_new',
        firstFailureAt: now - 1_000,
        lastError: 'HTTP 503',
        nextAttemptAt: now + 60_000,
      }),
    ])
    expect(w.failingReceivers(now, 600_000)).toEqual([
      { receiver: 'ops', notifications: 1, since: now - 700_000, lastError: 'HTTP 503' },
    ])
  })
})
