import { describe, expect, it } from 'vitest'
import { parseLifecycle } from '../../registry/lifecycle-input.ts'
import { createFingerprinter } from './fingerprint.ts'
import { createInputScrubber, holdsKeyMaterial } from './input-scrubber.ts'

const fp = createFingerprinter('pepper-for-input-tests-0123456789')
const scrub = createInputScrubber(fp)
const CANARY = 'sk_live_CANARY4f8a2c9e1b7d3f6a0c5e8b2d9f4a7c1e'
const F = fp(CANARY)

describe('createInputScrubber (the edge scrubber for API, CLI, files and the lifecycle topic)', () => {
  it('fingerprints key material anywhere in a body and keeps what identifies a client', () => {
    const body = {
      created_by: `alice ${CANARY}`,
      comment: `rotating after the leak of ${CANARY}`,
      matchers: [{ name: 'key', value: 'acme-*' }],
      owners: ['payments@example.com', CANARY],
      [CANARY]: 'a key used as a field name',
      client: 'svc-06/okhttp/4.12.0',
      route: '/v1/customers/cus_NffrFeUfNV2Hib/charges',
      id: 'sil_9f9ca5c1-588a-49b5-a47b-7417d255c803',
    }
    expect(scrub(body)).toEqual({
      created_by: `alice ${F}`,
      comment: `rotating after the leak of ${F}`,
      matchers: [{ name: 'key', value: 'acme-*' }],
      owners: ['payments@example.com', F],
      [F]: 'a key used as a field name',
      client: 'svc-06/okhttp/4.12.0',
      route: '/v1/customers/cus_NffrFeUfNV2Hib/charges',
      id: 'sil_9f9ca5c1-588a-49b5-a47b-7417d255c803',
    })
    expect(body.comment).toBe(`rotating after the leak of ${CANARY}`) // input not mutated
  })

  it('fingerprints values under credential names whatever they look like', () => {
    expect(scrub({ secret: 'hunter2', api_token: 'short', note: 'hunter2' })).toEqual({
      secret: fp('hunter2'),
      api_token: fp('short'),
      note: 'hunter2',
    })
  })

  it('scrubs bare strings and passes other scalars through', () => {
    expect(scrub(`Bearer ${CANARY}`)).toBe(`Bearer ${F}`)
    expect(scrub('v2')).toBe('v2')
    expect(scrub(42)).toBe(42)
    expect(scrub(null)).toBe(null)
    expect(scrub(undefined)).toBe(undefined)
  })

  it('is idempotent, so a value scrubbed by the CLI and again by the API is unchanged', () => {
    const once = scrub({ note: CANARY, secret: CANARY })
    expect(scrub(once)).toEqual(once)
  })

  it('a scrubbed lifecycle event registers the same fingerprint as the raw secret would', () => {
    // The edge fingerprints `secret` before parseLifecycle sees it; parseLifecycle then
    // fingerprints a fingerprint, which passes through unchanged.
    const doc = { key_id: 'acme-payments', version: 'v2', action: 'create', secret: CANARY, note: CANARY }
    const ctx = { now: 0, fingerprint: fp, origin: 'test', defaultEventId: 'e1' }
    const fromRaw = parseLifecycle(doc, ctx)
    const fromScrubbed = parseLifecycle(scrub(doc), ctx)
    expect(fromScrubbed.fingerprints).toEqual([F])
    expect(fromScrubbed.fingerprints).toEqual(fromRaw.fingerprints)
    expect(fromScrubbed.note).toBe(F)
  })

  it('holdsKeyMaterial tells free text with a key from text without', () => {
    expect(holdsKeyMaterial(`token=${CANARY}`)).toBe(true)
    expect(holdsKeyMaterial('svc-06/okhttp/4.12.0 from 10.0.0.7')).toBe(false)
  })
})
