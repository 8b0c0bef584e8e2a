// The shared notifier test kit (after Alertmanager's): every notifier's test
// runs it against a real loopback peer. It pins the contract: which answers
// retry, that Retry-After is honoured, that timeouts, refused connections and
// aborts retry, that ids are stable across resends, and that no secret ever
// appears in an error.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { closedPort } from '../../../test/kit/http-peer.ts'
import { sampleNotification } from '../../../test/kit/notifications.ts'
import type { Notification } from '../../domain/alert.ts'
import { ConfigError } from '../../domain/errors.ts'
import type { DeliveryResult, Notifier, NotifierKind } from './notifier.ts'

/** A real peer (HTTP receiver, SMTP server) behind a protocol-neutral control surface. */
export interface KitPeer {
  /** Answer following attempts with `code` (HTTP status or SMTP reply) until `recover()`. */
  fail(code: number, opts?: { retryAfterSeconds?: number }): void
  /** Accept connections but never answer, until `recover()`. */
  hang(): void
  recover(): void
  /** The id the peer saw on each accepted attempt, duplicates included (webhook-id, Message-ID, …). */
  acceptedIds(): string[]
  close(): Promise<void>
}

export interface NotifierKitHarness<P extends KitPeer> {
  kind: NotifierKind
  start(): Promise<P>
  /** The notifier under test, configured against `peer`. */
  notifier(peer: P, opts: { timeoutMs: number }): Notifier
  /** The same notifier configured against a port nobody listens on. */
  unreachable(port: number, opts: { timeoutMs: number }): Notifier
  /** Strings that must never appear in an error: URL tokens, signing secrets, passwords. */
  secrets(peer: P): string[]
  /** Answers that must give `retry: true`; with `retryAfterSeconds`, also `retryAfterMs`. */
  transient: Array<{ code: number; retryAfterSeconds?: number }>
  /** Answers that must give `retry: false`. */
  permanent: number[]
  /** The id the peer is expected to see for `n`. */
  idFor(n: Notification): string
  /** Protocol-specific checks of what the peer received for `n`. */
  checkDelivered?(peer: P, n: Notification): void | Promise<void>
  /** Invalid configurations containing secrets: each must throw ConfigError without echoing them. */
  invalidConfigs?(peer: P): Array<{ name: string; create: () => unknown; secrets: string[] }>
}

const TIMEOUT_MS = 300

export function runNotifierKit<P extends KitPeer>(h: NotifierKitHarness<P>): void {
  describe(`notifier kit: ${h.kind}`, () => {
    let peer: P
    let notifier: Notifier
    const errors: string[] = []

    /**
     * Ids the peer accepted since `before`, of these notifications only: an attempt an
     * earlier test abandoned (aborted, timed out) can still reach the peer late on a
     * loaded machine, and must not count against this test.
     */
    const acceptedOf = (before: number, ...ns: Notification[]): string[] => {
      const mine = new Set(ns.map((n) => h.idFor(n)))
      return peer
        .acceptedIds()
        .slice(before)
        .filter((id) => mine.has(id))
    }

    /** Sends and remembers any error text for the final secrets check. */
    const send = async (n: Notification, via = notifier, signal?: AbortSignal): Promise<DeliveryResult> => {
      const r = await via.notify(n, signal)
      if (!r.ok) {
        errors.push(r.error)
        expect(r.error.length).toBeGreaterThan(0)
        for (const s of h.secrets(peer)) expect(r.error).not.toContain(s)
      }
      return r
    }

    beforeAll(async () => {
      peer = await h.start()
      notifier = h.notifier(peer, { timeoutMs: TIMEOUT_MS * 10 })
    })
    afterAll(async () => {
      await peer?.close()
    })
    beforeEach(() => peer.recover())

    it('delivers a notification that the real peer accepts', async () => {
      const n = sampleNotification({ id: `kit-ok-${h.kind}` })
      const before = peer.acceptedIds().length
      expect(await send(n)).toEqual({ ok: true })
      expect(acceptedOf(before, n)).toEqual([h.idFor(n)])
      await h.checkDelivered?.(peer, n)
    })

    for (const t of h.transient) {
      it(`answer ${t.code}${t.retryAfterSeconds === undefined ? '' : ' with Retry-After'} → retry`, async () => {
        peer.fail(t.code, t.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: t.retryAfterSeconds })
        const r = await send(sampleNotification({ id: `kit-transient-${t.code}` }))
        expect(r.ok).toBe(false)
        if (r.ok) return
        expect(r.retry).toBe(true)
        if (t.retryAfterSeconds !== undefined) expect(r.retryAfterMs).toBe(t.retryAfterSeconds * 1000)
        expect(r.error).toContain(String(t.code))
      })
    }

    for (const code of h.permanent) {
      it(`answer ${code} → no retry`, async () => {
        peer.fail(code)
        const r = await send(sampleNotification({ id: `kit-permanent-${code}` }))
        expect(r).toMatchObject({ ok: false, retry: false })
        if (!r.ok) expect(r.error).toContain(String(code))
      })
    }

    it('delivers again once the peer recovers', async () => {
      const n = sampleNotification({ id: `kit-recover-${h.kind}` })
      peer.fail(h.transient[0]?.code ?? 503)
      expect((await send(n)).ok).toBe(false)
      peer.recover()
      expect(await send(n)).toEqual({ ok: true })
    })

    it('connection refused → retry', async () => {
      const port = await closedPort()
      const r = await send(sampleNotification(), h.unreachable(port, { timeoutMs: TIMEOUT_MS * 10 }))
      expect(r).toMatchObject({ ok: false, retry: true })
    })

    it('no answer within the timeout → retry, on time', async () => {
      peer.hang()
      const quick = h.notifier(peer, { timeoutMs: TIMEOUT_MS })
      const started = Date.now()
      const r = await send(sampleNotification({ id: `kit-timeout-${h.kind}` }), quick)
      const elapsed = Date.now() - started
      expect(r).toMatchObject({ ok: false, retry: true })
      if (!r.ok) expect(r.error).toMatch(/timeout|timed out/i)
      expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 20)
      expect(elapsed).toBeLessThan(TIMEOUT_MS + 2_000)
    })

    it('an aborted signal ends the attempt → retry', async () => {
      peer.hang()
      const ac = new AbortController()
      setTimeout(() => ac.abort(new Error('shutting down')), 50)
      const started = Date.now()
      const r = await send(sampleNotification({ id: `kit-abort-${h.kind}` }), notifier, ac.signal)
      expect(r).toMatchObject({ ok: false, retry: true })
      expect(Date.now() - started).toBeLessThan(TIMEOUT_MS * 10)
    })

    it('sends the same id when the same notification is sent again', async () => {
      const n = sampleNotification({ id: `kit-resend-${h.kind}` })
      const before = peer.acceptedIds().length
      expect(await send(n)).toEqual({ ok: true })
      expect(await send(n)).toEqual({ ok: true })
      expect(acceptedOf(before, n)).toEqual([h.idFor(n), h.idFor(n)])
      const other = sampleNotification({ id: `kit-other-${h.kind}` })
      expect(await send(other)).toEqual({ ok: true })
      expect(h.idFor(other)).not.toBe(h.idFor(n))
    })

    it('rejects invalid configurations without echoing secrets', () => {
      for (const c of h.invalidConfigs?.(peer) ?? []) {
        let thrown: unknown
        try {
          c.create()
        } catch (err) {
          thrown = err
        }
        expect(thrown, c.name).toBeInstanceOf(ConfigError)
        const message = (thrown as Error).message
        for (const s of [...c.secrets, ...h.secrets(peer)]) expect(message, c.name).not.toContain(s)
      }
    })

    it('never put a secret in any error text of this suite', () => {
      expect(errors.length).toBeGreaterThan(h.transient.length + h.permanent.length)
      const secrets = h.secrets(peer)
      expect(secrets.length).toBeGreaterThan(0)
      for (const e of errors) for (const s of secrets) expect(e).not.toContain(s)
    })
  })
}
