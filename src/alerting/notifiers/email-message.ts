// The messages the email notifier sends, as pure functions: an alert email
// (one alert, or a digest of a group) and the opt-in owner reminder listing the
// clients still on an old version. Plain text and HTML are built side by side;
// every dynamic string is escaped in the HTML part.
import type { Alert, Notification } from '../../domain/alert.ts'
import type { KeyVersion } from '../../domain/key-version.ts'
import {
  evidenceLines,
  evidenceValue,
  formatTime,
  headline,
  headlineText,
  keyAndVersion,
  nextSteps,
  orderAlerts,
  whereText,
} from './alert-text.ts'

const ADDRESS = /^[^\s@<>",;]+@[^\s@<>",;]+\.?[^\s@<>",;]*$/

/** `alerts@example.com` or `keyshift <alerts@example.com>`; one line (no header injection). */
export function isMailbox(v: string): boolean {
  if (/[\r\n]/.test(v)) return false
  const m = /^\s*(?:"?[^"<>]*"?\s*)?<([^<>]+)>\s*$/.exec(v)
  return ADDRESS.test(m?.[1] ?? v.trim())
}

/** One message ready to send; `to` empty means "nobody to send to". */
export interface EmailMessage {
  to: string[]
  subject: string
  text: string
  html: string
  /** Extra headers (X-Keyshift-*). */
  headers?: Record<string, string>
  /** Message-ID with angle brackets (`<id@domain>`); stable across retries so mailboxes drop duplicates. */
  messageId?: string
}

export function escapeHtml(s: string): string {
  return s
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;')
}

/** Escapes, then turns `code` spans (from alert-text) into <code> elements. */
function htmlInline(s: string): string {
  return escapeHtml(s).replace(/`([^`]+)`/g, '<code>$1</code>')
}

const FONT = 'font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif'

function alertFacts(a: Alert): Array<[string, string]> {
  return [
    ['Key', a.keyId === '' ? '—' : a.keyId],
    ['Version', a.version === '' ? '—' : a.version],
    ['Severity', a.severity],
    [
      'Status',
      a.status === 'resolved' && a.endsAt !== undefined
        ? `resolved at ${formatTime(a.endsAt)}`
        : `${a.status} since ${formatTime(a.startsAt)}`,
    ],
    ['Where', whereText(a)],
  ]
}

function alertText(a: Alert, n: Notification): string {
  const lines = [a.title, a.summary, '']
  for (const [k, v] of alertFacts(a)) lines.push(`  ${`${k}:`.padEnd(10)} ${v}`)
  const evidence = evidenceLines(a)
  if (evidence.length > 0) lines.push('', 'Evidence', ...evidence.map((l) => `  - ${l}`))
  const steps = nextSteps(a, n.kind)
  if (steps.length > 0) lines.push('', 'What to do next', ...steps.map((s, i) => `  ${i + 1}. ${s}`))
  return lines.join('\n')
}

function alertHtml(a: Alert, n: Notification): string {
  const facts = alertFacts(a)
    .map(
      ([k, v]) =>
        `<tr><th align="left" style="padding:2px 12px 2px 0">${k}</th><td>${escapeHtml(v)}</td></tr>`,
    )
    .join('')
  const parts = [
    `<h3 style="margin:16px 0 4px">${escapeHtml(a.title)}</h3>`,
    `<p style="margin:0 0 8px">${escapeHtml(a.summary)}</p>`,
    `<table style="border-collapse:collapse">${facts}</table>`,
  ]
  const evidence = evidenceLines(a)
  if (evidence.length > 0) {
    parts.push(
      `<h4 style="margin:12px 0 4px">Evidence</h4><ul>${evidence.map((l) => `<li>${escapeHtml(l)}</li>`).join('')}</ul>`,
    )
  }
  const steps = nextSteps(a, n.kind)
  if (steps.length > 0) {
    parts.push(
      `<h4 style="margin:12px 0 4px">What to do next</h4><ol>${steps.map((s) => `<li>${htmlInline(s)}</li>`).join('')}</ol>`,
    )
  }
  return parts.join('\n')
}

function digestLine(a: Alert): string {
  return `[${a.status.toUpperCase()} ${a.severity}] ${a.title}`
}

function footer(n: Notification): string {
  return `keyshift · receiver ${n.receiver} · notification ${n.id}`
}

/** A safe Message-ID from the notification id: stable across retries, so mailboxes drop duplicates. */
export function messageIdFor(notificationId: string, from: string): string {
  const domain = /@([^\s@<>]+?)>?\s*$/.exec(from)?.[1] ?? 'keyshift.invalid'
  const local = notificationId.replace(/[^A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]/g, '-')
  return `<${local}@${domain}>`
}

/** The email for a notification: subject, plain text and HTML (every dynamic string escaped). */
export function buildAlertEmail(
  n: Notification,
  opts: { to: string[]; dashboardUrl?: string | undefined },
): EmailMessage {
  const h = headline(n)
  const title = headlineText(h)
  const ordered = orderAlerts(n.alerts)
  const link = n.dashboardUrl ?? opts.dashboardUrl
  const text: string[] = [title, '']
  const html: string[] = [
    `<!doctype html><html><body style="${FONT};font-size:14px;color:#1d1d1f">`,
    `<h2 style="margin:0 0 8px">${escapeHtml(title)}</h2>`,
  ]
  if (ordered.length === 0) {
    const line = `Test notification from keyshift to receiver ${n.receiver}: delivery works.`
    text.push(line, '')
    html.push(`<p>${escapeHtml(line)}</p>`)
  }
  if (ordered.length > 1) {
    const firing = ordered.filter((a) => a.status === 'firing').length
    const intro = `${ordered.length} alerts in this group: ${firing} firing, ${ordered.length - firing} resolved.`
    text.push(intro, ...ordered.map((a, i) => `  ${i + 1}. ${digestLine(a)}`), '')
    html.push(
      `<p>${escapeHtml(intro)}</p><ol>${ordered.map((a) => `<li>${escapeHtml(digestLine(a))}</li>`).join('')}</ol>`,
    )
  }
  ordered.forEach((a, i) => {
    if (ordered.length > 1) {
      text.push(`--- ${i + 1}/${ordered.length} ---`)
      html.push('<hr>')
    }
    text.push(alertText(a, n), '')
    html.push(alertHtml(a, n))
  })
  if (link !== undefined) {
    text.push(`Dashboard: ${link}`, '')
    html.push(`<p><a href="${escapeHtml(link)}">Open the dashboard</a></p>`)
  }
  text.push('-- ', footer(n))
  html.push(`<p style="color:#6e6e73;font-size:12px">${escapeHtml(footer(n))}</p>`, '</body></html>')
  return {
    to: opts.to,
    subject: `[keyshift] ${title}`,
    text: `${text.join('\n')}\n`,
    html: `${html.join('\n')}\n`,
    headers: {
      'X-Keyshift-Notification-Id': n.id,
      'X-Keyshift-Kind': n.kind,
      'X-Keyshift-Group-Key': n.groupKey,
    },
  }
}

/** One client still on an old version, as listed in an owner reminder. */
export interface ReminderStraggler {
  clientId: string
  /** Requests with the old version over the reminder's window. */
  requests: number
  /** Epoch milliseconds of the client's last request with the old version. */
  lastSeen: number
  routes: readonly string[]
}

const MAX_REMINDER_ROWS = 50

function lifecycleSentence(kv: KeyVersion): string {
  const parts: string[] = []
  if (kv.state === 'deprecated' && kv.deprecatedAt !== null)
    parts.push(`was deprecated on ${formatTime(kv.deprecatedAt)}`)
  else parts.push(`is ${kv.state}`)
  if (kv.expiresAt !== null) parts.push(`expires on ${formatTime(kv.expiresAt)}`)
  return `Its version ${kv.version} ${parts.join(' and ')}.`
}

/**
 * An opt-in reminder to a key's owner contacts listing their clients still on
 * `keyVersion` (most requests first). `to` holds the owners that are email
 * addresses; it is empty when there is nobody to remind (no email owner, no straggler).
 */
export function buildOwnerReminder(
  keyVersion: KeyVersion,
  stragglers: readonly ReminderStraggler[],
  opts: { asOf?: number; dashboardUrl?: string } = {},
): EmailMessage {
  const kv = keyVersion
  const rows = [...stragglers].sort((a, b) => b.requests - a.requests || a.clientId.localeCompare(b.clientId))
  const shown = rows.slice(0, MAX_REMINDER_ROWS)
  const n = rows.length
  const subject = `[keyshift] Reminder: ${n} ${n === 1 ? 'client still uses' : 'clients still use'} ${keyAndVersion(kv)}`
  const intro = [
    `You are listed as an owner of the API key ${kv.keyId}.`,
    lifecycleSentence(kv),
    `${n === 1 ? 'This client still uses' : `These ${n} clients still use`} it${opts.asOf === undefined ? '' : ` (as of ${formatTime(opts.asOf)})`}:`,
  ]
  const cells = shown.map((s) => [
    s.clientId,
    evidenceValue(s.requests),
    formatTime(s.lastSeen),
    s.routes.length === 0 ? '—' : evidenceValue([...s.routes]),
  ])
  const header = ['Client', 'Requests', 'Last seen', 'Routes']
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] ?? '').length)))
  const row = (c: string[]) =>
    `  ${c.map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i] ?? 0))).join('  ')}`
  const more = n > shown.length ? [`  (+${n - shown.length} more clients)`] : []
  const ask = `Please move them to the current version before ${kv.version} is deactivated; requests with ${kv.version} will fail after that.`
  const why = 'You receive this reminder because owner reminders are enabled for this key.'
  const owners = kv.owners.filter(isMailbox)
  const text = [
    'Hello,',
    '',
    ...intro,
    '',
    row(header),
    ...cells.map(row),
    ...more,
    '',
    ask,
    ...(opts.dashboardUrl === undefined ? [] : ['', `Dashboard: ${opts.dashboardUrl}`]),
    '',
    '-- ',
    `keyshift · ${why}`,
  ]
  const htmlRows = cells
    .map(
      (c) => `<tr>${c.map((v) => `<td style="padding:2px 12px 2px 0">${escapeHtml(v)}</td>`).join('')}</tr>`,
    )
    .join('')
  const html = [
    `<!doctype html><html><body style="${FONT};font-size:14px;color:#1d1d1f">`,
    '<p>Hello,</p>',
    `<p>${intro.map(escapeHtml).join('<br>')}</p>`,
    `<table style="border-collapse:collapse"><tr>${header.map((h) => `<th align="left" style="padding:2px 12px 2px 0">${h}</th>`).join('')}</tr>${htmlRows}</table>`,
    ...(more.length > 0 ? [`<p>${escapeHtml((more[0] ?? '').trim())}</p>`] : []),
    `<p>${escapeHtml(ask)}</p>`,
    ...(opts.dashboardUrl === undefined
      ? []
      : [`<p><a href="${escapeHtml(opts.dashboardUrl)}">Open the dashboard</a></p>`]),
    `<p style="color:#6e6e73;font-size:12px">${escapeHtml(why)}</p>`,
    '</body></html>',
  ]
  return {
    to: n === 0 ? [] : owners,
    subject,
    text: `${text.join('\n')}\n`,
    html: `${html.join('\n')}\n`,
    headers: {
      'X-Keyshift-Kind': 'owner.reminder',
      'X-Keyshift-Key': kv.keyId,
      'X-Keyshift-Version': kv.version,
    },
  }
}
