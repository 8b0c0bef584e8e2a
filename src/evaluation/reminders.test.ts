import { pino } from 'pino'
import { describe, expect, it } from 'vitest'
import { MemoryAlertStore } from '../alerting/memory-store.test-helper.ts'
import type { EmailMessage } from '../alerting/notifiers/email.ts'
import type { DeliveryResult } from '../alerting/notifiers/notifier.ts'
import { T0 } from '../alerting/pipeline/fixtures.test-helper.ts'
import { keyVersion } from '../analysis/fixtures.ts'
import type { StragglerReport } from '../analysis/stragglers.ts'
import { OwnerReminders } from './reminders.ts'

const DAY = 86_400_000
const versions = [
  keyVersion('v1', {
    state: 'deprecated',
    owners: ['payments-team@example.com', 'not-an-email'],
    createdAt: 1,
  }),
  keyVersion('v2', { state: 'active', owners: ['payments-team@example.com'], createdAt: 2 }),
  keyVersion('v1', { keyId: 'no-owner', state: 'deprecated', createdAt: 1 }),
]
const report: StragglerReport = {
  moved: [],
  stragglers: [
    {
      clientId: 'acme-batch',
      requests: 42,
      failures: 0,
      firstSeen: T0 - DAY,
      lastSeen: T0 - 60_000,
      partiallyMigrated: false,
      newerVersionsUsed: [],
      newerRequests: 0,
      sourceAddresses: [],
      userAgents: [],
      gateways: [],
      routes: ['/v1/pay'],
    },
  ],
}

function reminders(store: MemoryAlertStore, answers: DeliveryResult[] = [{ ok: true }]) {
  const sent: EmailMessage[] = []
  const r = new OwnerReminders({
    versions: () => versions,
    stragglers: async () => report,
    store,
    send: async (m) => {
      sent.push(m)
      return answers[Math.min(sent.length - 1, answers.length - 1)]!
    },
    intervalMs: DAY,
    logger: pino({ level: 'silent' }),
  })
  return { r, sent }
}

describe('OwnerReminders', () => {
  it('emails the owners of deprecated versions once per interval, across restarts', async () => {
    const store = new MemoryAlertStore()
    const a = reminders(store)
    expect(await a.r.run(T0)).toBe(1)
    expect(a.sent.map((m) => [m.to, m.subject])).toEqual([
      [['payments-team@example.com'], '[keyshift] Reminder: 1 client still uses acme v1'],
    ])
    expect(await a.r.run(T0 + 3_600_000)).toBe(0)

    const restarted = reminders(store)
    expect(await restarted.r.run(T0 + 2 * 3_600_000)).toBe(0)
    expect(await restarted.r.run(T0 + DAY)).toBe(1)
  })

  it('tries a failed reminder again at the next run', async () => {
    const store = new MemoryAlertStore()
    const a = reminders(store, [{ ok: false, retry: true, error: 'SMTP 421' }, { ok: true }])
    expect(await a.r.run(T0)).toBe(0)
    expect(await a.r.run(T0 + 60_000)).toBe(1)
    expect(a.sent).toHaveLength(2)
  })
})
