import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { createLogger, scrubLogLine, scrubLogsWith } from './logger.ts'

const CANARY = 'sk_live_CANARY4f8a2c9e1b7d3f6a0c5e8b2d9f4a7c1e'
const fp = createFingerprinter('pepper-for-logger-tests-0123456789')
const F = fp(CANARY)

function capture() {
  const lines: string[] = []
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(chunk.toString())
      done()
    },
  })
  return { lines, logger: createLogger({ level: 'trace', destination }) }
}

describe('createLogger: the log edge scrubs every finished line', () => {
  it('fingerprints a key in the message, in fields, in nested values and in errors, under the app pepper', () => {
    const { lines, logger } = capture()
    scrubLogsWith(logger, fp)
    logger.info({ createdBy: `alice ${CANARY}`, nested: { list: [CANARY] } }, `Silence created by ${CANARY}.`)
    logger.child({ component: 'http' }).trace({ err: new Error(`store refused ${CANARY}`) }, 'Failed.')
    expect(lines).toHaveLength(2)
    const [a, b] = lines.map((l) => JSON.parse(l))
    expect(a).toMatchObject({
      msg: `Silence created by ${F}.`,
      createdBy: `alice ${F}`,
      nested: { list: [F] },
    })
    expect(b).toMatchObject({ component: 'http', level: 'trace', err: { message: `store refused ${F}` } })
    expect(lines.join('')).not.toContain('CANARY')
  })

  it('before the pepper is known, keys still never reach the line (fingerprinted under a random pepper)', () => {
    const { lines, logger } = capture()
    logger.warn({ note: CANARY }, 'Early.')
    const line = JSON.parse(lines[0]!)
    expect(line.note).toMatch(/^fp_[0-9a-f]{32}$/)
    expect(line.note).not.toBe(F)
  })

  it('keeps client identities, ids and times as they are', () => {
    const { lines, logger } = capture()
    scrubLogsWith(logger, fp)
    const fields = {
      userAgent: 'svc-06/okhttp/4.12.0',
      silenceId: 'sil_9f9ca5c1-588a-49b5-a47b-7417d255c803',
      notificationId: 'ntf_3f1d0c9a8b7e6f5a4d3c2b1a09f8e7d6',
      flush: '942e6a53-1e3b-4041-896d-f1940c0a676f',
      route: '/v1/customers/cus_NffrFeUfNV2Hib/charges',
      source: 'kafka:auth-events:3',
    }
    logger.info(fields, 'Delivered a notification.')
    expect(JSON.parse(lines[0]!)).toMatchObject(fields)
  })
})

describe('scrubLogLine', () => {
  it('returns an unchanged line as the same string', () => {
    const line = '{"level":"info","msg":"Started."}\n'
    expect(scrubLogLine(line, fp)).toBe(line)
  })

  it('stays valid JSON when a credential value ends in an escaped quote', () => {
    // Text scrubbing of `token=…\"` can swallow the escape; the document path is used then.
    const line = `${JSON.stringify({ msg: `token=${CANARY}\\"`, password: 'x"' })}\n`
    const out = scrubLogLine(line, fp)
    expect(() => JSON.parse(out)).not.toThrow()
    expect(out).not.toContain('CANARY')
    expect(out.endsWith('\n')).toBe(true)
  })
})
