// A version deactivated too early, end to end through the real pieces: gateway
// records on a Kafka topic → ingest → embedded ClickHouse → evaluation → alert
// pipeline → outbox → a Standard Webhooks receiver (signatures verified), a
// Slack-like receiver (Block Kit checked) and an SMTP server (MIME parsed) on
// loopback. Then the HTTP API for silences and open alerts on the same daemon.
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { notificationId, sha256Hex } from '../../src/alerting/pipeline/record.ts'
import { waitUntil } from '../kit/http-peer.ts'
import { type SlackReceiver, startSlackReceiver } from '../kit/slack-receiver.ts'
import { startSmtpServer, type TestSmtpServer } from '../kit/smtp-server.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../kit/webhook-receiver.ts'
import {
  ADMIN_TOKEN,
  deactivateTooEarly,
  gatewayRecord,
  type Keyshift,
  kafkaSection,
  lifecycle,
  MAPPING_DECODER,
  READ_TOKEN,
  startKeyshift,
  tempDataDir,
} from './alerting-harness.ts'
import { produceMessages } from './kafka-helpers.ts'

const brokers = inject('kafkaBrokers')
const secret = `whsec_${randomBytes(32).toString('base64')}`
const KEY = 'acme-payments'
const FAD = `failures_after_deactivation:${KEY}:v1:*`
const GK = `type=failures_after_deactivation,keyId=${KEY}`

let hooks: WebhookReceiver
let chat: SlackReceiver
let mail: TestSmtpServer
let ks: Keyshift
let topic: string
let producedAt = 0

beforeAll(async () => {
  hooks = await startWebhookReceiver({ secret })
  chat = await startSlackReceiver()
  mail = await startSmtpServer()
  const k = await kafkaSection(brokers, 'alerting-scenario')
  topic = k.topic
  ks = await startKeyshift({
    instance: 'alerting-scenario',
    data_dir: tempDataDir('alerting-scenario'),
    http: { enabled: true, port: 0, admin_tokens: [ADMIN_TOKEN], read_tokens: [READ_TOKEN] },
    kafka: k.kafka,
    sources: [{ type: 'kafka', topic, decoder: MAPPING_DECODER }],
    ingest: { heartbeat_interval_ms: 1_000 },
    alerting: {
      receivers: {
        hooks: { type: 'webhook', url: hooks.url, secret },
        chat: { type: 'slack', webhook_url: chat.url },
        mail: {
          type: 'email',
          host: mail.host,
          port: mail.port,
          starttls: false,
          from: 'keyshift <alerts@example.com>',
          to: ['oncall@example.com'],
        },
      },
      default_receivers: ['hooks', 'chat', 'mail'],
      leadership: { topic: k.leaderTopic },
    },
  })
  await waitForLeader(ks)
  ;({ producedAt } = await deactivateTooEarly(ks, brokers, topic, KEY))
})

afterAll(async () => {
  await ks?.stop()
  await Promise.all([hooks?.close(), chat?.close(), mail?.close()])
})

async function waitForLeader(k: Keyshift) {
  const deadline = Date.now() + 60_000
  while (!k.alerting.leadership.isLeader()) {
    if (Date.now() > deadline) throw new Error('no leader after 60 s')
    await new Promise((r) => setTimeout(r, 50))
  }
}

const byType = (type: string) =>
  hooks.deliveries.filter((d) => (d.payload as { type: string }).type === `dev.keyshift.${type}`)

describe('failures after a deactivation reach every receiver once', () => {
  it('sends one verified rollback.advised and one alert.firing webhook, with exact fields', async () => {
    await hooks.waitForDeliveries(2, 30_000)
    const latencyMs = Math.max(...hooks.deliveries.map((d) => d.timestamp * 1000)) - producedAt
    // Two more evaluation intervals: nothing else may arrive.
    await new Promise((r) => setTimeout(r, 5_000))
    expect(hooks.deliveries.map((d) => (d.payload as { type: string }).type).sort()).toEqual([
      'dev.keyshift.alert.firing',
      'dev.keyshift.rollback.advised',
    ])
    expect(hooks.duplicates.size).toBe(0)
    expect(hooks.attempts.every((a) => a.verified)).toBe(true)
    expect(latencyMs).toBeLessThan(10_000)

    const rollback = byType('rollback.advised')[0]!
    const firing = byType('alert.firing')[0]!
    // The webhook-id is the deterministic notification id (receiver, group, sequence, content).
    expect(rollback.id).toBe(
      notificationId(sha256Hex, 'hooks', `rollback:${GK}`, 1, [`rollback|${FAD}#1`], []),
    )
    expect(firing.id).toBe(notificationId(sha256Hex, 'hooks', GK, 1, [`alert|${FAD}#1`], []))

    for (const [d, kind, groupKey] of [
      [rollback, 'rollback.advised', `rollback:${GK}`],
      [firing, 'alert.firing', GK],
    ] as const) {
      const ev = d.payload as Record<string, unknown> & { data: { alerts: Array<Record<string, unknown>> } }
      expect(ev).toMatchObject({
        specversion: '1.0',
        id: d.id,
        source: 'keyshift',
        type: `dev.keyshift.${kind}`,
        datacontenttype: 'application/json',
        subject: KEY,
        data: { receiver: 'hooks', groupKey },
      })
      expect(ev.data.alerts).toHaveLength(1)
      const alert = ev.data.alerts[0]!
      expect(alert).toMatchObject({
        id: FAD,
        type: 'failures_after_deactivation',
        severity: 'critical',
        status: 'firing',
        keyId: KEY,
        version: 'v1',
        scope: '*',
        labels: { gateway: 'kong-eu', client: 'acme-mobile' },
        title: `Rollback advised for ${KEY} v1: clients fail since its deactivation`,
      })
      expect(alert.evidence).toMatchObject({
        failures: 5,
        affectedClients: 1,
        gateways: ['kong-eu'],
        reasons: { revoked: 5 },
        clients: [{ clientId: 'acme-mobile', failures: 5, gateways: ['kong-eu'] }],
      })
      expect(alert.summary).toMatch(
        /^1 client\(s\) that used v1 successfully before it was deactivated at .* got 5 rejection\(s\) since; reactivate v1 until they have moved\.$/,
      )
      expect(alert).not.toHaveProperty('endsAt')
      // The condition started in the minute of the first rejection.
      expect(Date.parse(alert.startsAt as string)).toBe(Math.floor(producedAt / 60_000) * 60_000)
    }
  })

  it('posts valid Block Kit messages to the Slack-like receiver', async () => {
    await chat.waitForMessages(2, 30_000)
    expect(chat.attempts.every((a) => a.status === 200)).toBe(true)
    const headers = chat.messages.map((m) => (m.blocks[0] as { text: { text: string } }).text.text).sort()
    expect(headers).toEqual([
      `:rotating_light: FIRING critical: failures after deactivation for ${KEY} v1`,
      `:rotating_light: FIRING critical: rollback advised for ${KEY} v1`,
    ])
    for (const m of chat.messages) {
      expect(m.text).toContain('1 client(s) that used v1 successfully')
      expect(JSON.stringify(m.blocks)).toContain(`keyshift key reactivate ${KEY} v1`)
    }
    expect(chat.messages.map((m) => m.notificationId).sort()).toEqual(
      [
        notificationId(sha256Hex, 'chat', `rollback:${GK}`, 1, [`rollback|${FAD}#1`], []),
        notificationId(sha256Hex, 'chat', GK, 1, [`alert|${FAD}#1`], []),
      ].sort(),
    )
  })

  it('emails a parsed MIME message per notification with the exact subject', async () => {
    await mail.waitForMessages(2, 30_000)
    expect(mail.messages.map((m) => m.subject).sort()).toEqual([
      `[keyshift] FIRING critical: failures after deactivation for ${KEY} v1`,
      `[keyshift] FIRING critical: rollback advised for ${KEY} v1`,
    ])
    for (const m of mail.messages) {
      expect(m.from?.value).toEqual([{ address: 'alerts@example.com', name: 'keyshift' }])
      expect(mail.envelopes[0]!.to).toEqual(['oncall@example.com'])
      expect(m.text).toContain(`keyshift key reactivate ${KEY} v1`)
      expect(m.html).toContain('<!doctype html>')
      expect(m.headers.get('x-keyshift-kind')).toMatch(/^(rollback\.advised|alert\.firing)$/)
    }
    expect(mail.messages.map((m) => m.messageId?.replace(/^<|@.*$/g, '')).sort()).toEqual(
      [
        notificationId(sha256Hex, 'mail', `rollback:${GK}`, 1, [`rollback|${FAD}#1`], []),
        notificationId(sha256Hex, 'mail', GK, 1, [`alert|${FAD}#1`], []),
      ].sort(),
    )
  })

  it('records every notification as delivered, once, in the outbox and the delivery log', async () => {
    await ks.alerting.delivery.idle(10_000)
    const outbox = await ks.alerting.store.outbox()
    expect(outbox.map((e) => [e.receiver, e.kind, e.state, e.attempts]).sort()).toEqual(
      [
        ['chat', 'alert.firing', 'delivered', 1],
        ['chat', 'rollback.advised', 'delivered', 1],
        ['hooks', 'alert.firing', 'delivered', 1],
        ['hooks', 'rollback.advised', 'delivered', 1],
        ['mail', 'alert.firing', 'delivered', 1],
        ['mail', 'rollback.advised', 'delivered', 1],
      ].sort(),
    )
    const log = await ks.alerting.store.deliveryLog()
    expect(log.map((l) => l.outcome)).toEqual(Array(6).fill('delivered'))
    const metrics = await ks.app.metrics.metrics()
    expect(metrics).toContain('keyshift_notifications_sent_total{receiver="hooks",kind="rollback.advised"} 1')
    expect(metrics).toContain(
      'keyshift_alerts_firing{type="failures_after_deactivation",severity="critical"} 1',
    )
    expect(metrics).toMatch(/keyshift_evaluation_duration_seconds_count [1-9]/)
  })
})

describe('HTTP API: open alerts and silences', () => {
  const api = (path: string, init: RequestInit & { token?: string } = {}) =>
    fetch(new URL(path, ks.app.url()!), {
      ...init,
      headers: {
        ...(init.body ? { 'content-type': 'application/json' } : {}),
        ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      },
    })

  it('lists the open alert and its signal', async () => {
    const res = await api('/api/v1/alerts', { token: READ_TOKEN })
    expect(res.status).toBe(200)
    const { alerts } = (await res.json()) as { alerts: Array<Record<string, unknown>> }
    expect(alerts.map((a) => [a.channel, a.id, a.status, a.silenced_by]).sort()).toEqual([
      ['alert', FAD, 'firing', []],
      ['rollback', FAD, 'firing', []],
    ])
  })

  it('creates, lists and expires a silence; refuses bad requests as problem+json', async () => {
    expect((await api('/api/v1/silences')).status).toBe(401)
    const denied = await api('/api/v1/silences', {
      method: 'POST',
      token: READ_TOKEN,
      body: JSON.stringify({
        matchers: { key: ['acme-*'] },
        duration: '2h',
        created_by: 'ana',
        comment: 'x',
      }),
    })
    expect(denied.status).toBe(403)
    const bad = await api('/api/v1/silences', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: JSON.stringify({ matchers: {}, duration: '2h', created_by: 'ana', comment: 'x' }),
    })
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toContain('application/problem+json')
    expect(((await bad.json()) as { code: string; detail: string }).detail).toContain(
      'give at least one matcher',
    )

    const created = await api('/api/v1/silences', {
      method: 'POST',
      token: ADMIN_TOKEN,
      body: JSON.stringify({
        matchers: { key: ['acme-*'] },
        duration: '2h',
        created_by: 'ana',
        comment: 'INC-42',
      }),
    })
    expect(created.status).toBe(201)
    const { silence } = (await created.json()) as {
      silence: { id: string; state: string; matchers: unknown }
    }
    expect(silence).toMatchObject({ state: 'active', matchers: { key: ['acme-*'] } })

    const alerts = (await (await api('/api/v1/alerts', { token: READ_TOKEN })).json()) as {
      alerts: Array<{ silenced_by: string[] }>
    }
    expect(alerts.alerts.map((a) => a.silenced_by)).toEqual([[silence.id], [silence.id]])

    const list = (await (await api('/api/v1/silences', { token: READ_TOKEN })).json()) as {
      silences: unknown[]
    }
    expect(list.silences).toHaveLength(1)

    const expired = await api(`/api/v1/silences/${silence.id}`, { method: 'DELETE', token: ADMIN_TOKEN })
    expect(expired.status).toBe(200)
    expect(((await expired.json()) as { silence: { state: string } }).silence.state).toBe('expired')
    const after = (await (await api('/api/v1/silences', { token: READ_TOKEN })).json()) as {
      silences: unknown[]
    }
    expect(after.silences).toHaveLength(0)
    const withExpired = (await (
      await api('/api/v1/silences?expired=true', { token: READ_TOKEN })
    ).json()) as {
      silences: unknown[]
    }
    expect(withExpired.silences).toHaveLength(1)

    const missing = await api('/api/v1/silences/sil_nope', { method: 'DELETE', token: ADMIN_TOKEN })
    expect(missing.status).toBe(404)
    expect(missing.headers.get('content-type')).toContain('application/problem+json')
  })

  it('sent nothing more while the silence came and went (no news)', async () => {
    expect(hooks.deliveries).toHaveLength(2)
    expect(hooks.duplicates.size).toBe(0)
  })
})

describe('deactivation readiness signals for automation', () => {
  const key = 'globex-billing'
  const DAY = 86_400_000
  type Event = {
    type: string
    subject?: string
    data: { groupKey: string; alerts: Array<Record<string, unknown>> }
  }
  const about = (type: string) =>
    hooks.deliveries
      .map((d) => d.payload as Event)
      .filter((e) => e.subject === key && e.type === `dev.keyshift.${type}`)

  it('signals deactivation.ready once every rule passes, and deactivation.not_ready when old traffic returns', async () => {
    const now = Date.now()
    await lifecycle(ks.app, key, 'v1', 'activate', now - 3 * DAY)
    await lifecycle(ks.app, key, 'v2', 'activate', now - 2 * DAY)
    await lifecycle(ks.app, key, 'v1', 'deprecate', now - DAY)
    // Clients are on v2 (with no request of the key stored, nothing would show it).
    await produceMessages(brokers, topic, [
      {
        value: gatewayRecord({ keyId: key, version: 'v2', status: 200, time: now, clientId: 'globex-web' }),
      },
    ])
    await waitUntil(() => about('deactivation.ready').length === 1, 30_000, 'deactivation.ready')
    const [ready] = about('deactivation.ready')
    expect(ready!.data.groupKey).toBe(`readiness:type=deactivation_ready,keyId=${key}`)
    expect(ready!.data.alerts).toHaveLength(1)
    expect(ready!.data.alerts[0]).toMatchObject({
      id: `deactivation_ready:${key}:v1:*`,
      type: 'deactivation_ready',
      severity: 'info',
      status: 'firing',
      keyId: key,
      version: 'v1',
      title: `${key} v1 is ready to deactivate`,
      evidence: { verdict: 'ready' },
    })

    // A client shows up on v1 again: the verdict regresses.
    await produceMessages(brokers, topic, [
      {
        value: gatewayRecord({
          keyId: key,
          version: 'v1',
          status: 200,
          time: Date.now(),
          clientId: 'globex-cron',
        }),
      },
    ])
    await waitUntil(() => about('deactivation.not_ready').length === 1, 30_000, 'deactivation.not_ready')
    const [notReady] = about('deactivation.not_ready')
    expect(notReady!.data.alerts[0]).toMatchObject({
      id: `deactivation_not_ready:${key}:v1:*`,
      type: 'deactivation_not_ready',
      severity: 'warning',
      status: 'firing',
      title: `${key} v1 is no longer ready to deactivate`,
    })
    expect(
      String((notReady!.data.alerts[0]!.evidence as Record<string, string>).old_traffic_below_threshold),
    ).toMatch(/^fail: v1 had 1 request\(s\)/)
    // Each signal once.
    await new Promise((r) => setTimeout(r, 4_000))
    expect(about('deactivation.ready')).toHaveLength(1)
    expect(about('deactivation.not_ready')).toHaveLength(1)
    expect(hooks.duplicates.size).toBe(0)
  })
})
