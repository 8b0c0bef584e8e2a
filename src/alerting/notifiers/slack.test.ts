import { afterEach, describe, expect, it } from 'vitest'
import { sampleAlert, sampleNotification, T0 } from '../../../test/kit/notifications.ts'
import {
  type SlackReceiver,
  startSlackReceiver,
  validateSlackMessage,
} from '../../../test/kit/slack-receiver.ts'
import { type KitPeer, runNotifierKit } from './notifier-kit.test-helper.ts'
import { createNotifier, parseReceiverConfig } from './registry.ts'
import { buildSlackMessage, escapeMrkdwn } from './slack.ts'

function slackNotifier(webhookUrl: string, extra: Record<string, unknown> = {}) {
  return createNotifier(
    'team-chat',
    parseReceiverConfig('team-chat', { type: 'slack', webhook_url: webhookUrl, ...extra }),
  )
}

interface SlackPeer extends KitPeer {
  receiver: SlackReceiver
}

runNotifierKit<SlackPeer>({
  kind: 'slack',
  async start() {
    const receiver = await startSlackReceiver()
    return {
      receiver,
      fail: (code, o) => receiver.setDown(true, { status: code, retryAfter: o?.retryAfterSeconds }),
      hang: () => receiver.setHang(true),
      recover: () => {
        receiver.setDown(false)
        receiver.setHang(false)
      },
      acceptedIds: () => receiver.messages.map((m) => m.notificationId ?? ''),
      close: () => receiver.close(),
    }
  },
  notifier: (p, o) => slackNotifier(p.receiver.url, { timeout_ms: o.timeoutMs }),
  unreachable: (port, o) =>
    slackNotifier(`http://127.0.0.1:${port}/services/T0KEYSHIFT/B0KEYSHIFT/unreachabletoken123`, {
      timeout_ms: o.timeoutMs,
    }),
  secrets: (p) => [p.receiver.token, 'unreachabletoken123'],
  transient: [{ code: 500 }, { code: 503 }, { code: 429, retryAfterSeconds: 30 }],
  permanent: [400, 403, 404, 410],
  idFor: (n) => n.id,
  checkDelivered(p, n) {
    const m = p.receiver.messages.find((x) => x.notificationId === n.id)
    expect(m?.text).toBe(
      ':rotating_light: FIRING critical: rollback advised for acme-payments v1 — Since v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with "revoked".',
    )
    expect(m?.blocks[0]).toEqual({
      type: 'header',
      text: {
        type: 'plain_text',
        text: ':rotating_light: FIRING critical: rollback advised for acme-payments v1',
        emoji: true,
      },
    })
  },
  invalidConfigs: (p) => [
    {
      name: 'plain http to a remote host',
      create: () =>
        parseReceiverConfig('team-chat', {
          type: 'slack',
          webhook_url: `http://hooks.slack.com/services/T0/B0/${p.receiver.token}`,
        }),
      secrets: [],
    },
    {
      name: 'unknown field',
      create: () =>
        parseReceiverConfig('team-chat', { type: 'slack', webhook_url: p.receiver.url, channel: '#ops' }),
      secrets: [],
    },
  ],
})

describe('Slack message', () => {
  it('renders the alert as Block Kit: what, key, version, severity, where, evidence, next steps, link', () => {
    const message = buildSlackMessage(sampleNotification(), {
      dashboardUrl: 'https://grafana.example.com/d/keyshift',
    })
    expect(message).toEqual({
      text: ':rotating_light: FIRING critical: rollback advised for acme-payments v1 — Since v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with "revoked".',
      blocks: [
        {
          type: 'header',
          text: {
            type: 'plain_text',
            text: ':rotating_light: FIRING critical: rollback advised for acme-payments v1',
            emoji: true,
          },
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Rollback advised for acme-payments v1*\nSince v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with "revoked".',
          },
          fields: [
            { type: 'mrkdwn', text: '*Key*\n`acme-payments`' },
            { type: 'mrkdwn', text: '*Version*\n`v1`' },
            { type: 'mrkdwn', text: '*Severity*\ncritical' },
            { type: 'mrkdwn', text: '*Where*\ngateway: kong-eu · client: acme-mobile' },
            { type: 'mrkdwn', text: '*Since*\n2026-11-28 13:00:00 UTC' },
          ],
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*Evidence*\n• failures: 212\n• clients: acme-mobile, acme-batch\n• failure_ratio: 0.0731',
          },
        },
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: '*What to do next*\n1. Reactivate v1 now: `keyshift key reactivate acme-payments v1`\n2. Then move the failing clients listed in the evidence to the new version before deactivating again.',
          },
        },
        {
          type: 'actions',
          elements: [
            {
              type: 'button',
              text: { type: 'plain_text', text: 'Open dashboard' },
              url: 'https://grafana.example.com/d/keyshift',
              action_id: 'keyshift_open_dashboard',
            },
          ],
        },
        {
          type: 'context',
          elements: [
            {
              type: 'mrkdwn',
              text: 'keyshift · receiver `ops` · notification `ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA`',
            },
          ],
        },
      ],
    })
    expect(validateSlackMessage(message)).toEqual([])
  })

  it('says when a notification is resolved, and needs no action', () => {
    const n = sampleNotification({
      kind: 'alert.resolved',
      alerts: [sampleAlert({ status: 'resolved', endsAt: T0 + 600_000 })],
    })
    const m = buildSlackMessage(n)
    expect(
      m.text.startsWith(
        ':white_check_mark: RESOLVED critical: failures after deactivation for acme-payments v1',
      ),
    ).toBe(true)
    const body = JSON.stringify(m.blocks)
    expect(body).toContain('*Resolved at*\\n2026-11-28 13:10:00 UTC')
    expect(body).toContain('No action needed: the condition has cleared.')
    expect(body).not.toContain('Open dashboard')
  })

  it('escapes mrkdwn control characters in alert text (no @channel injection)', () => {
    expect(escapeMrkdwn('<!channel> a & b > c')).toBe('&lt;!channel&gt; a &amp; b &gt; c')
    const n = sampleNotification({
      alerts: [sampleAlert({ title: 'Bad <!channel> & `tick`', labels: { client: '<@U123>' } })],
    })
    const body = JSON.stringify(buildSlackMessage(n))
    expect(body).not.toContain('<!channel>')
    expect(body).not.toContain('<@U123>')
    expect(body).toContain('&lt;!channel&gt; &amp;')
  })

  it('stays within Block Kit limits for a large group and counts what it left out', () => {
    const alerts = Array.from({ length: 20 }, (_, i) =>
      sampleAlert({ keyId: `key-${i}`, summary: 'x'.repeat(5000), evidence: { big: 'y'.repeat(5000) } }),
    )
    const m = buildSlackMessage(sampleNotification({ kind: 'alert.firing', alerts }), {
      dashboardUrl: 'https://d.example.com',
    })
    expect(validateSlackMessage(m)).toEqual([])
    expect(m.blocks.length).toBeLessThanOrEqual(50)
    expect(JSON.stringify(m.blocks)).toContain('+12 more alerts in this group: see the dashboard.')
    expect(m.blocks[1]).toEqual({
      type: 'context',
      elements: [{ type: 'mrkdwn', text: '20 alerts in this group: 20 firing, 0 resolved' }],
    })
  })

  it('renders a test notification without alerts', () => {
    const m = buildSlackMessage(sampleNotification({ kind: 'test', alerts: [] }))
    expect(m.text).toBe(':test_tube: TEST info: test notification for receiver ops')
    expect(validateSlackMessage(m)).toEqual([])
  })
})

describe('Slack delivery', () => {
  let receiver: SlackReceiver | undefined
  afterEach(async () => {
    await receiver?.close()
  })

  it('is accepted by the receiver, with the configured dashboard link', async () => {
    receiver = await startSlackReceiver()
    const notifier = slackNotifier(receiver.url, { dashboard_url: 'https://status.example.com/keyshift' })
    expect(await notifier.notify(sampleNotification())).toEqual({ ok: true })
    expect(receiver.messages[0]?.body).toContain('"url":"https://status.example.com/keyshift"')
  })

  it('reports what Slack said when it refuses a message, without the URL token', async () => {
    receiver = await startSlackReceiver()
    receiver.setDown(true, { status: 404, body: `no_service for ${receiver.url}` })
    const r = await slackNotifier(receiver.url).notify(sampleNotification())
    expect(r).toEqual({
      ok: false,
      retry: false,
      error: `HTTP 404 from ${new URL(receiver.url).origin}/…: no_service for [redacted]`,
    })
  })
})

describe('Slack config', () => {
  it('accepts http only for loopback test receivers', () => {
    expect(() =>
      parseReceiverConfig('c', { type: 'slack', webhook_url: 'http://localhost:9/services/x' }),
    ).not.toThrow()
    expect(() =>
      parseReceiverConfig('c', { type: 'slack', webhook_url: 'http://chat.example.com/services/x' }),
    ).toThrow(
      'receivers.c.webhook_url: must use https:// (plain http is accepted only for localhost test receivers)',
    )
  })

  it('refuses a dashboard link that is not http(s)', () => {
    expect(() =>
      parseReceiverConfig('c', {
        type: 'slack',
        webhook_url: 'https://hooks.slack.com/services/T/B/x',
        dashboard_url: 'javascript:alert(1)',
      }),
    ).toThrow('receivers.c.dashboard_url: must be an absolute http:// or https:// URL')
  })
})
