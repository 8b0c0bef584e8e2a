// The notifier contract: one method that delivers one notification and says
// whether a failure is worth retrying. Each notifier classifies its own
// failures here at the I/O edge; the shared retry helper acts on the answer.
// Error texts are built to be logged and shown: they never carry secrets.

import type { Notification } from '../../domain/alert.ts'
import { KeyshiftError } from '../../domain/errors.ts'

export type NotifierKind = 'webhook' | 'slack' | 'email'

/**
 * Outcome of one delivery attempt. `error` is safe to log and to show: it never
 * contains a webhook URL's path or query, a signing secret, or an SMTP password.
 */
export type DeliveryResult =
  | { ok: true }
  | { ok: false; retry: boolean; retryAfterMs?: number; error: string }

export interface Notifier {
  /** The receiver name from the configuration. */
  readonly name: string
  readonly kind: NotifierKind
  /**
   * Makes one delivery attempt. Resolves with the outcome for every network,
   * protocol or peer failure; rejects only on programmer errors. An aborted
   * `signal` ends the attempt with `retry: true`.
   */
  notify(n: Notification, signal?: AbortSignal): Promise<DeliveryResult>
}

/** Epoch-millisecond clock, injected so tests control time. */
export interface Clock {
  now(): number
}

export const systemClock: Clock = { now: () => Date.now() }

/** The part of a pino logger notifiers use. */
export interface NotifierLogger {
  debug(obj: Record<string, unknown>, msg: string): void
  warn(obj: Record<string, unknown>, msg: string): void
}

export interface NotifierDeps {
  fetch?: typeof fetch
  clock?: Clock
  logger?: NotifierLogger
  /** CloudEvents `source` of webhook deliveries; default `keyshift`. Use `keyshift/<cluster>`, the same on every instance. */
  source?: string
}

/**
 * A failed delivery as an error, for the shared retry helper: it reads
 * `retriable` and `retryAfterMs`.
 */
export class DeliveryError extends KeyshiftError {
  readonly retryAfterMs: number | undefined
  readonly receiver: string
  constructor(receiver: string, result: Extract<DeliveryResult, { ok: false }>) {
    super('KS_DELIVERY_FAILED', `delivery to receiver "${receiver}" failed: ${result.error}`, {
      retriable: result.retry,
    })
    this.receiver = receiver
    this.retryAfterMs = result.retryAfterMs
  }
}

/** Statuses that say "try again later"; every other non-2xx status is permanent. */
const RETRIABLE_STATUSES = new Set([408, 425, 429])

export function isRetriableStatus(status: number): boolean {
  return RETRIABLE_STATUSES.has(status) || (status >= 500 && status <= 599)
}

/**
 * Parses a `Retry-After` value (delay-seconds or an HTTP-date) into milliseconds
 * from `nowMs`. Returns undefined when absent or unparseable; never negative.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined
  const v = value.trim()
  if (v === '') return undefined
  if (/^\d+$/.test(v)) return Number.parseInt(v, 10) * 1000
  // Every HTTP-date form (IMF-fixdate, RFC 850, asctime) starts with a day name.
  if (!/^[A-Za-z]{3,9},? /.test(v)) return undefined
  const at = Date.parse(v)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - nowMs)
}

/**
 * Classifies an HTTP answer: 2xx ok; 408, 425, 429 and 5xx retry (honouring
 * Retry-After); every other status (4xx, unexpected 1xx/3xx) is permanent.
 * `where` (a display URL) and `detail` (a redacted excerpt of the answer) go into the error text.
 */
export function classifyHttpStatus(
  status: number,
  retryAfterHeader: string | null,
  nowMs: number,
  ctx: { where?: string; detail?: string } = {},
): DeliveryResult {
  if (status >= 200 && status <= 299) return { ok: true }
  const retry = isRetriableStatus(status)
  const retryAfterMs = retry ? parseRetryAfter(retryAfterHeader, nowMs) : undefined
  const from = ctx.where === undefined ? '' : ` from ${ctx.where}`
  const wait = retryAfterMs === undefined ? '' : ` (retry after ${retryAfterMs} ms)`
  const hint = status >= 300 && status <= 399 ? ' (redirects are not followed; configure the final URL)' : ''
  const detail = ctx.detail === undefined || ctx.detail === '' ? '' : `: ${ctx.detail}`
  const error = `HTTP ${status}${from}${wait}${hint}${detail}`
  return retryAfterMs === undefined ? { ok: false, retry, error } : { ok: false, retry, retryAfterMs, error }
}

/** Error codes of network failures that are worth retrying. */
const TRANSIENT_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

/** The innermost `code` of an error chain (fetch wraps socket errors in `cause`). */
export function errorCode(err: unknown): string | undefined {
  let e: unknown = err
  let code: string | undefined
  for (let depth = 0; depth < 5 && e !== null && typeof e === 'object'; depth++) {
    const c = (e as { code?: unknown }).code
    if (typeof c === 'string') code = c
    e = (e as { cause?: unknown }).cause
  }
  return code
}

/**
 * Classifies a failed request that got no HTTP answer. Network errors and
 * timeouts retry; anything else (a TLS certificate the peer will keep presenting,
 * a malformed URL) is permanent. The text names the error code only, never the
 * URL or message of the underlying error, which may echo it.
 */
export function classifyRequestError(
  err: unknown,
  ctx: { timedOut: boolean; aborted: boolean; timeoutMs: number; where?: string },
): Extract<DeliveryResult, { ok: false }> {
  const to = ctx.where === undefined ? '' : ` ${ctx.where}`
  if (ctx.timedOut)
    return { ok: false, retry: true, error: `no answer from${to} within ${ctx.timeoutMs} ms (timeout)` }
  if (ctx.aborted)
    return { ok: false, retry: true, error: `delivery to${to} aborted before an answer arrived` }
  const code = errorCode(err)
  if (code !== undefined && TRANSIENT_NETWORK_CODES.has(code)) {
    return { ok: false, retry: true, error: `network error ${code} reaching${to}` }
  }
  if (code !== undefined && /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/i.test(code)) {
    return {
      ok: false,
      retry: false,
      error: `TLS error ${code} reaching${to}: fix the receiver's certificate or the trust store`,
    }
  }
  // Unknown transport failures are treated as transient: dropping an alert on a
  // failure we cannot name is worse than one more attempt.
  return { ok: false, retry: true, error: `request to${to} failed${code === undefined ? '' : ` (${code})`}` }
}

/**
 * Removes every occurrence of each secret (and its URL-encoded form) from `text`.
 * A last line of defence: error texts are built without secrets in the first place.
 */
export function redact(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of secrets) {
    if (s.length < 4) continue
    for (const form of new Set([s, encodeURIComponent(s), encodeURI(s)]))
      out = out.split(form).join('[redacted]')
  }
  return out
}

/**
 * A URL as it may appear in errors and logs: scheme, host and port only; any
 * path, query or credentials (where webhook tokens live) become `/…`.
 */
export function displayUrl(url: string | URL): string {
  try {
    const u = typeof url === 'string' ? new URL(url) : url
    const hasMore = u.pathname !== '/' || u.search !== '' || u.hash !== ''
    return `${u.protocol}//${u.host}${hasMore ? '/…' : ''}`
  } catch {
    return '(invalid URL)'
  }
}

/** Makes a peer's answer safe to quote: one line, printable, at most `max` characters, secrets removed. */
export function excerpt(text: string, secrets: readonly string[], max = 200): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping control characters is the point
  const oneLine = redact(text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim(), secrets)
  return oneLine.length > max ? `${oneLine.slice(0, max)}…` : oneLine
}

/**
 * One attempt that throws a DeliveryError on failure, for use inside the shared
 * retry helper: `retry(() => notifyOrThrow(notifier, n, signal), { … })`.
 */
export async function notifyOrThrow(
  notifier: Notifier,
  n: Notification,
  signal?: AbortSignal,
): Promise<void> {
  const result = await notifier.notify(n, signal)
  if (!result.ok) throw new DeliveryError(notifier.name, result)
}
