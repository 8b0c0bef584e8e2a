// The email that tells a leaked version's owners, at once and then at a tight
// cadence, which of their clients still use it. Pure: view in, message out;
// every dynamic string is escaped in the HTML part.
import { type EmailMessage, escapeHtml, isMailbox } from '../alerting/notifiers/email-message.ts'
import type { IncidentView } from '../analysis/incident.ts'
import type { KeyVersion } from '../domain/key-version.ts'

const utc = (ms: number | null) =>
  ms === null
    ? '—'
    : new Date(ms)
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d{3}Z$/, ' UTC')

/** Rows listed in one notice; the rest are counted. */
const MAX_ROWS = 50

/** The known users not moved yet, as the notice lists them. */
export function clientsStillOn(view: IncidentView): string[] {
  return [
    ...new Set(view.knownUsers.filter((u) => u.state !== 'moved').map((u) => u.clientId || '(no client id)')),
  ].sort()
}

export function buildIncidentNotice(
  kv: Pick<KeyVersion, 'keyId' | 'version' | 'owners'>,
  view: IncidentView,
  kind: 'opened' | 'reminder',
  opts: { dashboardUrl?: string | undefined } = {},
): EmailMessage {
  const inc = view.incident
  const left = view.knownUsers.filter((u) => u.state !== 'moved')
  const subject =
    kind === 'opened'
      ? `[keyshift] URGENT: ${kv.keyId} ${kv.version} is ${inc.reason}; move your clients now`
      : `[keyshift] Reminder: ${left.length} client use(s) still on ${inc.reason} ${kv.keyId} ${kv.version}`
  const intro = [
    `You are listed as an owner of the API key ${kv.keyId}.`,
    `Its version ${kv.version} is being replaced in an emergency (incident ${inc.id}, ${inc.reason}, opened ${utc(inc.openedAt)}).`,
    view.newerVersions.some((v) => v.state === 'active')
      ? `Move to ${view.newerVersions
          .filter((v) => v.state === 'active')
          .map((v) => v.version)
          .join(', ')} now: ${kv.version} will be deactivated as soon as its known users have moved.`
      : `A new version is being issued; ${kv.version} will be deactivated as soon as its known users have moved.`,
  ]
  const header = ['Client', 'Source address', 'User agent', 'Last use']
  const more = left.length > MAX_ROWS ? [`  (+${left.length - MAX_ROWS} more)`] : []
  const rows = left
    .slice(0, MAX_ROWS)
    .map((u) => [
      u.clientId || '—',
      u.sourceAddress || '—',
      u.userAgent || '—',
      utc(u.lastLeakedUse ?? u.lastSeenBefore),
    ])
  const text = [
    'Hello,',
    '',
    ...intro,
    '',
    left.length === 0
      ? 'None of your known clients uses it any more.'
      : 'These uses of it are still to move:',
    ...rows.map((r) => `  ${r.join('  ')}`),
    ...more,
    '',
    ...(view.unknownSources.length > 0
      ? [
          `${view.unknownSources.length} source(s) outside your known clients used it since the incident opened.`,
          '',
        ]
      : []),
    ...(opts.dashboardUrl === undefined ? [] : [`Dashboard: ${opts.dashboardUrl}`, '']),
    '-- ',
    `keyshift · incident ${inc.id}`,
  ]
  const html = [
    '<!doctype html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;font-size:14px">',
    '<p>Hello,</p>',
    `<p>${intro.map(escapeHtml).join('<br>')}</p>`,
    left.length === 0
      ? '<p>None of your known clients uses it any more.</p>'
      : `<table style="border-collapse:collapse"><tr>${header.map((h) => `<th align="left" style="padding:2px 12px 2px 0">${h}</th>`).join('')}</tr>${rows
          .map(
            (r) =>
              `<tr>${r.map((c) => `<td style="padding:2px 12px 2px 0">${escapeHtml(c)}</td>`).join('')}</tr>`,
          )
          .join('')}</table>${more.length > 0 ? `<p>${escapeHtml(more[0]!.trim())}</p>` : ''}`,
    ...(view.unknownSources.length > 0
      ? [
          `<p>${view.unknownSources.length} source(s) outside your known clients used it since the incident opened.</p>`,
        ]
      : []),
    ...(opts.dashboardUrl === undefined
      ? []
      : [`<p><a href="${escapeHtml(opts.dashboardUrl)}">Open the dashboard</a></p>`]),
    `<p style="color:#6e6e73;font-size:12px">keyshift · incident ${escapeHtml(inc.id)}</p>`,
    '</body></html>',
  ]
  return {
    to: kv.owners.filter(isMailbox),
    subject,
    text: `${text.join('\n')}\n`,
    html: `${html.join('\n')}\n`,
    headers: {
      'X-Keyshift-Kind': `incident.${kind}`,
      'X-Keyshift-Incident': inc.id,
      'X-Keyshift-Key': kv.keyId,
      'X-Keyshift-Version': kv.version,
    },
  }
}
