// The status page's incident banner in a real browser (Debian's chromium via
// playwright-core) against the real daemon and embedded ClickHouse: absent
// while no incident is open, at the top with the live view while one is, gone
// once it is closed. The seeded traffic is written out below and every number
// the banner shows follows from it by hand.
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { parseLifecycle } from '../../src/registry/lifecycle-input.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'

const MIN = 60_000
const DAY = 86_400_000
const NOW = Date.now()
const OPEN = NOW - 10 * MIN
const CHROMIUM = '/usr/bin/chromium'
const HOSTILE_UA = '<img src=x onerror="window.__pwned=1">evil/1'

// Before opening: web (10.0.0.1) and batch (10.0.0.2) use v1 → two known users.
// After: web moves to v2; batch stays on v1; 203.0.113.5 (unknown) uses v1 on /export.
const EVENTS = [
  ...Array.from({ length: 4 }, (_, i) =>
    ev(`b-web-${i}`, OPEN - (20 - i) * MIN, 'v1', 'web', '10.0.0.1', 'web/1'),
  ),
  ...Array.from({ length: 4 }, (_, i) =>
    ev(`b-batch-${i}`, OPEN - (20 - i) * MIN, 'v1', 'batch', '10.0.0.2', 'batch/1'),
  ),
  ...Array.from({ length: 3 }, (_, i) =>
    ev(`a-web-${i}`, OPEN + (6 + i) * MIN, 'v2', 'web', '10.0.0.1', 'web/1'),
  ),
  ...Array.from({ length: 3 }, (_, i) =>
    ev(`a-batch-${i}`, OPEN + (6 + i) * MIN, 'v1', 'batch', '10.0.0.2', 'batch/1'),
  ),
  ...Array.from({ length: 2 }, (_, i) =>
    ev(`a-evil-${i}`, OPEN + (7 + i) * MIN, 'v1', 'web', '203.0.113.5', HOSTILE_UA, '/export'),
  ),
]

function ev(
  id: string,
  time: number,
  version: string,
  client: string,
  address: string,
  ua: string,
  route = '/r',
) {
  return {
    eventId: id,
    time,
    keyId: 'acme',
    keyVersion: version,
    status: 200,
    clientId: client,
    sourceAddress: address,
    userAgent: ua,
    method: 'GET',
    route,
    gateway: 'gw-1',
    latencyMs: 5,
  }
}

async function seed(app: App) {
  const docs = [
    { key_id: 'acme', version: 'v1', action: 'create', time: NOW - 30 * DAY, owners: ['team@example.com'] },
    { key_id: 'acme', version: 'v1', action: 'activate', time: NOW - 30 * DAY + MIN },
    { key_id: 'acme', version: 'v2', action: 'create', time: OPEN + MIN },
    { key_id: 'acme', version: 'v2', action: 'activate', time: OPEN + MIN },
  ]
  await app.keys.record(
    docs.map((d, i) =>
      parseLifecycle(d, {
        now: NOW,
        fingerprint: app.fingerprint,
        origin: 'test',
        defaultEventId: `banner-${i}`,
      }),
    ),
  )
  app.registerDecoder('test:seed', {
    preset: 'canonical',
    secret_fields: [],
    max_record_bytes: 65_536,
    max_future_skew_ms: 300_000,
  })
  await app.pipeline.submit(
    'test:seed',
    0,
    EVENTS.map((e, i) => ({
      value: Buffer.from(JSON.stringify(e)),
      partition: 0,
      offset: BigInt(i),
      nextOffset: BigInt(i + 1),
    })),
  )
  await app.pipeline.drain()
  await app.status.heartbeat({
    time: Date.now(),
    instance: 'incident-banner',
    newestEventTime: NOW,
    consumerLagMessages: 0,
    bufferedEvents: 0,
    sourcesReady: true,
  })
}

const texts = async (page: Page, selector: string) =>
  (await page.locator(selector).allTextContents()).map((t) => t.trim())

describe('status page incident banner', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyshift-incident-banner-'))
  let browser: Browser
  let app: App
  let page: Page

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    })
    app = await createApp(
      parseConfig({
        instance: 'incident-banner',
        data_dir: dir,
        log: { level: 'silent' },
        http: { port: 0 },
      }),
      { logger: silentLogger() },
    )
    await app.start()
    await seed(app)
    page = await (await browser.newContext()).newPage()
  })

  afterAll(async () => {
    await browser?.close()
    await app?.stop()
    rmSync(dir, { recursive: true, force: true })
  })

  it('shows no banner while no incident is open', async () => {
    await page.goto(`${app.url()}/?refresh=0`)
    await page.waitForSelector('#update-status[data-state="ok"]', { timeout: 30_000 })
    expect(await page.locator('#incidents').isHidden()).toBe(true)
  })

  it('shows the open incident at the top with its live view, as text', async () => {
    const { incident } = await app.incidents.open(
      { keyId: 'acme', version: 'v1', reason: 'leaked', note: '', actor: 'sec', time: OPEN },
      'test',
      NOW,
    )
    await page.reload()
    await page.waitForSelector(`#incidents article[data-incident="${incident.id}"]`, { timeout: 30_000 })
    const title = (await texts(page, '.incident-title'))[0]!
    // The last 5 minutes (from OPEN + 5 min): v1 batch 3 + attacker 2 of 8 requests = 62.5%.
    expect(title).toBe(`INCIDENT ${incident.id}: acme v1 leaked, open 10 min · 62.5% of the key's traffic`)
    expect(
      await page
        .locator('#incidents .incident-checklist li')
        .evaluateAll((els) => els.map((e) => [e.getAttribute('data-step'), e.getAttribute('data-state')])),
    ).toEqual([
      ['new_version_active_everywhere', 'done'],
      ['known_users_moved', 'pending'],
      ['old_version_deactivated', 'pending'],
      ['no_accepted_use_after_deactivation', 'pending'],
      ['no_unknown_source_recently', 'failed'],
    ])
    expect(await texts(page, '.incident-known tbody tr td:first-child')).toEqual(['batch'])
    expect(await texts(page, '.incident-unknown tbody tr td:first-child')).toEqual(['203.0.113.5'])
    expect(await texts(page, '.incident-unknown tbody tr td:nth-child(2)')).toEqual([HOSTILE_UA])
    expect(await texts(page, '.incident-unknown tbody tr td:nth-child(5)')).toEqual(['2'])
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
    // The banner comes before everything else on the page.
    expect(
      await page.evaluate(() =>
        document.querySelector('#incidents')!.compareDocumentPosition(document.querySelector('main')!),
      ),
    ).toBe(4)
  })

  it('removes the banner once the incident is closed', async () => {
    const [open] = await app.incidents.list({ state: 'open' })
    await app.incidents.close(open!.id, { actor: 'sec', note: '' }, 'test', Date.now())
    await page.reload()
    await page.waitForSelector('#update-status[data-state="ok"]', { timeout: 30_000 })
    expect(await page.locator('#incidents').isHidden()).toBe(true)
  })
})
