// The delivery worker: sends outbox entries through their receiver's notifier.
// Failures the notifier calls retriable are tried again with exponential
// backoff and full jitter (honouring Retry-After) until the entry is older than
// max_delivery_age_ms (then `expired`); permanent failures end as `failed`;
// success as `delivered`. Every attempt is logged in the store and every state
// change is written to the outbox, so delivery resumes after a restart.
import { Counter, Gauge } from 'prom-client'
import { backoffDelay } from '../shared/retry.ts'
import type { DeliveryLogRow } from '../store/clickhouse/alert-store.ts'
import type { Logger } from '../telemetry/logger.ts'
import type { Registry } from '../telemetry/metrics.ts'
import { type Clock, type DeliveryResult, type Notifier, systemClock } from './notifiers/notifier.ts'
import type { OutboxEntry } from './pipeline/types.ts'

/** What the worker reads and writes; `AlertStore` implements it. */
export interface DeliveryStore {
  pendingOutbox(): Promise<OutboxEntry[]>
  updateOutbox(entry: OutboxEntry): Promise<void>
  logDelivery(row: DeliveryLogRow): Promise<void>
}

export interface DeliveryOptions {
  store: DeliveryStore
  notifiers: ReadonlyMap<string, Notifier>
  maxAgeMs: number
  retryBaseMs: number
  retryMaxMs: number
  concurrency: number
  /** Written to the delivery log with each attempt. */
  instance: string
  clock?: Clock
  random?: () => number
  logger: Pick<Logger, 'info' | 'warn' | 'error' | 'debug'>
  registry?: Registry
}

/** A receiver whose notifications keep failing, for the `delivery_failing` alert. */
export interface FailingReceiver {
  receiver: string
  /** Notifications failing for at least the threshold (pending), or given up on within it. */
  notifications: number
  /** Earliest first failure among them. */
  since: number
  lastError: string
}

interface Terminal {
  receiver: string
  at: number
  firstFailureAt: number
  error: string
}

/** Retry of a failed store write of delivery progress. */
const SAVE_RETRY_MS = 5_000

export class DeliveryWorker {
  readonly #o: DeliveryOptions
  readonly #clock: Clock
  readonly #random: () => number
  readonly #pending = new Map<string, OutboxEntry>()
  readonly #inFlight = new Map<string, Promise<void>>()
  /** Progress that could not be written yet; retried. */
  readonly #unsaved = new Map<string, { entry: OutboxEntry; log: DeliveryLogRow }>()
  #terminal: Terminal[] = []
  #timer: NodeJS.Timeout | null = null
  #running = false
  #abort = new AbortController()
  readonly #m: { sent: Counter<'receiver' | 'kind'>; failures: Counter<'receiver' | 'retriable'> } | null

  constructor(opts: DeliveryOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? systemClock
    this.#random = opts.random ?? Math.random
    const r = opts.registry
    if (!r) {
      this.#m = null
      return
    }
    this.#m = {
      sent: new Counter({
        name: 'keyshift_notifications_sent_total',
        help: 'Notifications delivered, by receiver and kind.',
        labelNames: ['receiver', 'kind'],
        registers: [r],
      }),
      failures: new Counter({
        name: 'keyshift_notification_failures_total',
        help: 'Failed delivery attempts, by receiver and whether they will be retried.',
        labelNames: ['receiver', 'retriable'],
        registers: [r],
      }),
    }
    const pending: Gauge = new Gauge({
      name: 'keyshift_outbox_pending',
      help: 'Notifications waiting for (re)delivery on this instance.',
      registers: [r],
      collect: () => pending.set(this.#pending.size),
    })
    const oldest: Gauge = new Gauge({
      name: 'keyshift_outbox_oldest_pending_age_seconds',
      help: 'Age of the oldest notification waiting for delivery; 0 when none waits.',
      registers: [r],
      collect: () => {
        let first = Number.POSITIVE_INFINITY
        for (const e of this.#pending.values()) first = Math.min(first, e.createdAt)
        oldest.set(Number.isFinite(first) ? Math.max(0, this.#clock.now() - first) / 1000 : 0)
      },
    })
  }

  /** Loads pending entries from the store (at start and when this instance becomes leader). */
  async load(): Promise<number> {
    const entries = await this.#o.store.pendingOutbox()
    for (const e of entries)
      if (!this.#inFlight.has(e.id) && !this.#unsaved.has(e.id)) this.#pending.set(e.id, e)
    this.#schedule()
    return entries.length
  }

  /** Hands over entries just written to the outbox; due ones are attempted at once. */
  enqueue(entries: readonly OutboxEntry[]): void {
    for (const e of entries) if (!this.#inFlight.has(e.id)) this.#pending.set(e.id, e)
    this.#schedule()
  }

  start(): void {
    if (this.#running) return
    this.#running = true
    this.#abort = new AbortController()
    this.#schedule()
  }

  /**
   * Stops attempting: in-flight attempts are aborted (they end as retriable and
   * stay pending in the store) and awaited. Pending entries are forgotten when
   * `forget` (leadership lost: the next leader loads them from the store).
   */
  async stop(opts: { forget?: boolean } = {}): Promise<void> {
    this.#running = false
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    this.#abort.abort(new Error('keyshift is stopping delivery'))
    await Promise.allSettled([...this.#inFlight.values()])
    await this.#saveUnsaved()
    if (opts.forget) this.#pending.clear()
  }

  /** Entries waiting for delivery (including those being attempted). */
  pending(): OutboxEntry[] {
    return [...this.#pending.values()]
  }

  /** Resolves when nothing is pending or in flight (tests, one-shot commands). */
  async idle(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (this.#pending.size > 0 || this.#inFlight.size > 0) {
      if (Date.now() > deadline) throw new Error(`deliveries still pending after ${timeoutMs} ms`)
      await new Promise((r) => setTimeout(r, 20))
    }
  }

  /** Receivers with notifications failing for at least `afterMs`, or given up on within the last `afterMs`. */
  failingReceivers(now: number, afterMs: number): FailingReceiver[] {
    this.#terminal = this.#terminal.filter((t) => now - t.at < afterMs)
    const out = new Map<string, FailingReceiver>()
    const add = (receiver: string, since: number, error: string) => {
      const f = out.get(receiver)
      if (!f) out.set(receiver, { receiver, notifications: 1, since, lastError: error })
      else {
        f.notifications++
        if (since < f.since) f.since = since
        f.lastError = error
      }
    }
    for (const e of this.#pending.values()) {
      if (e.firstFailureAt !== null && now - e.firstFailureAt >= afterMs)
        add(e.receiver, e.firstFailureAt, e.lastError)
    }
    for (const t of this.#terminal) add(t.receiver, t.firstFailureAt, t.error)
    return [...out.values()].sort((a, b) => (a.receiver < b.receiver ? -1 : 1))
  }

  #schedule(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    if (!this.#running) return
    const now = this.#clock.now()
    let next = Number.POSITIVE_INFINITY
    const due = [...this.#pending.values()]
      .filter((e) => !this.#inFlight.has(e.id))
      .sort((a, b) => a.nextAttemptAt - b.nextAttemptAt)
    for (const e of due) {
      if (e.nextAttemptAt <= now && this.#inFlight.size < this.#o.concurrency) {
        const p = this.#attempt(e).finally(() => {
          this.#inFlight.delete(e.id)
          this.#schedule()
        })
        this.#inFlight.set(e.id, p)
      } else if (e.nextAttemptAt > now) {
        next = Math.min(next, e.nextAttemptAt)
      }
    }
    if (this.#unsaved.size > 0) next = Math.min(next, now + SAVE_RETRY_MS)
    if (Number.isFinite(next)) {
      this.#timer = setTimeout(
        () => {
          this.#timer = null
          void this.#saveUnsaved().finally(() => this.#schedule())
        },
        Math.min(Math.max(0, next - now), 2_147_000_000),
      )
      this.#timer.unref?.()
    }
  }

  async #attempt(entry: OutboxEntry): Promise<void> {
    const o = this.#o
    const started = this.#clock.now()
    const attempt = entry.attempts + 1
    let result: DeliveryResult
    const notifier = o.notifiers.get(entry.receiver)
    if (started - entry.createdAt > o.maxAgeMs) {
      result = {
        ok: false,
        retry: false,
        error: 'older than max_delivery_age_ms before it could be attempted',
      }
      await this.#finish(entry, { ...entry, state: 'expired' }, result, started)
      return
    }
    if (notifier === undefined) {
      result = {
        ok: false,
        retry: false,
        error: `receiver "${entry.receiver}" is no longer configured; add it back to alerting.receivers to deliver`,
      }
    } else {
      try {
        result = await notifier.notify(entry.notification, this.#abort.signal)
      } catch (err) {
        // Notifiers resolve for every delivery failure; a rejection is a bug.
        o.logger.error(
          { err, receiver: entry.receiver, notificationId: entry.id },
          'A notifier threw; this is a bug.',
        )
        result = { ok: false, retry: false, error: `the ${entry.receiver} notifier failed unexpectedly` }
      }
    }
    const at = this.#clock.now()
    if (result.ok) {
      this.#m?.sent.inc({ receiver: entry.receiver, kind: entry.kind })
      await this.#finish(
        entry,
        { ...entry, state: 'delivered', attempts: attempt, lastError: '' },
        result,
        at,
      )
      return
    }
    this.#m?.failures.inc({ receiver: entry.receiver, retriable: String(result.retry) })
    const failed = {
      ...entry,
      attempts: attempt,
      lastError: result.error,
      firstFailureAt: entry.firstFailureAt ?? at,
    }
    if (!result.retry) {
      await this.#finish(entry, { ...failed, state: 'failed' }, result, at)
      return
    }
    let delay = backoffDelay(
      attempt - 1,
      { baseMs: o.retryBaseMs, maxMs: o.retryMaxMs, factor: 2, jitter: 'full' },
      this.#random,
    )
    if (result.retryAfterMs !== undefined)
      delay = Math.max(delay, Math.min(result.retryAfterMs, o.retryMaxMs))
    const nextAttemptAt = at + delay
    if (nextAttemptAt - entry.createdAt > o.maxAgeMs) {
      await this.#finish(entry, { ...failed, state: 'expired' }, result, at)
      return
    }
    await this.#finish(entry, { ...failed, state: 'pending', nextAttemptAt }, result, at)
  }

  async #finish(before: OutboxEntry, after: OutboxEntry, result: DeliveryResult, at: number): Promise<void> {
    const final = after.state !== 'pending'
    const entry: OutboxEntry = { ...after, updatedAt: at, ver: after.attempts * 10 + (final ? 9 : 0) }
    const error = result.ok ? '' : result.error
    const log: DeliveryLogRow = {
      time: at,
      notificationId: entry.id,
      receiver: entry.receiver,
      kind: entry.kind,
      attempt: entry.attempts,
      outcome: result.ok
        ? 'delivered'
        : entry.state === 'pending'
          ? 'retry'
          : (entry.state as 'failed' | 'expired'),
      error,
      instance: this.#o.instance,
    }
    if (final) this.#pending.delete(entry.id)
    else this.#pending.set(entry.id, entry)
    const fields = {
      receiver: entry.receiver,
      notificationId: entry.id,
      kind: entry.kind,
      attempts: entry.attempts,
    }
    if (entry.state === 'delivered') {
      this.#o.logger.debug(fields, 'Delivered a notification.')
    } else if (entry.state === 'pending') {
      this.#o.logger.warn(
        { ...fields, retryInMs: entry.nextAttemptAt - at, error },
        'A notification delivery failed; it will be retried.',
      )
    } else {
      this.#terminal.push({ receiver: entry.receiver, at, firstFailureAt: entry.firstFailureAt ?? at, error })
      this.#o.logger.error(
        { ...fields, state: entry.state, ageMs: at - before.createdAt, error },
        entry.state === 'expired'
          ? 'A notification could not be delivered within max_delivery_age_ms; giving up.'
          : 'A notification was refused permanently by its receiver; it will not be retried.',
      )
    }
    await this.#save(entry, log)
  }

  async #save(entry: OutboxEntry, log: DeliveryLogRow): Promise<void> {
    try {
      await this.#o.store.updateOutbox(entry)
      await this.#o.store.logDelivery(log)
      this.#unsaved.delete(entry.id)
    } catch (err) {
      this.#unsaved.set(entry.id, { entry, log })
      this.#o.logger.warn(
        { err: (err as Error).message, notificationId: entry.id },
        'Recording delivery progress failed; retrying. A restart before it succeeds repeats the delivery with the same id.',
      )
    }
  }

  async #saveUnsaved(): Promise<void> {
    for (const { entry, log } of [...this.#unsaved.values()]) {
      const newer = this.#unsaved.get(entry.id)
      if (newer?.entry !== entry) continue
      await this.#save(entry, log)
    }
  }
}
