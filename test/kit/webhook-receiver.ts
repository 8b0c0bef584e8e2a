// A real Standard Webhooks receiver on loopback: every request is verified with
// `standardwebhooks` (`Webhook.verify`), exactly as a keyshift user's receiver
// would; verified deliveries are deduplicated by webhook-id, duplicates counted.
import { Webhook } from 'standardwebhooks'
import {
  type FailureAnswer,
  type HttpPeerOptions,
  type PeerControl,
  type RawRequest,
  startHttpPeer,
  waitUntil,
} from './http-peer.ts'

export interface WebhookDelivery {
  /** webhook-id header. */
  id: string
  /** webhook-timestamp header, epoch seconds. */
  timestamp: number
  headers: Record<string, string>
  body: string
  /** The verified, parsed JSON body. */
  payload: unknown
}

export interface WebhookAttempt {
  webhookId: string | undefined
  /** Whether the signature verified (false also when the attempt was answered with a simulated failure before verification). */
  verified: boolean
  /** The status the receiver answered with; undefined while hanging. */
  status: number | undefined
  /** Verification error message, when verification failed. */
  error?: string
  headers: Record<string, string>
  body: string
}

export interface WebhookReceiver extends PeerControl {
  /** URL to configure as the webhook receiver. */
  url: string
  /** Verified deliveries, one per distinct webhook-id, in arrival order. */
  deliveries: WebhookDelivery[]
  /** Every request, including failed, unverified and duplicate ones. */
  attempts: WebhookAttempt[]
  /** webhook-id → number of verified repeats after the first delivery. */
  duplicates: Map<string, number>
  /** Resolves once `count` distinct deliveries have been verified. */
  waitForDeliveries(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface WebhookReceiverOptions extends HttpPeerOptions {
  /** The `whsec_…` secret the receiver verifies with. */
  secret: string
  /** Path part of the URL; default `/keyshift`. */
  path?: string
}

export async function startWebhookReceiver(opts: WebhookReceiverOptions): Promise<WebhookReceiver> {
  const verifier = new Webhook(opts.secret)
  const deliveries: WebhookDelivery[] = []
  const attempts: WebhookAttempt[] = []
  const duplicates = new Map<string, number>()
  const seen = new Set<string>()
  const path = opts.path ?? '/keyshift'

  const record = (req: RawRequest, verified: boolean, status: number | undefined, error?: string) => {
    const a: WebhookAttempt = {
      webhookId: req.headers['webhook-id'],
      verified,
      status,
      headers: req.headers,
      body: req.body,
    }
    if (error !== undefined) a.error = error
    attempts.push(a)
  }

  const peer = await startHttpPeer(opts, {
    onFailureAnswer: (req, answer) => record(req, false, answer.status),
    onHang: (req) => record(req, false, undefined),
    handle: (req): FailureAnswer => {
      if (req.method !== 'POST' || req.path !== path) {
        record(req, false, 404, 'unknown path or method')
        return { status: 404, body: 'not found' }
      }
      let payload: unknown
      try {
        payload = verifier.verify(req.body, req.headers)
      } catch (err) {
        const error = err instanceof Error ? err.message : String(err)
        record(req, false, 401, error)
        return { status: 401, body: `signature verification failed: ${error}` }
      }
      const id = req.headers['webhook-id'] ?? ''
      record(req, true, 200)
      if (seen.has(id)) {
        duplicates.set(id, (duplicates.get(id) ?? 0) + 1)
      } else {
        seen.add(id)
        deliveries.push({
          id,
          timestamp: Number(req.headers['webhook-timestamp']),
          headers: req.headers,
          body: req.body,
          payload,
        })
      }
      return { status: 200, body: 'ok' }
    },
  })
  return {
    url: `${peer.url}${path}`,
    deliveries,
    attempts,
    duplicates,
    setDown: peer.setDown,
    failNext: peer.failNext,
    setHang: peer.setHang,
    waitForDeliveries: (count, timeoutMs) =>
      waitUntil(() => deliveries.length >= count, timeoutMs, `${count} webhook deliveries`),
    close: peer.close,
  }
}
