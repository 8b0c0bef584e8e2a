// One HTTP POST with a deadline, classified into a DeliveryResult. Shared by
// the HTTP notifiers (webhook, Slack) so status handling, Retry-After, timeouts
// and redaction behave the same for every one of them.
import {
  type Clock,
  classifyHttpStatus,
  classifyRequestError,
  type DeliveryResult,
  displayUrl,
  excerpt,
} from './notifier.ts'

export interface HttpDelivery {
  fetch: typeof fetch
  clock: Clock
  url: string
  headers: Record<string, string>
  body: string
  /** Deadline for the whole attempt: connect, send, status and (for failures) the answer's first bytes. */
  timeoutMs: number
  signal?: AbortSignal | undefined
  /** Strings that must never appear in the result's error (URL tokens, header values). */
  secrets: readonly string[]
}

/** Bytes of a failed answer quoted in the error text. */
const MAX_QUOTED_BYTES = 2048

/** Sends the POST and classifies the outcome; resolves for every network or peer failure. */
export async function deliverHttp(req: HttpDelivery): Promise<DeliveryResult> {
  const timeout = AbortSignal.timeout(req.timeoutMs)
  const signal = req.signal === undefined ? timeout : AbortSignal.any([req.signal, timeout])
  const where = displayUrl(req.url)
  let res: Response
  try {
    // Redirects are not followed: a signed payload must not be replayed to a host
    // the operator did not configure.
    res = await req.fetch(req.url, {
      method: 'POST',
      headers: req.headers,
      body: req.body,
      signal,
      redirect: 'manual',
    })
  } catch (err) {
    return classifyRequestError(err, {
      timedOut: timeout.aborted,
      aborted: req.signal?.aborted === true,
      timeoutMs: req.timeoutMs,
      where,
    })
  }
  if (res.ok) {
    await res.body?.cancel().catch(() => undefined)
    return { ok: true }
  }
  const answer = await readPrefix(res, MAX_QUOTED_BYTES)
  const detail = excerpt(answer, req.secrets)
  return classifyHttpStatus(res.status, res.headers.get('retry-after'), req.clock.now(), { where, detail })
}

/** Reads at most `max` bytes of the body as text; '' when it cannot be read. */
async function readPrefix(res: Response, max: number): Promise<string> {
  if (res.body === null) return ''
  const reader = res.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    while (size < max) {
      const { done, value } = await reader.read()
      if (done) break
      chunks.push(value)
      size += value.byteLength
    }
  } catch {
    // A body that fails mid-way still leaves the status to classify.
  } finally {
    await reader.cancel().catch(() => undefined)
  }
  return Buffer.concat(chunks).subarray(0, max).toString('utf8')
}
