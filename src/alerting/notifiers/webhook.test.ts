import { randomBytes } from 'node:crypto'
import { Webhook } from 'standardwebhooks'
import { afterEach, describe, expect, it } from 'vitest'
import { sampleAlert, sampleNotification, T0 } from '../../../test/kit/notifications.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/kit/webhook-receiver.ts'
import { retry } from '../../shared/retry.ts'
import { notifyOrThrow } from './notifier.ts'
import { type KitPeer, runNotifierKit } from './notifier-kit.test-helper.ts'
import { createNotifier, parseReceiverConfig } from './registry.ts'
import { buildCloudEvent, CLOUDEVENTS_CONTENT_TYPE, cloudEventType, WebhookNotifier } from './webhook.ts'

const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`

function webhookNotifier(url: string, secret: string, extra: Record<string, unknown> = {}) {
  return createNotifier('ops', parseReceiverConfig('ops', { type: 'webhook', url, secret, ...extra }), {
    source: 'keyshift/test',
  })
}

interface WebhookPeer extends KitPeer {
  receiver: WebhookReceiver
  secret: string
}

runNotifierKit<WebhookPeer>({
  kind: 'webhook',
  async start() {
    const secret = newSecret()
    const receiver = await startWebhookReceiver({ secret, path: '/hooks/keyshift?token=tok_9f8e7d6c5b4a' })
    return {
      receiver,
      secret,
      fail: (code, o) => receiver.setDown(true, { status: code, retryAfter: o?.retryAfterSeconds }),
      hang: () => receiver.setHang(true),
      recover: () => {
        receiver.setDown(false)
        receiver.setHang(false)
      },
      acceptedIds: () => receiver.attempts.filter((a) => a.verified).map((a) => a.webhookId ?? ''),
      close: () => receiver.close(),
    }
  },
  notifier: (p, o) => webhookNotifier(p.receiver.url, p.secret, { timeout_ms: o.timeoutMs }),
  unreachable: (port, o) =>
    webhookNotifier(`http://127.0.0.1:${port}/hooks/keyshift?token=tok_9f8e7d6c5b4a`, newSecret(), {
      timeout_ms: o.timeoutMs,
    }),
  secrets: (p) => ['tok_9f8e7d6c5b4a', p.secret, p.secret.slice('whsec_'.length)],
  transient: [{ code: 500 }, { code: 503 }, { code: 408 }, { code: 429, retryAfterSeconds: 7 }],
  permanent: [400, 404, 410, 401],
  idFor: (n) => n.id,
  checkDelivered(p, n) {
    const d = p.receiver.deliveries.find((x) => x.id === n.id)
    expect(d?.payload).toEqual(JSON.parse(JSON.stringify(buildCloudEvent(n, 'keyshift/test'))))
  },
  invalidConfigs: (p) => [
    {
      name: 'secret without whsec_ prefix',
      create: () =>
        parseReceiverConfig('ops', { type: 'webhook', url: p.receiver.url, secret: p.secret.slice(6) }),
      secrets: [p.secret.slice(6)],
    },
    {
      name: 'unknown field next to a URL with a token',
      create: () =>
        parseReceiverConfig('ops', { type: 'webhook', url: p.receiver.url, secret: p.secret, retries: 3 }),
      secrets: [],
    },
    {
      name: 'non-http URL with a token',
      create: () =>
        parseReceiverConfig('ops', { type: 'webhook', url: 'ftp://x/tok_9f8e7d6c5b4a', secret: p.secret }),
      secrets: [],
    },
  ],
})

describe('webhook payload', () => {
  it('is a CloudEvents 1.0 structured event whose data holds the alerts', () => {
    const n = sampleNotification({
      dashboardUrl: 'https://grafana.example.com/d/keyshift?var-key=acme-payments',
    })
    expect(buildCloudEvent(n, 'keyshift/prod-eu')).toEqual({
      specversion: '1.0',
      id: 'ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA',
      source: 'keyshift/prod-eu',
      type: 'dev.keyshift.rollback.advised',
      time: '2026-11-28T13:01:01.000Z',
      datacontenttype: 'application/json',
      subject: 'acme-payments',
      data: {
        receiver: 'ops',
        groupKey: 'keyId=acme-payments',
        dashboardUrl: 'https://grafana.example.com/d/keyshift?var-key=acme-payments',
        alerts: [
          {
            id: 'failures_after_deactivation:acme-payments:v1:*',
            type: 'failures_after_deactivation',
            severity: 'critical',
            status: 'firing',
            keyId: 'acme-payments',
            version: 'v1',
            scope: '*',
            labels: { gateway: 'kong-eu', client: 'acme-mobile' },
            title: 'Rollback advised for acme-payments v1',
            summary:
              'Since v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with "revoked".',
            evidence: { failures: 212, clients: ['acme-mobile', 'acme-batch'], failure_ratio: 0.0731 },
            startsAt: '2026-11-28T13:00:00.000Z',
            updatedAt: '2026-11-28T13:01:00.000Z',
          },
        ],
      },
    })
  })

  it.each([
    ['alert.firing', 'dev.keyshift.alert.firing'],
    ['alert.resolved', 'dev.keyshift.alert.resolved'],
    ['deactivation.ready', 'dev.keyshift.deactivation.ready'],
    ['deactivation.not_ready', 'dev.keyshift.deactivation.not_ready'],
    ['rollback.advised', 'dev.keyshift.rollback.advised'],
    ['test', 'dev.keyshift.test'],
  ] as const)('kind %s has type %s', (kind, type) => {
    expect(cloudEventType(kind)).toBe(type)
  })

  it('has no subject when the group spans several keys, and endsAt for resolved alerts', () => {
    const n = sampleNotification({
      kind: 'alert.resolved',
      alerts: [
        sampleAlert({ status: 'resolved', endsAt: T0 + 120_000 }),
        sampleAlert({ keyId: 'globex-billing', status: 'resolved', endsAt: T0 + 180_000 }),
      ],
    })
    const e = buildCloudEvent(n, 'keyshift')
    expect(e.subject).toBeUndefined()
    expect(e.data.alerts.map((a) => a.endsAt)).toEqual([
      '2026-11-28T13:02:00.000Z',
      '2026-11-28T13:03:00.000Z',
    ])
  })

  it('is signed per Standard Webhooks over the exact body, with the attempt time as timestamp', () => {
    const secret = newSecret()
    const old = newSecret()
    const config = parseReceiverConfig('ops', {
      type: 'webhook',
      url: 'https://receiver.example.com/keyshift',
      secret,
      previous_secrets: [old],
      headers: { Authorization: 'Bearer t0ken-value' },
    })
    if (config.type !== 'webhook') throw new Error('unreachable')
    const now = Date.now()
    const { body, headers } = new WebhookNotifier('ops', config, { source: 'keyshift/test' }).request(
      sampleNotification(),
      now,
    )
    expect(headers).toMatchObject({
      'content-type': CLOUDEVENTS_CONTENT_TYPE,
      'webhook-id': 'ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA',
      'webhook-timestamp': String(Math.floor(now / 1000)),
      Authorization: 'Bearer t0ken-value',
    })
    expect(headers['webhook-signature']?.split(' ')).toHaveLength(2)
    // Receivers that still hold the previous secret verify too (secret rotation).
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body))
    expect(new Webhook(old).verify(body, headers)).toEqual(JSON.parse(body))
    expect(() => new Webhook(newSecret()).verify(body, headers)).toThrow(/No matching signature/)
    expect(() => new Webhook(secret).verify(body.replace('212', '213'), headers)).toThrow()
  })
})

describe('webhook delivery with the shared retry helper', () => {
  let receiver: WebhookReceiver | undefined
  afterEach(async () => {
    await receiver?.close()
  })

  it('keeps the webhook-id across retries and the receiver sees one delivery', async () => {
    const secret = newSecret()
    receiver = await startWebhookReceiver({ secret, failFirst: 2, status: 503 })
    const notifier = webhookNotifier(receiver.url, secret)
    const n = sampleNotification()
    await retry(() => notifyOrThrow(notifier, n), { retries: 3, baseMs: 1, maxMs: 5 })
    expect(receiver.attempts.map((a) => [a.webhookId, a.status])).toEqual([
      [n.id, 503],
      [n.id, 503],
      [n.id, 200],
    ])
    expect(receiver.deliveries.map((d) => d.id)).toEqual([n.id])
    // Each attempt is signed afresh, so a delayed retry still passes the receiver's freshness check.
    expect(new Set(receiver.attempts.map((a) => a.headers['webhook-signature'])).size).toBeGreaterThanOrEqual(
      1,
    )
  })

  it('counts a repeated delivery of the same notification as a duplicate', async () => {
    const secret = newSecret()
    receiver = await startWebhookReceiver({ secret })
    const notifier = webhookNotifier(receiver.url, secret)
    const n = sampleNotification()
    await notifier.notify(n)
    await notifier.notify(n)
    expect(receiver.deliveries).toHaveLength(1)
    expect(receiver.duplicates.get(n.id)).toBe(1)
  })

  it('gives up at once on a permanent answer', async () => {
    const secret = newSecret()
    receiver = await startWebhookReceiver({ secret, failFirst: 5, status: 410 })
    const notifier = webhookNotifier(receiver.url, secret)
    await expect(
      retry(() => notifyOrThrow(notifier, sampleNotification()), { retries: 3, baseMs: 1 }),
    ).rejects.toMatchObject({
      code: 'KS_DELIVERY_FAILED',
      retriable: false,
    })
    expect(receiver.attempts).toHaveLength(1)
  })

  it('is refused by a receiver holding another secret (401, permanent)', async () => {
    receiver = await startWebhookReceiver({ secret: newSecret() })
    const r = await webhookNotifier(receiver.url, newSecret()).notify(sampleNotification())
    expect(r).toMatchObject({ ok: false, retry: false })
    expect(receiver.attempts[0]?.error).toBe('No matching signature found')
  })

  it('does not follow redirects', async () => {
    const secret = newSecret()
    receiver = await startWebhookReceiver({ secret })
    receiver.setDown(true, { status: 308 })
    const r = await webhookNotifier(receiver.url, secret).notify(sampleNotification())
    expect(r).toMatchObject({ ok: false, retry: false })
    if (!r.ok) expect(r.error).toContain('redirects are not followed')
  })
})

describe('webhook config', () => {
  it.each([
    ['content-type', { 'Content-Type': 'text/plain' }],
    ['webhook-signature', { 'webhook-signature': 'v1,forged' }],
    ['ce- attributes', { 'ce-type': 'x' }],
  ])('refuses to override %s', (_name, headers) => {
    expect(() =>
      parseReceiverConfig('ops', {
        type: 'webhook',
        url: 'https://r.example.com',
        secret: newSecret(),
        headers,
      }),
    ).toThrow(/set by keyshift/)
  })

  it('applies defaults and freezes the result', () => {
    const c = parseReceiverConfig('ops', {
      type: 'webhook',
      url: 'https://r.example.com/h',
      secret: newSecret(),
    })
    expect(c).toMatchObject({ type: 'webhook', timeout_ms: 5000, previous_secrets: [] })
    expect(Object.isFrozen(c)).toBe(true)
    expect(JSON.stringify(c)).not.toContain('r.example.com')
  })

  it('names the field and the fix', () => {
    expect(() =>
      parseReceiverConfig('ops', { type: 'webhook', url: 'https://r.example.com', secret: 'whsec_c2hvcnQ=' }),
    ).toThrow(
      'invalid receiver "ops":\n  - receivers.ops.secret: must encode 24 to 64 random bytes; generate one with: echo "whsec_$(openssl rand -base64 32)"',
    )
  })
})
