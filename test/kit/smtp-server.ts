// A real SMTP server on loopback (`smtp-server`) that parses every accepted
// message with mailparser, so tests assert on the MIME a mail client would
// see. It can require AUTH, offer STARTTLS or implicit TLS with the self-signed
// fixture certificate, refuse at any stage with a chosen reply code, or hang.
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { type ParsedMail, simpleParser } from 'mailparser'
import { SMTPServer } from 'smtp-server'
import { waitUntil } from './http-peer.ts'

/** PEM of the self-signed certificate (CN=localhost, IP 127.0.0.1) the server presents; use it as the CA. */
export const SMTP_TEST_CERT_FILE = fileURLToPath(new URL('./fixtures/smtp-localhost.crt', import.meta.url))
const SMTP_TEST_KEY_FILE = fileURLToPath(new URL('./fixtures/smtp-localhost.key', import.meta.url))

export type SmtpStage = 'connect' | 'mail' | 'rcpt' | 'data'

export interface SmtpRejection {
  code: number
  message?: string
  /** Where to refuse; default `rcpt`. `data` refuses after the whole message was transmitted. */
  stage?: SmtpStage
}

export interface SmtpEnvelope {
  from: string
  to: string[]
  user: string | undefined
}

export interface TestSmtpServer {
  host: string
  port: number
  /** Parsed messages, in arrival order. */
  messages: ParsedMail[]
  /** Raw RFC 5322 source of each message. */
  raw: string[]
  envelopes: SmtpEnvelope[]
  /** Failed AUTH attempts. */
  authFailures: number
  /** Refuse the following sessions at `stage` with `code` until called with null. */
  setReject(rejection: SmtpRejection | null): void
  /** While hanging, new connections get no greeting. */
  setHang(hang: boolean): void
  waitForMessages(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export interface TestSmtpServerOptions {
  /** Require AUTH PLAIN/LOGIN with these credentials; without it AUTH is disabled. */
  auth?: { user: string; pass: string }
  /** `none` (default): no STARTTLS; `starttls`: offered; `implicit`: TLS from the first byte. */
  tls?: 'none' | 'starttls' | 'implicit'
  /** Misbehave like some servers do: quote the presented credentials in the AUTH failure reply. */
  echoCredentialsOnAuthFailure?: boolean
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code })
}

export async function startSmtpServer(opts: TestSmtpServerOptions = {}): Promise<TestSmtpServer> {
  const messages: ParsedMail[] = []
  const raw: string[] = []
  const envelopes: SmtpEnvelope[] = []
  let authFailures = 0
  let rejection: SmtpRejection | null = null
  let hang = false
  const tlsMode = opts.tls ?? 'none'

  const refuse = (stage: SmtpStage): Error | null => {
    if (rejection === null || (rejection.stage ?? 'rcpt') !== stage) return null
    return smtpError(rejection.code, rejection.message ?? `simulated ${rejection.code} at ${stage}`)
  }

  const disabled: string[] = []
  if (tlsMode === 'none') disabled.push('STARTTLS')
  if (opts.auth === undefined) disabled.push('AUTH')

  const server = new SMTPServer({
    secure: tlsMode === 'implicit',
    ...(tlsMode === 'none'
      ? {}
      : { key: readFileSync(SMTP_TEST_KEY_FILE), cert: readFileSync(SMTP_TEST_CERT_FILE) }),
    disabledCommands: disabled,
    authOptional: opts.auth === undefined,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    disableReverseLookup: true,
    logger: false,
    closeTimeout: 100,
    size: 10 * 1024 * 1024,
    onConnect(_session, callback) {
      if (hang) return // no greeting: the client's greeting timeout fires
      callback(refuse('connect'))
    },
    onAuth(auth, _session, callback) {
      if (opts.auth !== undefined && auth.username === opts.auth.user && auth.password === opts.auth.pass) {
        callback(null, { user: auth.username })
        return
      }
      authFailures++
      const echo = opts.echoCredentialsOnAuthFailure ? ` for ${auth.username}:${auth.password ?? ''}` : ''
      callback(smtpError(535, `5.7.8 Authentication credentials invalid${echo}`))
    },
    onMailFrom(_address, _session, callback) {
      callback(refuse('mail'))
    },
    onRcptTo(_address, _session, callback) {
      callback(refuse('rcpt'))
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => chunks.push(c))
      stream.on('end', () => {
        const err = refuse('data')
        if (err !== null) {
          callback(err)
          return
        }
        const source = Buffer.concat(chunks)
        simpleParser(source)
          .then((parsed) => {
            raw.push(source.toString('utf8'))
            messages.push(parsed)
            envelopes.push({
              from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
              to: session.envelope.rcptTo.map((r) => r.address),
              user: typeof session.user === 'string' ? session.user : undefined,
            })
            callback()
          })
          .catch((e: unknown) => callback(smtpError(554, `unparseable message: ${String(e)}`)))
      })
    },
  })
  server.on('error', () => {
    // Client-side resets during timeout tests are expected.
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.server.address() as AddressInfo

  return {
    host: '127.0.0.1',
    port,
    messages,
    raw,
    envelopes,
    get authFailures() {
      return authFailures
    },
    setReject(r) {
      rejection = r
    },
    setHang(h) {
      hang = h
    },
    waitForMessages: (count, timeoutMs) =>
      waitUntil(() => messages.length >= count, timeoutMs, `${count} emails`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
