// Slack incoming webhook: one Block Kit message per notification with what
// happened, where, the evidence and what to do next, plus a `text` fallback for
// notifications and old clients. The webhook URL is the credential: it is kept
// as a Secret and only its scheme and host ever appear in errors.
import { z } from 'zod'
import type { Alert, Notification } from '../../domain/alert.ts'
import {
  evidenceLines,
  formatTime,
  type Headline,
  headline,
  headlineText,
  nextSteps,
  orderAlerts,
  whereText,
} from './alert-text.ts'
import { deliverHttp } from './http-delivery.ts'
import {
  type Clock,
  type DeliveryResult,
  type Notifier,
  type NotifierDeps,
  type NotifierLogger,
  systemClock,
} from './notifier.ts'
import { httpUrl, linkUrl, receiverObject, timeoutMs } from './schema-parts.ts'

export const slackConfigSchema = receiverObject('slack', {
  type: z.literal('slack'),
  /** The incoming-webhook URL from the Slack app's settings; it is the credential. */
  webhook_url: httpUrl({ httpsOnly: true }),
  timeout_ms: timeoutMs(5_000),
  /** Dashboard or status page linked from every message (a notification's own link wins). */
  dashboard_url: linkUrl.optional(),
})

export type SlackConfig = z.output<typeof slackConfigSchema>
export type SlackConfigInput = z.input<typeof slackConfigSchema>

// Block Kit limits (https://docs.slack.dev/reference/block-kit/blocks).
const MAX_HEADER_CHARS = 150
const MAX_SECTION_CHARS = 3000
const MAX_FIELD_CHARS = 2000
const MAX_TEXT_CHARS = 4000
/** Alerts shown in full; the rest are counted (a message holds at most 50 blocks). */
const MAX_ALERTS_SHOWN = 8

export type SlackText =
  | { type: 'plain_text'; text: string; emoji?: boolean }
  | { type: 'mrkdwn'; text: string }
export type SlackBlock =
  | { type: 'header'; text: { type: 'plain_text'; text: string; emoji?: boolean } }
  | { type: 'section'; text: SlackText; fields?: SlackText[] }
  | { type: 'context'; elements: SlackText[] }
  | { type: 'divider' }
  | {
      type: 'actions'
      elements: Array<{
        type: 'button'
        text: { type: 'plain_text'; text: string }
        url: string
        action_id: string
      }>
    }

export interface SlackMessage {
  text: string
  blocks: SlackBlock[]
}

/** Escapes the three characters Slack's mrkdwn treats as control characters (so `<!channel>` stays text). */
export function escapeMrkdwn(s: string): string {
  return s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}

function clip(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max - 1)}…` : s
}

function mrkdwn(text: string, max = MAX_SECTION_CHARS): SlackText {
  return { type: 'mrkdwn', text: clip(text, max) }
}

const EMOJI: Record<Headline['status'], string> = {
  FIRING: ':rotating_light:',
  RESOLVED: ':white_check_mark:',
  READY: ':large_green_circle:',
  'NOT READY': ':hourglass_flowing_sand:',
  TEST: ':test_tube:',
}

/** `acme-payments` rendered as inline code, with backticks removed so the span cannot be broken out of. */
function code(s: string): string {
  return s === '' ? '—' : `\`${escapeMrkdwn(s.replaceAll('`', "'"))}\``
}

function alertBlocks(a: Alert, n: Notification): SlackBlock[] {
  const fields: SlackText[] = [
    mrkdwn(`*Key*\n${code(a.keyId)}`, MAX_FIELD_CHARS),
    mrkdwn(`*Version*\n${code(a.version)}`, MAX_FIELD_CHARS),
    mrkdwn(`*Severity*\n${a.severity}${a.status === 'resolved' ? ' (resolved)' : ''}`, MAX_FIELD_CHARS),
    mrkdwn(`*Where*\n${escapeMrkdwn(whereText(a))}`, MAX_FIELD_CHARS),
    mrkdwn(
      a.status === 'resolved' && a.endsAt !== undefined
        ? `*Resolved at*\n${formatTime(a.endsAt)}`
        : `*Since*\n${formatTime(a.startsAt)}`,
      MAX_FIELD_CHARS,
    ),
  ]
  const blocks: SlackBlock[] = [
    { type: 'section', text: mrkdwn(`*${escapeMrkdwn(a.title)}*\n${escapeMrkdwn(a.summary)}`), fields },
  ]
  const evidence = evidenceLines(a)
  if (evidence.length > 0) {
    blocks.push({
      type: 'section',
      text: mrkdwn(`*Evidence*\n${evidence.map((l) => `• ${escapeMrkdwn(l)}`).join('\n')}`),
    })
  }
  const steps = nextSteps(a, n.kind)
  if (steps.length > 0) {
    blocks.push({
      type: 'section',
      text: mrkdwn(`*What to do next*\n${steps.map((s, i) => `${i + 1}. ${escapeMrkdwn(s)}`).join('\n')}`),
    })
  }
  return blocks
}

/** The Block Kit message for a notification; pure, so tests compare whole payloads. */
export function buildSlackMessage(
  n: Notification,
  opts: { dashboardUrl?: string | undefined } = {},
): SlackMessage {
  const h = headline(n)
  const title = headlineText(h)
  const blocks: SlackBlock[] = [
    {
      type: 'header',
      text: { type: 'plain_text', text: clip(`${EMOJI[h.status]} ${title}`, MAX_HEADER_CHARS), emoji: true },
    },
  ]
  const ordered = orderAlerts(n.alerts)
  if (ordered.length === 0) {
    blocks.push({
      type: 'section',
      text: mrkdwn(`Test notification from keyshift to receiver ${code(n.receiver)}: delivery works.`),
    })
  }
  if (ordered.length > 1) {
    const firing = ordered.filter((a) => a.status === 'firing').length
    const resolved = ordered.length - firing
    blocks.push({
      type: 'context',
      elements: [mrkdwn(`${ordered.length} alerts in this group: ${firing} firing, ${resolved} resolved`)],
    })
  }
  ordered.slice(0, MAX_ALERTS_SHOWN).forEach((a, i) => {
    if (i > 0) blocks.push({ type: 'divider' })
    blocks.push(...alertBlocks(a, n))
  })
  if (ordered.length > MAX_ALERTS_SHOWN) {
    blocks.push({
      type: 'context',
      elements: [
        mrkdwn(`+${ordered.length - MAX_ALERTS_SHOWN} more alerts in this group: see the dashboard.`),
      ],
    })
  }
  const link = n.dashboardUrl ?? opts.dashboardUrl
  if (link !== undefined) {
    blocks.push({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Open dashboard' },
          url: link,
          action_id: 'keyshift_open_dashboard',
        },
      ],
    })
  }
  blocks.push({
    type: 'context',
    elements: [mrkdwn(`keyshift · receiver ${code(n.receiver)} · notification ${code(n.id)}`)],
  })
  const lead = ordered[0]
  const text = lead === undefined ? title : `${title} — ${lead.summary}`
  return { text: clip(escapeMrkdwn(`${EMOJI[h.status]} ${text}`), MAX_TEXT_CHARS), blocks }
}

export class SlackNotifier implements Notifier {
  readonly kind = 'slack' as const
  readonly name: string
  readonly #config: SlackConfig
  readonly #fetch: typeof fetch
  readonly #clock: Clock
  readonly #logger: NotifierLogger | undefined
  readonly #secrets: string[]

  constructor(name: string, config: SlackConfig, deps: NotifierDeps = {}) {
    this.name = name
    this.#config = config
    this.#fetch = deps.fetch ?? globalThis.fetch
    this.#clock = deps.clock ?? systemClock
    this.#logger = deps.logger
    const url = new URL(config.webhook_url.reveal())
    // The path is the credential (/services/T…/B…/<token>); the token alone is scrubbed too.
    this.#secrets = [
      config.webhook_url.reveal(),
      `${url.pathname}${url.search}`,
      url.pathname,
      url.pathname.split('/').at(-1) ?? '',
      url.search.slice(1),
    ].filter((s) => s.length >= 4)
  }

  async notify(n: Notification, signal?: AbortSignal): Promise<DeliveryResult> {
    const message = buildSlackMessage(n, { dashboardUrl: this.#config.dashboard_url })
    const result = await deliverHttp({
      fetch: this.#fetch,
      clock: this.#clock,
      url: this.#config.webhook_url.reveal(),
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'user-agent': 'keyshift-slack/1',
        // Slack ignores it; proxies and test receivers use it to spot duplicates.
        'x-keyshift-notification-id': n.id,
      },
      body: JSON.stringify(message),
      timeoutMs: this.#config.timeout_ms,
      signal,
      secrets: this.#secrets,
    })
    if (!result.ok) {
      this.#logger?.debug(
        { receiver: this.name, notificationId: n.id, retry: result.retry, error: result.error },
        'Slack delivery attempt failed.',
      )
    }
    return result
  }
}
