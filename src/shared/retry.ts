// The one retry helper: exponential backoff with full jitter, bounded by a
// number of retries and/or an age. It acts on what the I/O edge decided: an
// error whose `retriable` flag is false, or a programmer error (TypeError,
// RangeError, …), is never retried. Clock, sleep and randomness are injectable.

export interface BackoffOptions {
  /** Ceiling of the first delay, in milliseconds. */
  baseMs: number
  /** Upper bound of any delay, in milliseconds. */
  maxMs: number
  /** Growth of the ceiling per attempt. */
  factor: number
  /** `full`: uniform in [0, ceiling) (AWS "full jitter"); `none`: the ceiling itself. */
  jitter: 'full' | 'none'
}

export const DEFAULT_BACKOFF: Readonly<BackoffOptions> = Object.freeze({
  baseMs: 200,
  maxMs: 30_000,
  factor: 2,
  jitter: 'full',
})

/** Retries when neither `retries` nor `maxAgeMs` is given. */
export const DEFAULT_RETRIES = 5

/**
 * Delay in milliseconds before retry number `attempt + 1` (`attempt` 0 is the
 * delay after the first failure): `min(maxMs, baseMs * factor^attempt)`, then
 * full jitter draws uniformly below that ceiling. `random` returns [0, 1).
 */
export function backoffDelay(
  attempt: number,
  opts: BackoffOptions = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  if (!Number.isInteger(attempt) || attempt < 0) {
    throw new RangeError(`attempt must be a non-negative integer, got ${attempt}`)
  }
  const ceiling = Math.max(0, Math.min(opts.maxMs, opts.baseMs * opts.factor ** attempt))
  if (opts.jitter === 'none') return Math.round(ceiling)
  const r = Math.min(Math.max(random(), 0), 1)
  return Math.min(Math.floor(r * ceiling), Math.max(0, Math.ceil(ceiling) - 1))
}

const PROGRAMMER_ERRORS = [TypeError, RangeError, ReferenceError, SyntaxError, EvalError, URIError]

/** Bugs, not conditions: retrying them only repeats the bug. */
export function isProgrammerError(err: unknown): boolean {
  return PROGRAMMER_ERRORS.some((cls) => err instanceof cls)
}

/** The `retriable` flag of an error (KeyshiftError, kafkajs errors), if it has one. */
function retriableFlag(err: unknown): boolean | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const r = (err as { retriable?: unknown }).retriable
  return typeof r === 'boolean' ? r : undefined
}

/**
 * Default policy: follow the `retriable` flag when the error has one; retry other
 * errors (a failure we cannot classify is assumed transient); never retry programmer errors.
 */
export function isRetriableError(err: unknown): boolean {
  if (isProgrammerError(err)) return false
  return retriableFlag(err) ?? true
}

/** `retryAfterMs` carried by an error (e.g. a DeliveryError from a 429 with Retry-After). */
function retryAfterOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const v = (err as { retryAfterMs?: unknown }).retryAfterMs
  return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined
}

/** Sleeps `ms`; rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal?.reason)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

export interface RetryEvent {
  /** Number of the retry about to happen (1 for the first retry). */
  retry: number
  delayMs: number
  error: unknown
}

export interface RetryOptions extends Partial<BackoffOptions> {
  /** Retries after the first attempt (so at most `retries + 1` calls). Default 5 when `maxAgeMs` is unset too. */
  retries?: number
  /** Gives up when the next attempt would start more than this many ms after the first one began. */
  maxAgeMs?: number
  /** Aborts waiting and stops retrying; the helper then rejects with the signal's reason. */
  signal?: AbortSignal
  clock?: { now(): number }
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  random?: () => number
  /**
   * Narrows which errors are retried (default `isRetriableError`). It cannot widen:
   * `retriable: false` errors and programmer errors are never retried.
   */
  isRetriable?: (err: unknown) => boolean
  /** Called before each wait, for logs and metrics. */
  onRetry?: (e: RetryEvent) => void
}

/**
 * Calls `fn` until it resolves, the error is not retriable, or the budget is
 * spent; then rejects with the last error unchanged. A `retryAfterMs` on the
 * error raises the delay to at least that (capped at `maxMs`).
 */
export async function retry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const backoff: BackoffOptions = {
    baseMs: opts.baseMs ?? DEFAULT_BACKOFF.baseMs,
    maxMs: opts.maxMs ?? DEFAULT_BACKOFF.maxMs,
    factor: opts.factor ?? DEFAULT_BACKOFF.factor,
    jitter: opts.jitter ?? DEFAULT_BACKOFF.jitter,
  }
  if (backoff.baseMs < 0 || backoff.maxMs < 0 || backoff.factor < 1) {
    throw new RangeError('baseMs and maxMs must be >= 0 and factor >= 1')
  }
  const retries = opts.retries ?? (opts.maxAgeMs === undefined ? DEFAULT_RETRIES : Number.POSITIVE_INFINITY)
  const clock = opts.clock ?? { now: () => Date.now() }
  const wait = opts.sleep ?? sleep
  const random = opts.random ?? Math.random
  const narrow = opts.isRetriable ?? isRetriableError
  const signal = opts.signal
  const started = clock.now()

  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted()
    try {
      return await fn(attempt)
    } catch (err) {
      if (signal?.aborted) throw err
      const retriable = !isProgrammerError(err) && retriableFlag(err) !== false && narrow(err)
      if (!retriable || attempt >= retries) throw err
      let delayMs = backoffDelay(attempt, backoff, random)
      const retryAfter = retryAfterOf(err)
      if (retryAfter !== undefined) delayMs = Math.max(delayMs, Math.min(retryAfter, backoff.maxMs))
      if (opts.maxAgeMs !== undefined && clock.now() + delayMs - started > opts.maxAgeMs) throw err
      opts.onRetry?.({ retry: attempt + 1, delayMs, error: err })
      await wait(delayMs, signal)
    }
  }
}
