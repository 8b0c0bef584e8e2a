import { describe, expect, it } from 'vitest'
import { DeliveryError } from '../alerting/notifiers/notifier.ts'
import { KeyshiftError, StoreError } from '../domain/errors.ts'
import { type BackoffOptions, backoffDelay, isRetriableError, retry, sleep } from './retry.ts'

const exp: BackoffOptions = { baseMs: 100, maxMs: 10_000, factor: 2, jitter: 'full' }
const flat: BackoffOptions = { ...exp, jitter: 'none' }

describe('backoffDelay', () => {
  it.each([
    // attempt, options, random, expected ms
    [0, flat, 0.5, 100],
    [1, flat, 0.5, 200],
    [2, flat, 0.5, 400],
    [6, flat, 0.5, 6_400],
    [7, flat, 0.5, 10_000], // 12_800 capped at maxMs
    [60, flat, 0.5, 10_000], // no overflow
    [0, exp, 0, 0],
    [0, exp, 0.5, 50],
    [3, exp, 0.5, 400], // ceiling 800
    [3, exp, 0.25, 200],
    [0, exp, 0.999_999, 99], // strictly below the ceiling
    [0, exp, 1, 99], // a broken random source still stays below it
    [10, exp, 0.5, 5_000], // ceiling 102_400 capped at 10_000
    [2, { baseMs: 1_000, maxMs: 60_000, factor: 3, jitter: 'full' }, 0.5, 4_500], // ceiling 9_000
    [0, { baseMs: 0, maxMs: 0, factor: 2, jitter: 'full' }, 0.7, 0],
  ] as const)('attempt %d, %o, random %d → %d ms', (attempt, opts, r, want) => {
    expect(backoffDelay(attempt, opts, () => r)).toBe(want)
  })

  it.each([-1, 1.5, Number.NaN])('rejects attempt %d', (attempt) => {
    expect(() => backoffDelay(attempt, exp, () => 0)).toThrow(RangeError)
  })
})

/** A fake clock that sleeping advances; records every delay. */
function fakeTime() {
  let now = 1_000_000
  const sleeps: number[] = []
  return {
    sleeps,
    clock: { now: () => now },
    sleep: async (ms: number) => {
      sleeps.push(ms)
      now += ms
    },
  }
}

const transient = () => new KeyshiftError('KS_TEST', 'try again', { retriable: true })
const permanent = () => new KeyshiftError('KS_TEST', 'do not', { retriable: false })

/** fn that throws the given errors in order, then resolves with 'done'. */
function failing(...errors: unknown[]) {
  let calls = 0
  const fn = async () => {
    const e = errors[calls++]
    if (e !== undefined) throw e
    return 'done'
  }
  return { fn, calls: () => calls }
}

describe('retry', () => {
  it('returns the first success without waiting', async () => {
    const t = fakeTime()
    const f = failing()
    await expect(retry(f.fn, { ...t })).resolves.toBe('done')
    expect(f.calls()).toBe(1)
    expect(t.sleeps).toEqual([])
  })

  it('retries retriable errors with exponential full-jitter delays', async () => {
    const t = fakeTime()
    const f = failing(transient(), transient(), new Error('unclassified'))
    await expect(retry(f.fn, { ...t, ...exp, random: () => 0.5 })).resolves.toBe('done')
    expect(f.calls()).toBe(4)
    expect(t.sleeps).toEqual([50, 100, 200])
  })

  it.each([
    ['retriable: false', permanent()],
    ['StoreError rejected', new StoreError('bad data', { retriable: false })],
    ['TypeError', new TypeError('x is not a function')],
    ['RangeError', new RangeError('out of range')],
    ['ReferenceError', new ReferenceError('y is not defined')],
    ['SyntaxError', new SyntaxError('bad JSON')],
    ['a flagged non-keyshift error', Object.assign(new Error('kafka'), { retriable: false })],
  ])('never retries %s', async (_name, err) => {
    const t = fakeTime()
    const f = failing(err)
    await expect(retry(f.fn, { ...t, retries: 5 })).rejects.toBe(err)
    expect(f.calls()).toBe(1)
    expect(t.sleeps).toEqual([])
  })

  it('rethrows the last error unchanged once the retries are spent', async () => {
    const t = fakeTime()
    const errors = [transient(), transient(), transient(), transient()]
    const f = failing(...errors)
    await expect(retry(f.fn, { ...t, ...flat, retries: 2 })).rejects.toBe(errors[2])
    expect(f.calls()).toBe(3)
    expect(t.sleeps).toEqual([100, 200])
  })

  it('defaults to 5 retries', async () => {
    const t = fakeTime()
    const f = failing(...Array.from({ length: 10 }, transient))
    await expect(retry(f.fn, { ...t, ...flat })).rejects.toBeInstanceOf(KeyshiftError)
    expect(f.calls()).toBe(6)
  })

  it('gives up when the next attempt would start after maxAgeMs', async () => {
    const t = fakeTime()
    const f = failing(...Array.from({ length: 10 }, transient))
    // attempts at 0, 100, 300, 700; the next would start at 1_500 > 1_000
    await expect(retry(f.fn, { ...t, ...flat, maxAgeMs: 1_000 })).rejects.toBeInstanceOf(KeyshiftError)
    expect(f.calls()).toBe(4)
    expect(t.sleeps).toEqual([100, 200, 400])
  })

  it('stops at whichever of retries and maxAgeMs comes first', async () => {
    const t = fakeTime()
    const f = failing(...Array.from({ length: 10 }, transient))
    await expect(retry(f.fn, { ...t, ...flat, maxAgeMs: 60_000, retries: 1 })).rejects.toBeInstanceOf(
      KeyshiftError,
    )
    expect(f.calls()).toBe(2)
  })

  it('waits at least retryAfterMs, capped at maxMs', async () => {
    const t = fakeTime()
    const slow = new DeliveryError('chat', { ok: false, retry: true, retryAfterMs: 5_000, error: 'HTTP 429' })
    const huge = new DeliveryError('chat', {
      ok: false,
      retry: true,
      retryAfterMs: 3_600_000,
      error: 'HTTP 429',
    })
    const f = failing(slow, huge)
    await expect(retry(f.fn, { ...t, ...exp, random: () => 0.5 })).resolves.toBe('done')
    expect(t.sleeps).toEqual([5_000, 10_000])
  })

  it('does not retry a permanent DeliveryError', async () => {
    const t = fakeTime()
    const err = new DeliveryError('ops', { ok: false, retry: false, error: 'HTTP 410' })
    const f = failing(err)
    await expect(retry(f.fn, { ...t })).rejects.toMatchObject({
      code: 'KS_DELIVERY_FAILED',
      retriable: false,
    })
    expect(err.message).toBe('delivery to receiver "ops" failed: HTTP 410')
  })

  it('lets isRetriable narrow but never widen', async () => {
    const t = fakeTime()
    const narrowed = failing(transient())
    await expect(retry(narrowed.fn, { ...t, isRetriable: () => false })).rejects.toBeInstanceOf(KeyshiftError)
    expect(narrowed.calls()).toBe(1)
    const widened = failing(permanent(), new TypeError('bug'))
    await expect(retry(widened.fn, { ...t, isRetriable: () => true })).rejects.toBeInstanceOf(KeyshiftError)
    expect(widened.calls()).toBe(1)
  })

  it('reports each retry', async () => {
    const t = fakeTime()
    const err = transient()
    const events: unknown[] = []
    await retry(failing(err).fn, { ...t, ...flat, onRetry: (e) => events.push(e) })
    expect(events).toEqual([{ retry: 1, delayMs: 100, error: err }])
  })

  it('passes the attempt number to fn', async () => {
    const t = fakeTime()
    const seen: number[] = []
    await retry(
      async (attempt) => {
        seen.push(attempt)
        if (attempt < 2) throw transient()
      },
      { ...t },
    )
    expect(seen).toEqual([0, 1, 2])
  })

  it('stops waiting when the signal aborts, with its reason', async () => {
    const ac = new AbortController()
    const reason = new Error('shutdown')
    const f = failing(transient(), transient())
    setTimeout(() => ac.abort(reason), 20)
    const started = Date.now()
    await expect(
      retry(f.fn, { baseMs: 10_000, maxMs: 10_000, jitter: 'none', signal: ac.signal }),
    ).rejects.toBe(reason)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(f.calls()).toBe(1)
  })

  it('does not call fn when the signal is already aborted', async () => {
    const ac = new AbortController()
    ac.abort(new Error('gone'))
    const f = failing()
    await expect(retry(f.fn, { signal: ac.signal })).rejects.toThrow('gone')
    expect(f.calls()).toBe(0)
  })

  it('refuses nonsensical options', async () => {
    await expect(retry(async () => 1, { factor: 0.5 })).rejects.toThrow(RangeError)
  })
})

describe('isRetriableError', () => {
  it.each([
    [transient(), true],
    [permanent(), false],
    [new Error('plain'), true],
    [new TypeError('bug'), false],
    [Object.assign(new Error('kafkajs'), { retriable: true }), true],
    ['a string', true],
  ])('%o → %s', (err, want) => {
    expect(isRetriableError(err)).toBe(want)
  })
})

describe('sleep', () => {
  it('resolves after the delay and rejects on abort', async () => {
    await expect(sleep(5)).resolves.toBeUndefined()
    const ac = new AbortController()
    const p = sleep(10_000, ac.signal)
    ac.abort(new Error('stop'))
    await expect(p).rejects.toThrow('stop')
  })
})
