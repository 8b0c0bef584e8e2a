// Email receiver over SMTP (nodemailer): one message per notification with a
// plain-text and an HTML part, a digest when the group holds several alerts,
// and opt-in owner reminders listing the clients still on an old version.
// SMTP replies are classified here: 4xx and connection failures retry, 5xx do not.
import { readFileSync } from 'node:fs'
import type { NodemailerError, SMTPTransportOptions, Transporter } from 'nodemailer'
import nodemailer from 'nodemailer'
import { z } from 'zod'
import { Secret } from '../../config/secret.ts'
import type { Notification } from '../../domain/alert.ts'
import { ConfigError } from '../../domain/errors.ts'
import { buildAlertEmail, type EmailMessage, isMailbox, messageIdFor } from './email-message.ts'
import {
  type Clock,
  type DeliveryResult,
  excerpt,
  type Notifier,
  type NotifierDeps,
  type NotifierLogger,
  systemClock,
} from './notifier.ts'
import { isLoopbackHost, linkUrl, receiverObject, timeoutMs } from './schema-parts.ts'

export {
  buildAlertEmail,
  buildOwnerReminder,
  type EmailMessage,
  escapeHtml,
  isMailbox,
  messageIdFor,
  type ReminderStraggler,
} from './email-message.ts'

// ---------------------------------------------------------------- config

const mailbox = z
  .string()
  .refine(isMailbox, 'must be an email address, e.g. alerts@example.com or "keyshift <alerts@example.com>"')

export const emailConfigSchema = receiverObject('email', {
  type: z.literal('email'),
  host: z.string().min(1, 'must name the SMTP server, e.g. smtp.example.com'),
  /** Default 465 when `secure`, else 587. */
  port: z.number().int().min(1).max(65_535, 'must be a TCP port (1-65535)').optional(),
  /** Implicit TLS from the first byte (port 465). */
  secure: z.boolean().default(false),
  /** When not `secure`: require the STARTTLS upgrade and fail if the server does not offer it. */
  starttls: z.boolean().default(true),
  tls: z
    .strictObject(
      {
        reject_unauthorized: z.boolean().default(true),
        /** PEM file of the CA (or self-signed certificate) that signs the server's certificate. */
        ca_file: z.string().min(1).optional(),
        /** Name to verify the certificate against, when it differs from `host`. */
        servername: z.string().min(1).optional(),
      },
      {
        error: (issue) =>
          issue.code === 'unrecognized_keys'
            ? `unknown field(s) ${issue.keys.join(', ')}: tls accepts reject_unauthorized, ca_file, servername`
            : undefined,
      },
    )
    .prefault({}),
  user: z.string().min(1).optional(),
  /** Kept as a Secret; never appears in errors or logs. */
  password: z
    .string()
    .min(1, 'must not be empty')
    .transform((v) => new Secret(v))
    .optional(),
  from: mailbox,
  to: z.array(mailbox).min(1, 'list at least one recipient address'),
  timeout_ms: timeoutMs(10_000),
  /** Dashboard or status page linked from every message (a notification's own link wins). */
  dashboard_url: linkUrl.optional(),
}).superRefine((c, ctx) => {
  if ((c.user === undefined) !== (c.password === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: [c.user === undefined ? 'user' : 'password'],
      message: 'set both user and password for SMTP authentication, or neither',
    })
  }
  if (c.password !== undefined && !c.secure && !c.starttls && !isLoopbackHost(c.host)) {
    ctx.addIssue({
      code: 'custom',
      path: ['starttls'],
      message:
        'the password would cross the network in clear text: set starttls: true (port 587) or secure: true (port 465)',
    })
  }
})

export type EmailConfig = z.output<typeof emailConfigSchema>
export type EmailConfigInput = z.input<typeof emailConfigSchema>

// ---------------------------------------------------------------- delivery

/** Nodemailer error codes that mean the connection failed, not that the message was refused. */
const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'EPROXY',
  'EABORT',
  'ESTREAM',
])

/**
 * Classifies a nodemailer failure. With an SMTP reply: 4xx retry, 5xx permanent.
 * Without one: connection-level failures retry; authentication, TLS and
 * configuration failures are permanent (they need a person to fix them).
 */
export function classifySmtpError(
  err: unknown,
  ctx: { timedOut: boolean; aborted: boolean; timeoutMs: number; secrets: readonly string[] },
): Extract<DeliveryResult, { ok: false }> {
  if (ctx.timedOut)
    return { ok: false, retry: true, error: `SMTP: no answer within ${ctx.timeoutMs} ms (timeout)` }
  if (ctx.aborted) return { ok: false, retry: true, error: 'SMTP: delivery aborted' }
  const e = (typeof err === 'object' && err !== null ? err : {}) as NodemailerError
  const code = typeof e.code === 'string' ? e.code : undefined
  const said = excerpt(String(e.response ?? e.message ?? err), ctx.secrets)
  const rc = typeof e.responseCode === 'number' ? e.responseCode : undefined
  if (rc !== undefined && rc >= 400 && rc <= 599) {
    const retry = rc < 500
    const command = e.command?.split(' ')[0]?.toUpperCase()
    const hint =
      code === 'EAUTH'
        ? ' (check user and password)'
        : command === 'STARTTLS'
          ? ' (the server does not offer STARTTLS: use secure: true for implicit TLS, or starttls: false)'
          : ''
    return { ok: false, retry, error: `SMTP ${rc}${command ? ` after ${command}` : ''}${hint}: ${said}` }
  }
  const detail = e.originalCode ? `${code}/${e.originalCode}` : (code ?? 'error')
  if (
    code === 'ETLS' ||
    (code === 'ESOCKET' && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|SSL/i.test(`${e.originalCode ?? ''} ${said}`))
  ) {
    return {
      ok: false,
      retry: false,
      error: `SMTP TLS failure (${detail}): ${said}; set tls.ca_file or fix the server certificate`,
    }
  }
  if (code === 'EAUTH' || code === 'ENOAUTH') {
    return {
      ok: false,
      retry: false,
      error: `SMTP authentication failed (${detail}): ${said}; check user and password`,
    }
  }
  if (code === 'ETIMEDOUT') {
    return { ok: false, retry: true, error: `SMTP timed out (${detail}): ${said}` }
  }
  if (code !== undefined && TRANSIENT_CODES.has(code)) {
    return { ok: false, retry: true, error: `SMTP connection failure (${detail}): ${said}` }
  }
  if (code === 'ECONFIG' || code === 'EENVELOPE' || code === 'EMESSAGE') {
    return { ok: false, retry: false, error: `SMTP message refused (${detail}): ${said}` }
  }
  return { ok: false, retry: true, error: `SMTP failure (${detail}): ${said}` }
}

export class EmailNotifier implements Notifier {
  readonly kind = 'email' as const
  readonly name: string
  readonly #config: EmailConfig
  readonly #transport: Transporter
  readonly #clock: Clock
  readonly #logger: NotifierLogger | undefined
  readonly #secrets: string[]

  constructor(name: string, config: EmailConfig, deps: NotifierDeps = {}) {
    this.name = name
    this.#config = config
    this.#clock = deps.clock ?? systemClock
    this.#logger = deps.logger
    let ca: string | undefined
    if (config.tls.ca_file !== undefined) {
      try {
        ca = readFileSync(config.tls.ca_file, 'utf8')
      } catch (cause) {
        throw new ConfigError(
          `receivers.${name}.tls.ca_file: cannot read ${config.tls.ca_file}; point it at a readable PEM file`,
          { cause },
        )
      }
    }
    const pass = config.password?.reveal()
    const user = config.user
    this.#secrets =
      pass === undefined
        ? []
        : [
            pass,
            Buffer.from(pass).toString('base64'),
            Buffer.from(`\u0000${user}\u0000${pass}`).toString('base64'),
          ]
    const options: SMTPTransportOptions = {
      host: config.host,
      port: config.port ?? (config.secure ? 465 : 587),
      secure: config.secure,
      requireTLS: !config.secure && config.starttls,
      tls: {
        rejectUnauthorized: config.tls.reject_unauthorized,
        ...(ca === undefined ? {} : { ca }),
        ...(config.tls.servername === undefined ? {} : { servername: config.tls.servername }),
      },
      connectionTimeout: config.timeout_ms,
      greetingTimeout: config.timeout_ms,
      socketTimeout: config.timeout_ms,
      disableFileAccess: true,
      disableUrlAccess: true,
      ...(user !== undefined && pass !== undefined ? { auth: { user, pass } } : {}),
    }
    this.#transport = nodemailer.createTransport(options)
  }

  async notify(n: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const message = buildAlertEmail(n, { to: [...this.#config.to], dashboardUrl: this.#config.dashboard_url })
    message.messageId = messageIdFor(n.id, this.#config.from)
    const result = await this.send(message, signal)
    if (!result.ok) {
      this.#logger?.debug(
        { receiver: this.name, notificationId: n.id, retry: result.retry, error: result.error },
        'Email delivery attempt failed.',
      )
    }
    return result
  }

  /** Sends any message (alerts, owner reminders) from the configured sender; one attempt. */
  async send(message: EmailMessage, signal?: AbortSignal): Promise<DeliveryResult> {
    if (message.to.length === 0) return { ok: false, retry: false, error: 'no recipient address to send to' }
    const timeout = AbortSignal.timeout(this.#config.timeout_ms)
    const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
    try {
      const info = await this.#transport.sendMail({
        from: this.#config.from,
        to: message.to,
        subject: message.subject,
        text: message.text,
        html: message.html,
        date: new Date(this.#clock.now()),
        headers: { 'Auto-Submitted': 'auto-generated', ...message.headers },
        ...(message.messageId === undefined ? {} : { messageId: message.messageId }),
        signal: combined,
      })
      const rejected = (info as { rejected?: unknown[] }).rejected ?? []
      if (rejected.length > 0) {
        this.#logger?.warn(
          { receiver: this.name, rejected: rejected.length, accepted: message.to.length - rejected.length },
          'SMTP server refused some recipients; the others got the message.',
        )
      }
      return { ok: true }
    } catch (err) {
      return classifySmtpError(err, {
        timedOut: timeout.aborted,
        aborted: signal?.aborted === true,
        timeoutMs: this.#config.timeout_ms,
        secrets: this.#secrets,
      })
    }
  }
}
