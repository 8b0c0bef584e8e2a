import { describe, expect, it } from 'vitest'
import {
  classifyHttpStatus,
  classifyRequestError,
  displayUrl,
  errorCode,
  excerpt,
  isRetriableStatus,
  parseRetryAfter,
  redact,
} from './notifier.ts'

const NOW = Date.UTC(2026, 10, 28, 13, 0, 0)

describe('HTTP status classification', () => {
  it.each([
    [200, null, { ok: true }],
    [202, null, { ok: true }],
    [204, null, { ok: true }],
    [408, null, { ok: false, retry: true, error: 'HTTP 408' }],
    [425, null, { ok: false, retry: true, error: 'HTTP 425' }],
    [429, null, { ok: false, retry: true, error: 'HTTP 429' }],
    [429, '30', { ok: false, retry: true, retryAfterMs: 30_000, error: 'HTTP 429 (retry after 30000 ms)' }],
    [
      503,
      'Sat, 28 Nov 2026 13:00:05 GMT',
      { ok: false, retry: true, retryAfterMs: 5_000, error: 'HTTP 503 (retry after 5000 ms)' },
    ],
    [500, null, { ok: false, retry: true, error: 'HTTP 500' }],
    [502, 'soon', { ok: false, retry: true, error: 'HTTP 502' }],
    [599, null, { ok: false, retry: true, error: 'HTTP 599' }],
    [400, '10', { ok: false, retry: false, error: 'HTTP 400' }],
    [401, null, { ok: false, retry: false, error: 'HTTP 401' }],
    [403, null, { ok: false, retry: false, error: 'HTTP 403' }],
    [404, null, { ok: false, retry: false, error: 'HTTP 404' }],
    [410, null, { ok: false, retry: false, error: 'HTTP 410' }],
    [413, null, { ok: false, retry: false, error: 'HTTP 413' }],
    [
      301,
      null,
      { ok: false, retry: false, error: 'HTTP 301 (redirects are not followed; configure the final URL)' },
    ],
  ] as const)('%d (Retry-After %s) → %o', (status, retryAfter, want) => {
    expect(classifyHttpStatus(status, retryAfter, NOW)).toEqual(want)
  })

  it('names where the answer came from and what it said', () => {
    expect(
      classifyHttpStatus(404, null, NOW, { where: 'https://hooks.slack.com/…', detail: 'no_service' }),
    ).toEqual({ ok: false, retry: false, error: 'HTTP 404 from https://hooks.slack.com/…: no_service' })
  })

  it.each([
    [408, true],
    [425, true],
    [429, true],
    [500, true],
    [504, true],
    [400, false],
    [409, false],
    [422, false],
    [600, false],
  ])('isRetriableStatus(%d) = %s', (status, want) => {
    expect(isRetriableStatus(status)).toBe(want)
  })
})

describe('Retry-After', () => {
  it.each([
    [null, undefined],
    ['', undefined],
    ['0', 0],
    ['120', 120_000],
    [' 7 ', 7_000],
    ['Sat, 28 Nov 2026 13:01:00 GMT', 60_000],
    ['Sat, 28 Nov 2026 12:00:00 GMT', 0], // in the past: retry now
    ['-5', undefined],
    ['1.5', undefined],
    ['tomorrow', undefined],
  ])('%j → %s ms', (value, want) => {
    expect(parseRetryAfter(value, NOW)).toBe(want)
  })
})

describe('request errors', () => {
  const ctx = { timedOut: false, aborted: false, timeoutMs: 5000, where: 'https://r.example.com/…' }
  const fetchFailed = (code: string) =>
    new TypeError('fetch failed', { cause: Object.assign(new Error('x'), { code }) })

  it.each([
    ['ECONNREFUSED', true, 'network error ECONNREFUSED reaching https://r.example.com/…'],
    ['ECONNRESET', true, 'network error ECONNRESET reaching https://r.example.com/…'],
    ['ENOTFOUND', true, 'network error ENOTFOUND reaching https://r.example.com/…'],
    ['UND_ERR_SOCKET', true, 'network error UND_ERR_SOCKET reaching https://r.example.com/…'],
    [
      'DEPTH_ZERO_SELF_SIGNED_CERT',
      false,
      "TLS error DEPTH_ZERO_SELF_SIGNED_CERT reaching https://r.example.com/…: fix the receiver's certificate or the trust store",
    ],
    ['CERT_HAS_EXPIRED', false, expect.stringContaining('TLS error CERT_HAS_EXPIRED')],
    ['EWHATEVER', true, 'request to https://r.example.com/… failed (EWHATEVER)'],
  ])('%s → retry %s', (code, retry, error) => {
    expect(classifyRequestError(fetchFailed(code), ctx)).toEqual({ ok: false, retry, error })
  })

  it('reports timeouts and aborts as retriable', () => {
    expect(classifyRequestError(new Error('x'), { ...ctx, timedOut: true })).toEqual({
      ok: false,
      retry: true,
      error: 'no answer from https://r.example.com/… within 5000 ms (timeout)',
    })
    expect(classifyRequestError(new Error('x'), { ...ctx, aborted: true })).toMatchObject({ retry: true })
  })

  it('finds the innermost code', () => {
    expect(errorCode(new Error('a', { cause: { code: 'E1', cause: { code: 'E2' } } }))).toBe('E2')
    expect(errorCode('nope')).toBeUndefined()
  })
})

describe('redaction', () => {
  it('shows scheme and host only', () => {
    expect(displayUrl('https://hooks.slack.com/services/T0/B0/abcdef')).toBe('https://hooks.slack.com/…')
    expect(displayUrl('https://user:pw@r.example.com:8443/?token=x')).toBe('https://r.example.com:8443/…')
    expect(displayUrl('https://r.example.com/')).toBe('https://r.example.com')
    expect(displayUrl('not a url')).toBe('(invalid URL)')
  })

  it('removes secrets in raw and URL-encoded form', () => {
    expect(redact('token=a b/c and a%20b%2Fc and a b/c', ['a b/c'])).toBe(
      'token=[redacted] and [redacted] and [redacted]',
    )
    expect(redact('short abc stays', ['abc'])).toBe('short abc stays')
  })

  it('quotes an answer on one line, secrets removed before cutting', () => {
    expect(excerpt('line1\r\n\tline2 SECRETVALUE tail', ['SECRETVALUE'])).toBe('line1 line2 [redacted] tail')
    expect(excerpt(`${'x'.repeat(195)}SECRETVALUE`, ['SECRETVALUE'], 200)).toBe(`${'x'.repeat(195)}[reda…`)
  })
})
