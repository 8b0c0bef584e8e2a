import { describe, expect, it } from 'vitest'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { createInputScrubber } from '../ingest/secrets/input-scrubber.ts'
import { silentLogger } from '../telemetry/logger.ts'
import { createRegistry } from '../telemetry/metrics.ts'
import { createHttpServer } from './server.ts'

const CANARY = 'sk_live_CANARY4f8a2c9e1b7d3f6a0c5e8b2d9f4a7c1e'
const fp = createFingerprinter('pepper-for-http-tests-0123456789')
const F = fp(CANARY)

function serverEchoingInput(scrub: boolean) {
  const app = createHttpServer({
    logger: silentLogger(),
    registry: createRegistry(),
    checks: [],
    ...(scrub ? { scrubInput: createInputScrubber(fp) } : {}),
  })
  // A route registered after the hook, in its own plugin, like the API's route modules.
  app.register(async (api) => {
    api.post('/api/v1/echo/:keyId', async (req) => ({ body: req.body, query: req.query, params: req.params }))
    api.get('/api/v1/echo/:keyId', async (req) => ({ query: req.query, params: req.params }))
  })
  return app
}

describe('createHttpServer: the HTTP edge scrubs client input before any route sees it', () => {
  it('body, query string and path parameters', async () => {
    const app = serverEchoingInput(true)
    const res = await app.inject({
      method: 'POST',
      url: `/api/v1/echo/${CANARY}?asked_by=ci%20${CANARY}&audit=true`,
      payload: { comment: `leaked ${CANARY}`, created_by: 'svc-06/okhttp/4.12.0', n: 3 },
    })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      body: { comment: `leaked ${F}`, created_by: 'svc-06/okhttp/4.12.0', n: 3 },
      query: { asked_by: `ci ${F}`, audit: 'true' },
      params: { keyId: F },
    })
    await app.close()
  })

  it('GET requests (no body) keep ordinary values as given', async () => {
    const app = serverEchoingInput(true)
    const res = await app.inject({ method: 'GET', url: '/api/v1/echo/acme-payments?lookback=7d' })
    expect(res.json()).toEqual({ query: { lookback: '7d' }, params: { keyId: 'acme-payments' } })
    await app.close()
  })

  it('refuses a query value over the bound before scrubbing could shorten it, without echoing it', async () => {
    const app = serverEchoingInput(true)
    const res = await app.inject({
      method: 'GET',
      url: `/api/v1/echo/acme?asked_by=${CANARY}${'a'.repeat(300)}`,
    })
    expect(res.statusCode).toBe(400)
    expect(res.json()).toMatchObject({
      code: 'KS_VALIDATION_FAILED',
      detail: 'query: asked_by: at most 256 characters',
    })
    expect(res.body).not.toContain('CANARY')
    await app.close()
  })

  it('without a scrubber the same request echoes the key (the hook is what removes it)', async () => {
    const app = serverEchoingInput(false)
    const res = await app.inject({ method: 'POST', url: `/api/v1/echo/${CANARY}`, payload: { c: CANARY } })
    expect(res.body).toContain(CANARY)
    await app.close()
  })
})
