// Signed webhook receiver: each notification is one CloudEvents 1.0 event in
// structured JSON mode, signed per the Standard Webhooks spec. `webhook-id` (and
// the event id) is the notification id, identical on every retry, so receivers
// deduplicate; `webhook-timestamp` is the attempt time, so signatures stay fresh.
import { Webhook } from 'standardwebhooks'
import { z } from 'zod'
import { Secret } from '../../config/secret.ts'
import type { Alert, Notification, NotificationKind } from '../../domain/alert.ts'
import { safeJson } from './alert-text.ts'
import { deliverHttp } from './http-delivery.ts'
import {
  type Clock,
  type DeliveryResult,
  type Notifier,
  type NotifierDeps,
  type NotifierLogger,
  systemClock,
} from './notifier.ts'
import { httpUrl, receiverObject, timeoutMs } from './schema-parts.ts'

/** Content type of a CloudEvents structured-mode JSON body (CloudEvents HTTP binding §3.2). */
export const CLOUDEVENTS_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8'

/** Headers keyshift sets itself; configured `headers` may not override them. */
const RESERVED_HEADERS = new Set([
  'content-type',
  'content-length',
  'host',
  'transfer-encoding',
  'connection',
  'webhook-id',
  'webhook-timestamp',
  'webhook-signature',
])

const SECRET_HINT = 'generate one with: echo "whsec_$(openssl rand -base64 32)"'

/** A Standard Webhooks secret: `whsec_` + base64 of 24 to 64 random bytes. Never echoed in messages. */
export const webhookSecret = z
  .string({ error: `must be a string like whsec_…; ${SECRET_HINT}` })
  .refine((v) => /^whsec_[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length % 4 === 2, {
    error: `must be "whsec_" followed by standard base64; ${SECRET_HINT}`,
    abort: true,
  })
  .refine(
    (v) => {
      const bytes = Buffer.from(v.slice('whsec_'.length), 'base64').length
      return bytes >= 24 && bytes <= 64
    },
    { error: `must encode 24 to 64 random bytes; ${SECRET_HINT}` },
  )
  .transform((v) => new Secret(v))

const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/

/** Why a configured header name is refused, or undefined when it is fine. */
function headerNameProblem(h: string): string | undefined {
  if (!HEADER_NAME.test(h)) return 'header names are HTTP tokens (letters, digits, "-")'
  const lower = h.toLowerCase()
  if (RESERVED_HEADERS.has(lower) || lower.startsWith('ce-')) {
    return 'this header is set by keyshift (content type, Standard Webhooks signature, CloudEvents attributes); remove it'
  }
  return undefined
}

export const webhookConfigSchema = receiverObject('webhook', {
  type: z.literal('webhook'),
  /** Receiver URL; it may carry a token, so it is kept as a Secret and never printed. */
  url: httpUrl({ httpsOnly: false }),
  /** Signing secret, `whsec_…`. */
  secret: webhookSecret,
  /** Older secrets still signed with during a secret rotation (at most 3); receivers accept any. */
  previous_secrets: z.array(webhookSecret).max(3, 'keep at most 3 previous secrets').default([]),
  timeout_ms: timeoutMs(5_000),
  /** Extra request headers, e.g. an Authorization header; values are Secrets. */
  headers: z
    .record(
      z.string(),
      z
        .string()
        .refine((v) => !/[\r\n]/.test(v), 'header values must be one line')
        .transform((v) => new Secret(v)),
    )
    .superRefine((rec, ctx) => {
      for (const name of Object.keys(rec)) {
        const problem = headerNameProblem(name)
        if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [name], message: problem })
      }
    })
    .optional(),
})

export type WebhookConfig = z.output<typeof webhookConfigSchema>
export type WebhookConfigInput = z.input<typeof webhookConfigSchema>

/** `dev.keyshift.alert.firing`, `dev.keyshift.deactivation.ready`, … */
export function cloudEventType(kind: NotificationKind): string {
  return `dev.keyshift.${kind}`
}

/** An alert as it appears on the wire: times as RFC 3339 strings. */
export interface WireAlert extends Omit<Alert, 'startsAt' | 'endsAt' | 'updatedAt'> {
  startsAt: string
  endsAt?: string
  updatedAt: string
}

export interface KeyshiftEventData {
  receiver: string
  groupKey: string
  dashboardUrl?: string
  alerts: WireAlert[]
}

export interface KeyshiftCloudEvent {
  specversion: '1.0'
  id: string
  source: string
  type: string
  time: string
  datacontenttype: 'application/json'
  subject?: string
  data: KeyshiftEventData
}

export function toWireAlert(a: Alert): WireAlert {
  const { startsAt, endsAt, updatedAt, ...rest } = a
  const wire: WireAlert = {
    ...rest,
    startsAt: new Date(startsAt).toISOString(),
    updatedAt: new Date(updatedAt).toISOString(),
  }
  if (endsAt !== undefined) wire.endsAt = new Date(endsAt).toISOString()
  return wire
}

/**
 * The CloudEvent for a notification. `subject` is the key id when every alert in
 * the group is about the same key, and absent otherwise.
 */
export function buildCloudEvent(n: Notification, source: string): KeyshiftCloudEvent {
  const keys = new Set(n.alerts.map((a) => a.keyId))
  const data: KeyshiftEventData = {
    receiver: n.receiver,
    groupKey: n.groupKey,
    alerts: n.alerts.map(toWireAlert),
  }
  if (n.dashboardUrl !== undefined) data.dashboardUrl = n.dashboardUrl
  const event: KeyshiftCloudEvent = {
    specversion: '1.0',
    id: n.id,
    source,
    type: cloudEventType(n.kind),
    time: new Date(n.createdAt).toISOString(),
    datacontenttype: 'application/json',
    data,
  }
  const [only] = keys
  if (keys.size === 1 && only !== undefined && only !== '') event.subject = only
  return event
}

export class WebhookNotifier implements Notifier {
  readonly kind = 'webhook' as const
  readonly name: string
  readonly #config: WebhookConfig
  readonly #signers: Webhook[]
  readonly #fetch: typeof fetch
  readonly #clock: Clock
  readonly #logger: NotifierLogger | undefined
  readonly #source: string
  readonly #secrets: string[]

  constructor(name: string, config: WebhookConfig, deps: NotifierDeps = {}) {
    this.name = name
    this.#config = config
    this.#signers = [config.secret, ...config.previous_secrets].map((s) => new Webhook(s.reveal()))
    this.#fetch = deps.fetch ?? globalThis.fetch
    this.#clock = deps.clock ?? systemClock
    this.#logger = deps.logger
    this.#source = deps.source ?? 'keyshift'
    const url = new URL(config.url.reveal())
    this.#secrets = [
      config.url.reveal(),
      `${url.pathname}${url.search}`,
      url.pathname,
      url.search.slice(1),
      url.username,
      url.password,
      ...[config.secret, ...config.previous_secrets].flatMap((s) => [s.reveal(), s.reveal().slice(6)]),
      ...Object.values(config.headers ?? {}).map((v) => v.reveal()),
    ].filter((s) => s.length >= 4)
  }

  /** The exact body and headers of a delivery attempt at `nowMs` (exposed for tests and `keyshift receivers test`). */
  request(n: Notification, nowMs: number): { body: string; headers: Record<string, string> } {
    const body = safeJson(buildCloudEvent(n, this.#source))
    const signature = this.#signers.map((w) => w.sign(n.id, new Date(nowMs), body)).join(' ')
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(this.#config.headers ?? {})) headers[k] = v.reveal()
    Object.assign(headers, {
      'content-type': CLOUDEVENTS_CONTENT_TYPE,
      'user-agent': 'keyshift-webhook/1',
      'webhook-id': n.id,
      'webhook-timestamp': String(Math.floor(nowMs / 1000)),
      'webhook-signature': signature,
    })
    return { body, headers }
  }

  async notify(n: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const started = this.#clock.now()
    const { body, headers } = this.request(n, started)
    const result = await deliverHttp({
      fetch: this.#fetch,
      clock: this.#clock,
      url: this.#config.url.reveal(),
      headers,
      body,
      timeoutMs: this.#config.timeout_ms,
      signal,
      secrets: this.#secrets,
    })
    if (!result.ok) {
      this.#logger?.debug(
        { receiver: this.name, notificationId: n.id, retry: result.retry, error: result.error },
        'Webhook delivery attempt failed.',
      )
    }
    return result
  }
}
