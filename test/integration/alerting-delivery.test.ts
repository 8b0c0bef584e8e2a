// Durable delivery: the webhook receiver is down (HTTP 503) when the alert
// fires; keyshift keeps retrying with backoff, is stopped and started again on
// the same data directory while the receiver is still down, and delivers once
// the receiver is back. Every notification arrives exactly once per
// webhook-id, none is lost, and the restart creates no new notification.
import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, inject, it } from 'vitest'
import type { ConfigInput } from '../../src/config/schema.ts'
import { waitUntil } from '../kit/http-peer.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../kit/webhook-receiver.ts'
import {
  deactivateTooEarly,
  type Keyshift,
  kafkaSection,
  MAPPING_DECODER,
  startKeyshift,
  tempDataDir,
} from './alerting-harness.ts'

const brokers = inject('kafkaBrokers')
const secret = `whsec_${randomBytes(32).toString('base64')}`
const KEY = 'initech-billing'

let hooks: WebhookReceiver | undefined
const running: Keyshift[] = []

afterAll(async () => {
  for (const k of running) await k.stop().catch(() => {})
  await hooks?.close()
})

async function leader(k: Keyshift) {
  await waitUntil(() => k.alerting.leadership.isLeader(), 60_000, 'leadership')
}

describe('delivery survives a receiver outage and a keyshift restart', () => {
  it('delivers every notification exactly once after the receiver comes back', async () => {
    hooks = await startWebhookReceiver({ secret })
    hooks.setDown(true, { status: 503 })
    const k = await kafkaSection(brokers, 'alerting-delivery')
    const config: ConfigInput = {
      instance: 'alerting-delivery',
      data_dir: tempDataDir('alerting-delivery'),
      http: { enabled: false },
      kafka: k.kafka,
      sources: [{ type: 'kafka', topic: k.topic, decoder: MAPPING_DECODER }],
      ingest: { heartbeat_interval_ms: 1_000 },
      alerting: {
        receivers: { hooks: { type: 'webhook', url: hooks.url, secret } },
        default_receivers: ['hooks'],
        delivery_retry_base_ms: 200,
        delivery_retry_max_ms: 1_000,
        leadership: { topic: k.leaderTopic },
      },
    }

    // 1. The alert fires while the receiver answers 503.
    const first = await startKeyshift(config)
    running.push(first)
    await leader(first)
    await deactivateTooEarly(first, brokers, k.topic, KEY)
    await waitUntil(
      () => new Set(hooks!.attempts.map((a) => a.webhookId)).size === 2,
      30_000,
      'two notifications attempted',
    )
    await waitUntil(() => hooks!.attempts.length >= 6, 30_000, 'retries')
    const pendingBefore = await first.alerting.store.pendingOutbox()
    expect(pendingBefore.map((e) => e.kind).sort()).toEqual(['alert.firing', 'rollback.advised'])
    const ids = new Set(pendingBefore.map((e) => e.id))
    expect(new Set(hooks.attempts.map((a) => a.webhookId))).toEqual(ids)
    expect(hooks.attempts.every((a) => a.status === 503)).toBe(true)

    // 2. Stop keyshift with the notifications undelivered.
    await first.stop()
    running.pop()
    const attemptsBeforeRestart = hooks.attempts.length

    // 3. Start again on the same data directory; the receiver is still down for a while.
    const second = await startKeyshift(config)
    running.push(second)
    await leader(second)
    await waitUntil(
      () => hooks!.attempts.length >= attemptsBeforeRestart + 2,
      30_000,
      'retries after the restart',
    )
    expect(hooks.deliveries).toHaveLength(0)

    // 4. The receiver comes back: each notification arrives once.
    hooks.setDown(false)
    await hooks.waitForDeliveries(2, 30_000)
    await second.alerting.delivery.idle(10_000)
    // A few more evaluations: nothing new, nothing repeated.
    await new Promise((r) => setTimeout(r, 4_000))
    expect(new Set(hooks.deliveries.map((d) => d.id))).toEqual(ids)
    expect(hooks.deliveries).toHaveLength(2)
    expect(hooks.duplicates.size).toBe(0)
    expect(hooks.attempts.filter((a) => a.verified)).toHaveLength(2)

    const outbox = await second.alerting.store.outbox()
    expect(outbox.map((e) => e.state)).toEqual(['delivered', 'delivered'])
    expect(new Set(outbox.map((e) => e.id))).toEqual(ids)
    expect(outbox.every((e) => e.attempts >= 3 && e.firstFailureAt !== null)).toBe(true)
    const log = await second.alerting.store.deliveryLog()
    for (const id of ids) {
      const rows = log.filter((l) => l.notificationId === id)
      expect(rows.at(-1)!.outcome).toBe('delivered')
      // Failed attempts: the 503s, and perhaps one aborted by the stop.
      for (const l of rows.slice(0, -1)) {
        expect(l.outcome).toBe('retry')
        expect(l.error).toMatch(/^HTTP 503 from http:\/\/127\.0\.0\.1:\d+\/…|aborted/)
      }
      expect(rows.map((l) => l.attempt)).toEqual(rows.map((_, i) => i + 1))
    }
    // The secret URL path never reaches the log.
    expect(JSON.stringify(log)).not.toContain('/keyshift')
  })
})
