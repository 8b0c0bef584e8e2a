import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { sampleNotification } from '../../../test/kit/notifications.ts'
import { startWebhookReceiver, type WebhookReceiver } from '../../../test/kit/webhook-receiver.ts'
import { ConfigError } from '../../domain/errors.ts'
import { EmailNotifier } from './email.ts'
import type { NotifierLogger } from './notifier.ts'
import { createNotifier, parseReceiverConfig, receiverConfigSchema } from './registry.ts'
import { SlackNotifier } from './slack.ts'
import { WebhookNotifier } from './webhook.ts'

const secret = `whsec_${randomBytes(32).toString('base64')}`
const configs = {
  hooks: { type: 'webhook', url: 'https://receiver.example.com/keyshift?token=tok_abcdef123456', secret },
  chat: { type: 'slack', webhook_url: 'https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXXXXXXXXXXXXX' },
  mail: {
    type: 'email',
    host: 'smtp.example.com',
    user: 'keyshift',
    password: 'hunter2-but-longer',
    from: 'alerts@example.com',
    to: ['oncall@example.com'],
  },
} as const

describe('createNotifier', () => {
  it.each([
    ['hooks', WebhookNotifier, 'webhook'],
    ['chat', SlackNotifier, 'slack'],
    ['mail', EmailNotifier, 'email'],
  ] as const)('builds the %s receiver', (name, cls, kind) => {
    const n = createNotifier(name, parseReceiverConfig(name, configs[name]), {
      logger: pino({ level: 'silent' }),
    })
    expect(n).toBeInstanceOf(cls)
    expect(n.name).toBe(name)
    expect(n.kind).toBe(kind)
  })

  it('never prints a secret when the parsed config is logged or serialised', () => {
    for (const [name, c] of Object.entries(configs)) {
      const parsed = parseReceiverConfig(name, c)
      const text = JSON.stringify(parsed)
      for (const s of ['tok_abcdef123456', secret, 'XXXXXXXXXXXXXXXXXXXXXXXX', 'hunter2-but-longer']) {
        expect(text).not.toContain(s)
      }
      expect(Object.isFrozen(parsed)).toBe(true)
    }
  })
})

describe('receiver config errors', () => {
  it.each([
    [{ type: 'pagerduty' }, '  - receivers.x.type: type must be one of "webhook", "slack", "email"'],
    [{}, '  - receivers.x.type: type must be one of "webhook", "slack", "email"'],
    [{ type: 'slack' }, '  - receivers.x.webhook_url: must be a URL string'],
    [
      { type: 'webhook', url: 'https://r.example.com', secret, timeout_ms: 10 },
      '  - receivers.x.timeout_ms: must be at least 50 ms',
    ],
    [
      { type: 'webhook', url: 'https://r.example.com', secret, timeout_ms: '5s' },
      '  - receivers.x.timeout_ms: must be a number of milliseconds',
    ],
  ])('%o', (input, line) => {
    expect(() => parseReceiverConfig('x', input)).toThrow(`invalid receiver "x":\n${line}`)
  })

  it('checks the receiver name', () => {
    expect(() => parseReceiverConfig('On Call!', configs.chat)).toThrow(
      'receivers.On Call!: receiver names are 1-63 characters: a-z, 0-9, "_" and "-"',
    )
  })

  it('throws ConfigError', () => {
    expect(() => parseReceiverConfig('x', null)).toThrow(ConfigError)
  })

  it('embeds in the daemon configuration as a record of receivers', () => {
    const section = z.record(z.string(), receiverConfigSchema)
    const parsed = section.parse({ hooks: configs.hooks, chat: configs.chat })
    expect(Object.keys(parsed)).toEqual(['hooks', 'chat'])
    expect(parsed.hooks?.type).toBe('webhook')
  })
})

describe('injected dependencies', () => {
  let receiver: WebhookReceiver | undefined
  afterEach(async () => {
    await receiver?.close()
  })

  it('uses the injected fetch and logs failures without secrets', async () => {
    receiver = await startWebhookReceiver({ secret, path: '/in?token=tok_abcdef123456' })
    receiver.setDown(true, { status: 503 })
    const urls: string[] = []
    const countingFetch: typeof fetch = (input, init) => {
      urls.push(String(input))
      return fetch(input, init)
    }
    const lines: Array<{ obj: Record<string, unknown>; msg: string }> = []
    const logger: NotifierLogger = {
      debug: (obj, msg) => lines.push({ obj, msg }),
      warn: (obj, msg) => lines.push({ obj, msg }),
    }
    const n = createNotifier(
      'hooks',
      parseReceiverConfig('hooks', { type: 'webhook', url: receiver.url, secret }),
      {
        fetch: countingFetch,
        logger,
      },
    )
    const r = await n.notify(sampleNotification())
    expect(r).toMatchObject({ ok: false, retry: true })
    expect(urls).toEqual([receiver.url])
    expect(lines).toHaveLength(1)
    expect(lines[0]?.msg).toBe('Webhook delivery attempt failed.')
    expect(lines[0]?.obj).toMatchObject({
      receiver: 'hooks',
      notificationId: 'ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA',
      retry: true,
    })
    expect(JSON.stringify(lines)).not.toContain('tok_abcdef123456')
  })

  it('stamps and signs with the injected clock', async () => {
    receiver = await startWebhookReceiver({ secret })
    const at = Date.now() + 10 * 60_000
    const n = createNotifier(
      'hooks',
      parseReceiverConfig('hooks', { type: 'webhook', url: receiver.url, secret }),
      {
        clock: { now: () => at },
      },
    )
    // Ten minutes ahead is outside the receiver's 5-minute tolerance: it refuses the delivery.
    expect(await n.notify(sampleNotification())).toMatchObject({ ok: false, retry: false })
    expect(receiver.attempts[0]?.headers['webhook-timestamp']).toBe(String(Math.floor(at / 1000)))
    expect(receiver.attempts[0]?.error).toBe('Message timestamp too new')
  })
})
