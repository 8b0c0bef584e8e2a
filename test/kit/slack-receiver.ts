// A loopback stand-in for a Slack incoming webhook. It answers like Slack
// (200 `ok`, 400 `invalid_payload`/`invalid_blocks`, 404 `no_service` for a
// wrong token) and checks messages against Block Kit's structure and limits.
import { randomBytes } from 'node:crypto'
import {
  type FailureAnswer,
  type HttpPeerOptions,
  type PeerControl,
  startHttpPeer,
  waitUntil,
} from './http-peer.ts'

export interface SlackPosted {
  /** x-keyshift-notification-id header, when sent. */
  notificationId: string | undefined
  text: string
  blocks: Array<Record<string, unknown>>
  body: string
}

export interface SlackAttempt {
  notificationId: string | undefined
  status: number | undefined
  /** Why the message was refused, when it was. */
  errors: string[]
  body: string
}

export interface SlackReceiver extends PeerControl {
  /** The incoming-webhook URL; its path holds `token`. */
  url: string
  /** The secret part of the URL: must never appear in keyshift's errors or logs. */
  token: string
  /** Accepted, valid messages in arrival order (duplicates included). */
  messages: SlackPosted[]
  attempts: SlackAttempt[]
  waitForMessages(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

const TEXT_TYPES = new Set(['plain_text', 'mrkdwn'])

function textObject(v: unknown, where: string, max: number, errors: string[], plainOnly = false): void {
  if (typeof v !== 'object' || v === null) {
    errors.push(`${where}: must be a text object`)
    return
  }
  const t = v as { type?: unknown; text?: unknown }
  if (typeof t.type !== 'string' || !TEXT_TYPES.has(t.type))
    errors.push(`${where}.type: must be plain_text or mrkdwn`)
  if (plainOnly && t.type !== 'plain_text') errors.push(`${where}.type: must be plain_text`)
  if (typeof t.text !== 'string' || t.text.length === 0)
    errors.push(`${where}.text: must be a non-empty string`)
  else if (t.text.length > max) errors.push(`${where}.text: longer than ${max} characters`)
}

/** Checks a message against Block Kit's structure and limits; returns the problems found. */
export function validateSlackMessage(payload: unknown): string[] {
  const errors: string[] = []
  if (typeof payload !== 'object' || payload === null) return ['payload: must be a JSON object']
  const p = payload as { text?: unknown; blocks?: unknown }
  if (typeof p.text !== 'string' || p.text.length === 0) errors.push('text: fallback text is required')
  if (!Array.isArray(p.blocks)) return [...errors, 'blocks: must be an array']
  if (p.blocks.length === 0 || p.blocks.length > 50) errors.push('blocks: 1 to 50 blocks')
  p.blocks.forEach((b: unknown, i: number) => {
    const where = `blocks[${i}]`
    if (typeof b !== 'object' || b === null) {
      errors.push(`${where}: must be an object`)
      return
    }
    const block = b as Record<string, unknown>
    switch (block.type) {
      case 'header':
        textObject(block.text, `${where}.text`, 150, errors, true)
        break
      case 'section': {
        if (block.text === undefined && block.fields === undefined)
          errors.push(`${where}: needs text or fields`)
        if (block.text !== undefined) textObject(block.text, `${where}.text`, 3000, errors)
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length > 10) {
            errors.push(`${where}.fields: at most 10`)
          } else {
            for (const [j, f] of block.fields.entries()) textObject(f, `${where}.fields[${j}]`, 2000, errors)
          }
        }
        break
      }
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10) {
          errors.push(`${where}.elements: 1 to 10 elements`)
        } else {
          for (const [j, e] of block.elements.entries())
            textObject(e, `${where}.elements[${j}]`, 3000, errors)
        }
        break
      case 'divider':
        break
      case 'actions':
        if (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 25) {
          errors.push(`${where}.elements: 1 to 25 elements`)
        } else {
          block.elements.forEach((e: unknown, j: number) => {
            const el = e as { type?: unknown; text?: unknown; url?: unknown; action_id?: unknown }
            if (el.type !== 'button') errors.push(`${where}.elements[${j}].type: only buttons are expected`)
            textObject(el.text, `${where}.elements[${j}].text`, 75, errors, true)
            if (el.url !== undefined && (typeof el.url !== 'string' || !/^https?:\/\//.test(el.url))) {
              errors.push(`${where}.elements[${j}].url: must be an http(s) URL`)
            }
          })
        }
        break
      default:
        errors.push(`${where}.type: unknown block type ${JSON.stringify(block.type)}`)
    }
  })
  return errors
}

export async function startSlackReceiver(opts: HttpPeerOptions = {}): Promise<SlackReceiver> {
  const token = randomBytes(18).toString('base64url')
  const path = `/services/T0KEYSHIFT/B0KEYSHIFT/${token}`
  const messages: SlackPosted[] = []
  const attempts: SlackAttempt[] = []
  const peer = await startHttpPeer(opts, {
    onFailureAnswer: (req, a) =>
      attempts.push({
        notificationId: req.headers['x-keyshift-notification-id'],
        status: a.status,
        errors: [],
        body: req.body,
      }),
    onHang: (req) =>
      attempts.push({
        notificationId: req.headers['x-keyshift-notification-id'],
        status: undefined,
        errors: [],
        body: req.body,
      }),
    handle: (req): FailureAnswer => {
      const notificationId = req.headers['x-keyshift-notification-id']
      const refuse = (status: number, body: string, errors: string[]) => {
        attempts.push({ notificationId, status, errors, body: req.body })
        return { status, body }
      }
      if (req.method !== 'POST' || req.path !== path)
        return refuse(404, 'no_service', ['unknown webhook path'])
      if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
        return refuse(400, 'invalid_payload', ['content-type must be application/json'])
      }
      let payload: unknown
      try {
        payload = JSON.parse(req.body)
      } catch {
        return refuse(400, 'invalid_payload', ['body is not JSON'])
      }
      const errors = validateSlackMessage(payload)
      if (errors.length > 0) return refuse(400, 'invalid_blocks', errors)
      const p = payload as { text: string; blocks: Array<Record<string, unknown>> }
      attempts.push({ notificationId, status: 200, errors: [], body: req.body })
      messages.push({ notificationId, text: p.text, blocks: p.blocks, body: req.body })
      return { status: 200, body: 'ok' }
    },
  })
  return {
    url: `${peer.url}${path}`,
    token,
    messages,
    attempts,
    setDown: peer.setDown,
    setHang: peer.setHang,
    failNext: peer.failNext,
    waitForMessages: (count, timeoutMs) =>
      waitUntil(() => messages.length >= count, timeoutMs, `${count} Slack messages`),
    close: peer.close,
  }
}
