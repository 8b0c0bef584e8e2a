import { afterEach, describe, expect, it } from 'vitest'
import { sampleAlert, sampleNotification, T0 } from '../../../test/kit/notifications.ts'
import { SMTP_TEST_CERT_FILE, startSmtpServer, type TestSmtpServer } from '../../../test/kit/smtp-server.ts'
import { ConfigError } from '../../domain/errors.ts'
import type { KeyVersion } from '../../domain/key-version.ts'
import {
  buildOwnerReminder,
  classifySmtpError,
  EmailNotifier,
  escapeHtml,
  isMailbox,
  messageIdFor,
} from './email.ts'
import { type KitPeer, runNotifierKit } from './notifier-kit.test-helper.ts'
import { createNotifier, parseReceiverConfig } from './registry.ts'

const USER = 'keyshift'
const PASSWORD = 'p4ss-w0rd!Zq7'
const fixedClock = { now: () => T0 + 61_000 }

function emailReceiver(port: number, extra: Record<string, unknown> = {}) {
  return parseReceiverConfig('oncall-mail', {
    type: 'email',
    host: '127.0.0.1',
    port,
    starttls: false,
    user: USER,
    password: PASSWORD,
    from: 'keyshift <alerts@keyshift.example>',
    to: ['oncall@acme.example', 'security@acme.example'],
    ...extra,
  })
}

function emailNotifier(port: number, extra: Record<string, unknown> = {}) {
  return createNotifier('oncall-mail', emailReceiver(port, extra), { clock: fixedClock })
}

interface SmtpPeer extends KitPeer {
  server: TestSmtpServer
}

const credentialForms = [
  PASSWORD,
  Buffer.from(PASSWORD).toString('base64'),
  Buffer.from(`\u0000${USER}\u0000${PASSWORD}`).toString('base64'),
]

runNotifierKit<SmtpPeer>({
  kind: 'email',
  async start() {
    const server = await startSmtpServer({ auth: { user: USER, pass: PASSWORD } })
    return {
      server,
      fail: (code) => server.setReject({ code, stage: 'rcpt' }),
      hang: () => server.setHang(true),
      recover: () => {
        server.setReject(null)
        server.setHang(false)
      },
      acceptedIds: () => server.messages.map((m) => m.messageId ?? ''),
      close: () => server.close(),
    }
  },
  notifier: (p, o) => emailNotifier(p.server.port, { timeout_ms: o.timeoutMs }),
  unreachable: (port, o) => emailNotifier(port, { timeout_ms: o.timeoutMs }),
  secrets: () => credentialForms,
  transient: [{ code: 421 }, { code: 450 }, { code: 451 }, { code: 452 }],
  permanent: [550, 551, 553, 554],
  idFor: (n) => `<${n.id}@keyshift.example>`,
  checkDelivered(p, n) {
    const m = p.server.messages.find((x) => x.messageId === `<${n.id}@keyshift.example>`)
    expect(m?.subject).toBe('[keyshift] FIRING critical: rollback advised for acme-payments v1')
    expect(p.server.envelopes.at(-1)?.user).toBe(USER)
  },
  invalidConfigs: (p) => [
    {
      name: 'password in clear text to a remote host',
      create: () =>
        parseReceiverConfig('m', {
          type: 'email',
          host: 'smtp.example.com',
          starttls: false,
          user: USER,
          password: PASSWORD,
          from: 'a@example.com',
          to: ['b@example.com'],
        }),
      secrets: [],
    },
    {
      name: 'unreadable ca_file',
      create: () => emailNotifier(p.server.port, { tls: { ca_file: '/nonexistent/ca.pem' } }),
      secrets: [],
    },
    {
      name: 'password without user',
      create: () =>
        parseReceiverConfig('m', {
          type: 'email',
          host: 'h',
          password: PASSWORD,
          from: 'a@example.com',
          to: ['b@example.com'],
        }),
      secrets: [],
    },
  ],
})

const SINGLE_TEXT = `FIRING critical: rollback advised for acme-payments v1

Rollback advised for acme-payments v1
Since v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with "revoked".

  Key:       acme-payments
  Version:   v1
  Severity:  critical
  Status:    firing since 2026-11-28 13:00:00 UTC
  Where:     gateway: kong-eu · client: acme-mobile

Evidence
  - failures: 212
  - clients: acme-mobile, acme-batch
  - failure_ratio: 0.0731

What to do next
  1. Reactivate v1 now: \`keyshift key reactivate acme-payments v1\`
  2. Then move the failing clients listed in the evidence to the new version before deactivating again.

Dashboard: https://grafana.example.com/d/keyshift?var-key=acme-payments&from=now-6h

-- 
keyshift · receiver ops · notification ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA
`

const TH = '<th align="left" style="padding:2px 12px 2px 0">'
const SINGLE_HTML = `<!doctype html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px;color:#1d1d1f">
<h2 style="margin:0 0 8px">FIRING critical: rollback advised for acme-payments v1</h2>
<h3 style="margin:16px 0 4px">Rollback advised for acme-payments v1</h3>
<p style="margin:0 0 8px">Since v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with &quot;revoked&quot;.</p>
<table style="border-collapse:collapse"><tr>${TH}Key</th><td>acme-payments</td></tr><tr>${TH}Version</th><td>v1</td></tr><tr>${TH}Severity</th><td>critical</td></tr><tr>${TH}Status</th><td>firing since 2026-11-28 13:00:00 UTC</td></tr><tr>${TH}Where</th><td>gateway: kong-eu · client: acme-mobile</td></tr></table>
<h4 style="margin:12px 0 4px">Evidence</h4><ul><li>failures: 212</li><li>clients: acme-mobile, acme-batch</li><li>failure_ratio: 0.0731</li></ul>
<h4 style="margin:12px 0 4px">What to do next</h4><ol><li>Reactivate v1 now: <code>keyshift key reactivate acme-payments v1</code></li><li>Then move the failing clients listed in the evidence to the new version before deactivating again.</li></ol>
<p><a href="https://grafana.example.com/d/keyshift?var-key=acme-payments&amp;from=now-6h">Open the dashboard</a></p>
<p style="color:#6e6e73;font-size:12px">keyshift · receiver ops · notification ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA</p>
</body></html>
`

const DIGEST_TEXT = `FIRING critical: failures after deactivation for acme-payments v1 (+2 more)

3 alerts in this group: 2 firing, 1 resolved.
  1. [FIRING critical] Rollback advised for acme-payments v1
  2. [FIRING warning] Migration of acme-payments stalled at 92%
  3. [RESOLVED info] Failure spike on acme-payments v2

--- 1/3 ---
Rollback advised for acme-payments v1
Since v1 was deactivated 4 minutes ago, 212 requests from 2 clients failed with "revoked".

  Key:       acme-payments
  Version:   v1
  Severity:  critical
  Status:    firing since 2026-11-28 13:00:00 UTC
  Where:     gateway: kong-eu · client: acme-mobile

Evidence
  - failures: 212
  - clients: acme-mobile, acme-batch
  - failure_ratio: 0.0731

What to do next
  1. Reactivate v1 now: \`keyshift key reactivate acme-payments v1\`
  2. Then move the failing clients listed in the evidence to the new version before deactivating again.

--- 2/3 ---
Migration of acme-payments stalled at 92%
v1 still carries 8% of traffic; unchanged for 3 days.

  Key:       acme-payments
  Version:   v1
  Severity:  warning
  Status:    firing since 2026-11-28 13:00:00 UTC
  Where:     all gateways and clients

Evidence
  - old_share: 0.08
  - stragglers: 2

What to do next
  1. Contact the clients still on v1 (listed in the evidence); the owner reminder email lists them per client.
  2. Extend v1's expiry rather than deactivating it while it carries traffic.

--- 3/3 ---
Failure spike on acme-payments v2
Failures fell back to 0.1%.

  Key:       acme-payments
  Version:   v2
  Severity:  info
  Status:    resolved at 2026-11-28 13:05:00 UTC
  Where:     gateway: envoy-us

What to do next
  1. No action needed: the condition has cleared.

-- 
keyshift · receiver ops · notification ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA
`

const REMINDER_TEXT = `Hello,

You are listed as an owner of the API key acme-payments.
Its version v1 was deprecated on 2026-11-14 13:00:00 UTC and expires on 2026-12-05 13:00:00 UTC.
These 2 clients still use it (as of 2026-11-28 13:00:00 UTC):

  Client           Requests  Last seen                Routes
  acme-mobile-ios  48,210    2026-11-28 12:59:00 UTC  /v1/payments, /v1/payments/{id}
  acme-batch       120       2026-11-28 12:00:00 UTC  /v1/refunds

Please move them to the current version before v1 is deactivated; requests with v1 will fail after that.

Dashboard: https://grafana.example.com/d/keyshift?var-key=acme-payments

-- 
keyshift · You receive this reminder because owner reminders are enabled for this key.
`

const DAY = 86_400_000
const oldVersion: KeyVersion = {
  keyId: 'acme-payments',
  version: 'v1',
  state: 'deprecated',
  createdAt: T0 - 90 * DAY,
  activatedAt: T0 - 90 * DAY,
  deprecatedAt: T0 - 14 * DAY,
  deactivatedAt: null,
  expiresAt: T0 + 7 * DAY,
  scopes: ['payments:write'],
  owners: ['payments-team@acme.example', '#payments-oncall', 'Dana Ruiz <dana@acme.example>'],
  fingerprints: [],
}
const stragglers = [
  { clientId: 'acme-batch', requests: 120, lastSeen: T0 - 3_600_000, routes: ['/v1/refunds'] },
  {
    clientId: 'acme-mobile-ios',
    requests: 48_210,
    lastSeen: T0 - 60_000,
    routes: ['/v1/payments', '/v1/payments/{id}'],
  },
]

describe('email delivered through a real SMTP server', () => {
  let server: TestSmtpServer | undefined
  afterEach(async () => {
    await server?.close()
    server = undefined
  })

  it('sends one alert as a text + HTML message, with a stable Message-ID', async () => {
    server = await startSmtpServer({ auth: { user: USER, pass: PASSWORD } })
    const n = sampleNotification({
      dashboardUrl: 'https://grafana.example.com/d/keyshift?var-key=acme-payments&from=now-6h',
    })
    expect(await emailNotifier(server.port).notify(n)).toEqual({ ok: true })
    const m = server.messages[0]
    expect(m?.subject).toBe('[keyshift] FIRING critical: rollback advised for acme-payments v1')
    expect(m?.text).toBe(SINGLE_TEXT)
    expect(m?.html).toBe(SINGLE_HTML)
    expect(m?.messageId).toBe('<ntf_01JDZ5K3W8Q4R7X2M9V6B1C0AA@keyshift.example>')
    expect(m?.date?.getTime()).toBe(T0 + 61_000)
    expect(m?.headers.get('auto-submitted')).toBe('auto-generated')
    expect(m?.headers.get('x-keyshift-kind')).toBe('rollback.advised')
    expect(m?.headers.get('x-keyshift-group-key')).toBe('keyId=acme-payments')
    expect(server.envelopes[0]).toEqual({
      from: 'alerts@keyshift.example',
      to: ['oncall@acme.example', 'security@acme.example'],
      user: USER,
    })
  })

  it('sends a group of alerts as one digest', async () => {
    server = await startSmtpServer({ auth: { user: USER, pass: PASSWORD } })
    const n = sampleNotification({
      kind: 'alert.firing',
      alerts: [
        sampleAlert({
          type: 'migration_stalled',
          severity: 'warning',
          title: 'Migration of acme-payments stalled at 92%',
          summary: 'v1 still carries 8% of traffic; unchanged for 3 days.',
          evidence: { old_share: 0.08, stragglers: 2 },
          labels: {},
        }),
        sampleAlert(),
        sampleAlert({
          type: 'failure_spike',
          severity: 'info',
          status: 'resolved',
          version: 'v2',
          endsAt: T0 + 300_000,
          title: 'Failure spike on acme-payments v2',
          summary: 'Failures fell back to 0.1%.',
          evidence: {},
          labels: { gateway: 'envoy-us' },
        }),
      ],
    })
    expect(await emailNotifier(server.port).notify(n)).toEqual({ ok: true })
    const m = server.messages[0]
    expect(m?.subject).toBe(
      '[keyshift] FIRING critical: failures after deactivation for acme-payments v1 (+2 more)',
    )
    expect(m?.text).toBe(DIGEST_TEXT)
    expect(m?.html).toContain(
      '<ol><li>[FIRING critical] Rollback advised for acme-payments v1</li><li>[FIRING warning] Migration of acme-payments stalled at 92%</li><li>[RESOLVED info] Failure spike on acme-payments v2</li></ol>',
    )
    expect((m?.html || '').match(/<hr>/g)).toHaveLength(3)
  })

  it('escapes everything that comes from events in the HTML part', async () => {
    server = await startSmtpServer({ auth: { user: USER, pass: PASSWORD } })
    const n = sampleNotification({
      alerts: [
        sampleAlert({
          title: 'Client <script>alert(1)</script> failing',
          labels: { client: '"><img src=x onerror=alert(2)>' },
          evidence: { user_agent: '<b>curl</b> & co' },
        }),
      ],
      dashboardUrl: 'https://d.example.com/?q="><script>',
    })
    expect(await emailNotifier(server.port).notify(n)).toEqual({ ok: true })
    const html = server.messages[0]?.html || ''
    expect(html).not.toMatch(/<script|<img|<b>/)
    expect(html).toContain(
      '<h3 style="margin:16px 0 4px">Client &lt;script&gt;alert(1)&lt;/script&gt; failing</h3>',
    )
    expect(html).toContain('<td>client: &quot;&gt;&lt;img src=x onerror=alert(2)&gt;</td>')
    expect(html).toContain('<li>user_agent: &lt;b&gt;curl&lt;/b&gt; &amp; co</li>')
    expect(html).toContain('<a href="https://d.example.com/?q=&quot;&gt;&lt;script&gt;">')
  })

  it('sends an owner reminder to the owners that are email addresses', async () => {
    server = await startSmtpServer({ auth: { user: USER, pass: PASSWORD } })
    const reminder = buildOwnerReminder(oldVersion, stragglers, {
      asOf: T0,
      dashboardUrl: 'https://grafana.example.com/d/keyshift?var-key=acme-payments',
    })
    expect(reminder.to).toEqual(['payments-team@acme.example', 'Dana Ruiz <dana@acme.example>'])
    const notifier = createNotifier('oncall-mail', emailReceiver(server.port), { clock: fixedClock })
    if (!(notifier instanceof EmailNotifier)) throw new Error('expected an EmailNotifier')
    expect(await notifier.send(reminder)).toEqual({ ok: true })
    const m = server.messages[0]
    expect(m?.subject).toBe('[keyshift] Reminder: 2 clients still use acme-payments v1')
    expect(m?.text).toBe(REMINDER_TEXT)
    expect(m?.html).toContain(
      '<tr><td style="padding:2px 12px 2px 0">acme-mobile-ios</td><td style="padding:2px 12px 2px 0">48,210</td><td style="padding:2px 12px 2px 0">2026-11-28 12:59:00 UTC</td><td style="padding:2px 12px 2px 0">/v1/payments, /v1/payments/{id}</td></tr>',
    )
    expect(server.envelopes[0]?.to).toEqual(['payments-team@acme.example', 'dana@acme.example'])
  })

  it('has nobody to remind without stragglers or email owners', () => {
    expect(buildOwnerReminder(oldVersion, []).to).toEqual([])
    expect(buildOwnerReminder({ ...oldVersion, owners: ['#payments'] }, stragglers).to).toEqual([])
    const one = buildOwnerReminder(oldVersion, stragglers.slice(0, 1))
    expect(one.subject).toBe('[keyshift] Reminder: 1 client still uses acme-payments v1')
    expect(one.text).toContain('\nThis client still uses it:\n')
  })

  it('requires STARTTLS by default and verifies the certificate against tls.ca_file', async () => {
    server = await startSmtpServer({ tls: 'starttls', auth: { user: USER, pass: PASSWORD } })
    const port = server.port
    const withCa = emailNotifier(port, { starttls: true, tls: { ca_file: SMTP_TEST_CERT_FILE } })
    expect(await withCa.notify(sampleNotification())).toEqual({ ok: true })
    const untrusted = await emailNotifier(port, { starttls: true }).notify(sampleNotification())
    expect(untrusted).toMatchObject({ ok: false, retry: false })
    if (!untrusted.ok) expect(untrusted.error).toContain('set tls.ca_file or fix the server certificate')
    const unchecked = emailNotifier(port, { starttls: true, tls: { reject_unauthorized: false } })
    expect(await unchecked.notify(sampleNotification())).toEqual({ ok: true })
    expect(server.messages).toHaveLength(2)
  })

  it('fails permanently when STARTTLS is required but not offered', async () => {
    server = await startSmtpServer({})
    const r = await createNotifier(
      'm',
      parseReceiverConfig('m', {
        type: 'email',
        host: '127.0.0.1',
        port: server.port,
        from: 'a@keyshift.example',
        to: ['b@acme.example'],
      }),
    ).notify(sampleNotification())
    expect(r).toEqual({
      ok: false,
      retry: false,
      error:
        'SMTP 500 after STARTTLS (the server does not offer STARTTLS: use secure: true for implicit TLS, or starttls: false): 500 Error: command not recognized',
    })
  })

  it('speaks implicit TLS with secure: true', async () => {
    server = await startSmtpServer({ tls: 'implicit' })
    const r = await createNotifier(
      'm',
      parseReceiverConfig('m', {
        type: 'email',
        host: '127.0.0.1',
        port: server.port,
        secure: true,
        tls: { ca_file: SMTP_TEST_CERT_FILE },
        from: 'a@keyshift.example',
        to: ['b@acme.example'],
      }),
    ).notify(sampleNotification())
    expect(r).toEqual({ ok: true })
  })

  it('does not retry a refused login, and never shows the password even when the server echoes it', async () => {
    server = await startSmtpServer({
      auth: { user: USER, pass: 'the-right-one' },
      echoCredentialsOnAuthFailure: true,
    })
    const r = await emailNotifier(server.port).notify(sampleNotification())
    expect(r).toEqual({
      ok: false,
      retry: false,
      error:
        'SMTP 535 after AUTH (check user and password): 535 5.7.8 Authentication credentials invalid for keyshift:[redacted]',
    })
    expect(server.authFailures).toBe(1)
  })

  it.each([
    [452, 'data', true],
    [554, 'data', false],
    [421, 'mail', true],
    [553, 'mail', false],
    [421, 'connect', true],
  ] as const)('classifies %d at %s (retry: %s)', async (code, stage, retry) => {
    server = await startSmtpServer({ auth: { user: USER, pass: PASSWORD } })
    server.setReject({ code, stage })
    const r = await emailNotifier(server.port).notify(sampleNotification())
    expect(r).toMatchObject({ ok: false, retry })
    expect(server.messages).toHaveLength(0)
  })
})

describe('SMTP error classification', () => {
  const ctx = { timedOut: false, aborted: false, timeoutMs: 1000, secrets: [PASSWORD] }
  it.each([
    [{ code: 'EENVELOPE', responseCode: 451, response: '451 try later' }, true],
    [{ code: 'EMESSAGE', responseCode: 552, response: '552 too big' }, false],
    [{ code: 'EAUTH', responseCode: 454, response: '454 temporary auth failure' }, true],
    [{ code: 'EAUTH', response: 'no mechanism' }, false],
    [{ code: 'ESOCKET', originalCode: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, true],
    [{ code: 'ECONNECTION', message: 'Connection closed unexpectedly' }, true],
    [{ code: 'ETIMEDOUT', message: 'Greeting never received' }, true],
    [{ code: 'EDNS', message: 'getaddrinfo EAI_AGAIN' }, true],
    [{ code: 'ETLS', message: 'certificate has expired' }, false],
    [{ code: 'ECONFIG', message: 'bad option' }, false],
    [new Error('something odd'), true],
  ])('%o → retry %s', (err, retry) => {
    expect(classifySmtpError(err, ctx).retry).toBe(retry)
  })

  it('reports a timeout as such', () => {
    expect(classifySmtpError(new Error('x'), { ...ctx, timedOut: true })).toEqual({
      ok: false,
      retry: true,
      error: 'SMTP: no answer within 1000 ms (timeout)',
    })
  })
})

describe('email helpers and config', () => {
  it('escapes HTML', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;')
  })

  it('derives a Message-ID from the notification id and the sender domain', () => {
    expect(messageIdFor('ntf 1<2>', 'keyshift <alerts@keyshift.example>')).toBe('<ntf-1-2-@keyshift.example>')
    expect(messageIdFor('n1', 'alerts@example.org')).toBe('<n1@example.org>')
  })

  it.each([
    ['alerts@example.com', true],
    ['keyshift <alerts@example.com>', true],
    ['"Ops, EU" <ops@example.com>', true],
    ['#payments', false],
    ['a@b.c\r\nBcc: x@evil.example', false],
  ])('isMailbox(%j) = %s', (v, ok) => {
    expect(isMailbox(v)).toBe(ok)
  })

  it('defaults to STARTTLS on 587 and explains bad fields', () => {
    const c = parseReceiverConfig('m', {
      type: 'email',
      host: 'smtp.example.com',
      from: 'a@example.com',
      to: ['b@example.com'],
    })
    expect(c).toMatchObject({
      secure: false,
      starttls: true,
      tls: { reject_unauthorized: true },
      timeout_ms: 10_000,
    })
    expect(() =>
      parseReceiverConfig('m', {
        type: 'email',
        host: 'smtp.example.com',
        from: 'not an address',
        to: [],
        smtp_port: 25,
      }),
    ).toThrow(ConfigError)
    try {
      parseReceiverConfig('m', {
        type: 'email',
        host: 'smtp.example.com',
        from: 'not an address',
        to: [],
        smtp_port: 25,
      })
    } catch (err) {
      expect((err as Error).message).toBe(
        [
          'invalid receiver "m":',
          '  - receivers.m.from: must be an email address, e.g. alerts@example.com or "keyshift <alerts@example.com>"',
          '  - receivers.m.to: list at least one recipient address',
          '  - receivers.m: unknown field(s) "smtp_port": remove them; an email receiver accepts type, host, port, secure, starttls, tls, user, password, from, to, timeout_ms, dashboard_url',
        ].join('\n'),
      )
    }
  })
})
