// The status page in a real browser (Debian's chromium driven by playwright-core)
// against the real daemon: lifecycle events recorded through the registry, auth
// events through the ingest pipeline into embedded ClickHouse, the /api/v1 routes
// of createApp, and the page's own plugin. What the page shows is checked against
// the seeded scenario, whose numbers are written out by hand below: shares,
// readiness, stragglers, chart, findings; then an API failure (a banner, nothing
// blanked) and an API that needs a bearer token.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { parseLifecycle } from '../../src/registry/lifecycle-input.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'

const MIN = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000
const NOW = Date.now()
const PEPPER = 'status-page-test-pepper-00000001'
const READ_TOKEN = 'status-page-reader-token-0001'
const CHROMIUM = '/usr/bin/chromium'
const SCREENSHOT = join('test-results', 'status-page.png')
/** Markup in a logged value: the page must show it as text, never parse it. */
const HOSTILE_UA = '<img src=x onerror="window.__pwned=1">legacy-sdk/0.9'

// --- the scenario --------------------------------------------------------------------
// acme-payments: v1 (deprecated an hour ago, expires in 12 h) and v2 (active for
// 2 h): 25 of 100 requests in the last hour still on v1 → v1 not_ready, failing
// old_traffic_below_threshold and min_overlap_elapsed; an expiring_with_traffic
// finding (critical: under 24 h). globex-api: v1 only, no rotation.

const LIFECYCLE = [
  { key_id: 'acme-payments', version: 'v1', action: 'create', time: NOW - 30 * DAY },
  {
    key_id: 'acme-payments',
    version: 'v1',
    action: 'activate',
    time: NOW - 30 * DAY + MIN,
    expires_at: NOW + 12 * HOUR,
  },
  { key_id: 'acme-payments', version: 'v2', action: 'create', time: NOW - 3 * HOUR },
  { key_id: 'acme-payments', version: 'v2', action: 'activate', time: NOW - 2 * HOUR },
  { key_id: 'acme-payments', version: 'v1', action: 'deprecate', time: NOW - HOUR },
  { key_id: 'globex-api', version: 'v1', action: 'create', time: NOW - 10 * DAY },
  { key_id: 'globex-api', version: 'v1', action: 'activate', time: NOW - 10 * DAY + MIN },
  // initech-legacy: v1 deactivated a day ago, yet a worker still sends it.
  { key_id: 'initech-legacy', version: 'v1', action: 'create', time: NOW - 20 * DAY },
  { key_id: 'initech-legacy', version: 'v1', action: 'activate', time: NOW - 20 * DAY + MIN },
  { key_id: 'initech-legacy', version: 'v2', action: 'create', time: NOW - 6 * DAY },
  { key_id: 'initech-legacy', version: 'v2', action: 'activate', time: NOW - 5 * DAY },
  { key_id: 'initech-legacy', version: 'v1', action: 'deprecate', time: NOW - 4 * DAY },
  { key_id: 'initech-legacy', version: 'v1', action: 'deactivate', time: NOW - DAY },
]

interface Traffic {
  keyId: string
  version: string
  clientId: string
  addresses: string[]
  userAgent: string
  count: number
}

const TRAFFIC: Traffic[] = [
  {
    keyId: 'acme-payments',
    version: 'v1',
    clientId: 'legacy-batch',
    addresses: ['203.0.113.10', '203.0.113.11'],
    userAgent: HOSTILE_UA,
    count: 15,
  },
  {
    keyId: 'acme-payments',
    version: 'v1',
    clientId: 'billing-cron',
    addresses: ['198.51.100.7'],
    userAgent: 'cron/2.1',
    count: 10,
  },
  {
    keyId: 'acme-payments',
    version: 'v2',
    clientId: 'checkout-web',
    addresses: ['192.0.2.20'],
    userAgent: 'web/5.0',
    count: 45,
  },
  {
    keyId: 'acme-payments',
    version: 'v2',
    clientId: 'billing-cron',
    addresses: ['198.51.100.7'],
    userAgent: 'cron/2.2',
    count: 30,
  },
  {
    keyId: 'globex-api',
    version: 'v1',
    clientId: 'globex-app',
    addresses: ['192.0.2.50'],
    userAgent: 'gx/1',
    count: 40,
  },
  {
    keyId: 'initech-legacy',
    version: 'v1',
    clientId: 'old-worker',
    addresses: ['192.0.2.77'],
    userAgent: 'worker/0.1',
    count: 8,
  },
  {
    keyId: 'initech-legacy',
    version: 'v2',
    clientId: 'new-app',
    addresses: ['192.0.2.78'],
    userAgent: 'app/2',
    count: 12,
  },
]

/** Canonical auth events, all successful, spread over the 40 minutes before NOW − 2 min. */
function canonicalEvents() {
  const out: Record<string, unknown>[] = []
  let i = 0
  for (const t of TRAFFIC) {
    for (let n = 0; n < t.count; n++, i++) {
      out.push({
        eventId: `status-page-${i}`,
        time: NOW - 2 * MIN - (i % 40) * MIN,
        keyId: t.keyId,
        keyVersion: t.version,
        status: 200,
        clientId: t.clientId,
        sourceAddress: t.addresses[n % t.addresses.length],
        userAgent: t.userAgent,
        method: 'POST',
        route: '/v1/charges',
        gateway: 'gw-test-1',
        latencyMs: 12,
      })
    }
  }
  return out
}

// --- helpers ---------------------------------------------------------------------------

function config(dir: string, tokens: string[] = []) {
  return parseConfig({
    instance: 'status-page-test',
    data_dir: dir,
    log: { level: 'silent' },
    http: { port: 0, read_tokens: tokens },
    secrets: { pepper: PEPPER },
    // The seeded events end at NOW − 2 min and nothing logs after them: the test's
    // one gateway declares a bound long enough for the whole test.
    analysis: { freshness: { silent_after_ms: HOUR } },
  })
}

async function startApp(dir: string, tokens: string[] = []): Promise<App> {
  const app = await createApp(config(dir, tokens), { logger: silentLogger() })
  await app.start()
  return app
}

async function seed(app: App): Promise<void> {
  await app.keys.record(
    LIFECYCLE.map((doc, i) =>
      parseLifecycle(doc, {
        now: NOW,
        fingerprint: app.fingerprint,
        origin: 'test',
        defaultEventId: `status-page-lifecycle-${i}`,
      }),
    ),
  )
  app.registerDecoder('test:seed', {
    preset: 'canonical',
    secret_fields: [],
    max_record_bytes: 65_536,
    max_future_skew_ms: 300_000,
  })
  const records = canonicalEvents().map((event, i) => ({
    value: Buffer.from(JSON.stringify(event)),
    partition: 0,
    offset: BigInt(i),
    nextOffset: BigInt(i + 1),
  }))
  await app.pipeline.submit('test:seed', 0, records)
  await app.pipeline.drain()
  // What the usage-anomaly watch would have written for acme-payments: twelve
  // 5-minute buckets within the band, then one far above it; and four buckets of
  // new source addresses, all within their band.
  const bucket0 = Math.floor((NOW - HOUR) / (5 * MIN)) * 5 * MIN
  await app.store.client.insert({
    table: `${app.store.database}.usage_bands`,
    values: [
      ...Array.from({ length: 13 }, (_, i) => ({
        bucket: Math.floor((bucket0 + i * 5 * MIN) / 1000),
        key_id: 'acme-payments',
        version: '',
        metric: 'requests',
        observed: i === 12 ? 90 : 20,
        expected: 20,
        lower: 10,
        upper: 30,
        score: i === 12 ? 0.9 : 0.1,
      })),
      ...Array.from({ length: 4 }, (_, i) => ({
        bucket: Math.floor((bucket0 + i * 5 * MIN) / 1000),
        key_id: 'acme-payments',
        version: '',
        metric: 'new_sources',
        observed: 1,
        expected: 0.5,
        lower: 0,
        upper: 4,
        score: 0.05,
      })),
    ],
    format: 'JSONEachRow',
  })
  // No source runs in this app, so nothing writes heartbeats: one caught-up
  // heartbeat makes ingestion freshness known (data_fresh passes for the test's minutes).
  await app.status.heartbeat({
    time: Date.now(),
    instance: 'status-page-test',
    newestEventTime: NOW - 2 * MIN,
    consumerLagMessages: 0,
    bufferedEvents: 0,
    sourcesReady: true,
  })
}

const text = async (page: Page, selector: string) =>
  ((await page.locator(selector).textContent()) ?? '').trim()
const texts = async (page: Page, selector: string) =>
  (await page.locator(selector).allTextContents()).map((t) => t.trim())

async function waitForData(page: Page): Promise<void> {
  await page.waitForSelector('#update-status[data-state="ok"]', { timeout: 30_000 })
  await page.waitForSelector('article.key[data-key="acme-payments"] .rotation .readiness', {
    timeout: 30_000,
  })
}

// --- tests -----------------------------------------------------------------------------

describe('status page', () => {
  const dir = mkdtempSync(join(tmpdir(), 'keyshift-status-page-'))
  const dataDir = join(dir, 'data')
  let browser: Browser

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium`)
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    })
  })

  afterAll(async () => {
    await browser?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  describe('with an open API', () => {
    let app: App
    let url: string
    let context: BrowserContext

    beforeAll(async () => {
      app = await startApp(dataDir)
      await seed(app)
      url = app.url()!
      context = await browser.newContext({ viewport: { width: 1400, height: 1000 } })
    })

    afterAll(async () => {
      await context?.close()
      await app?.stop()
    })

    it('serves the page and its assets without auth, with content types and no-cache', async () => {
      const expected: [string, string][] = [
        ['/', 'text/html; charset=utf-8'],
        ['/status.css', 'text/css; charset=utf-8'],
        ['/status.js', 'text/javascript; charset=utf-8'],
      ]
      for (const [path, type] of expected) {
        const res = await fetch(`${url}${path}`)
        expect(res.status, path).toBe(200)
        expect(res.headers.get('content-type'), path).toBe(type)
        expect(res.headers.get('cache-control'), path).toBe('no-cache')
        expect(res.headers.get('x-content-type-options'), path).toBe('nosniff')
        const etag = res.headers.get('etag')!
        expect((await res.text()).length, path).toBeGreaterThan(100)
        const again = await fetch(`${url}${path}`, { headers: { 'if-none-match': etag } })
        expect(again.status, path).toBe(304)
      }
      const html = await fetch(`${url}/`)
      expect(html.headers.get('content-security-policy')).toContain("script-src 'self'")
    })

    it('shows every key, its version shares, chart, readiness, stragglers and findings', async () => {
      const page = await context.newPage()
      const problems: string[] = []
      page.on('pageerror', (err) => problems.push(`page error: ${err.message}`))
      page.on('console', (m) => {
        // A daemon without /api/v1/alerts answers the page's probe with 404 (expected).
        const probe = m.location().url.endsWith('/api/v1/alerts') && m.text().includes('404')
        if ((m.type() === 'error' || m.type() === 'warning') && !probe) {
          problems.push(`console ${m.type()}: ${m.text()} (${m.location().url})`)
        }
      })
      await page.goto(`${url}/?refresh=2`)
      await waitForData(page)

      // Keys that need attention first (a deactivated version in use; a rotation in
      // progress; which of the two ranks first depends on alerts firing meanwhile),
      // then globex-api, which needs nothing.
      const keyOrder = await page
        .locator('article.key')
        .evaluateAll((els) => els.map((e) => e.getAttribute('data-key')))
      expect([...keyOrder.slice(0, 2)].sort()).toEqual(['acme-payments', 'initech-legacy'])
      expect(keyOrder[2]).toBe('globex-api')
      expect(await text(page, '#keys-nav .keys-range')).toBe('Keys 1–3 of 3, those that need attention first')
      expect(await page.locator('#keys-nav button[data-page="next"]').isDisabled()).toBe(true)
      expect(await text(page, 'article.key[data-key="initech-legacy"] .key-attention')).toMatch(
        /^critical v1 is deactivated but carried requests in the last 24 h/,
      )
      expect(await page.locator('article.key[data-key="globex-api"] .key-attention').count()).toBe(0)

      // What needs attention comes first: the deactivated version still in use, then
      // the old version that is not ready, with why; then alerts, then the keys.
      expect(await page.locator('main > section').evaluateAll((els) => els.map((e) => e.id))).toEqual([
        'attention',
        'alerts',
        'keys',
      ])
      const attention = await page
        .locator('#attention-body li')
        .evaluateAll((els) => els.map((e) => [e.getAttribute('data-attention'), e.textContent?.trim()]))
      expect(attention.filter(([id]) => id !== 'alerts-firing')).toEqual([
        [
          'deactivated-in-use:initech-legacy:v1',
          "critical initech-legacy v1 is deactivated but still carried 8 request(s), 40.0% of the key's traffic, in the last 24 h.",
        ],
        [
          'not-ready:acme-payments:v1',
          'info acme-payments v1 is not ready: old_traffic_below_threshold, min_overlap_elapsed.',
        ],
      ])
      expect(await page.locator('#attention-body li a').first().getAttribute('href')).toBe(
        '#key-initech-legacy',
      )
      // The deactivated version in use is shown as the incident it is, with its clients.
      const initech = 'article.key[data-key="initech-legacy"]'
      expect(await text(page, `${initech} .deactivated-in-use h4`)).toBe('v1 is deactivated but still in use')
      expect(
        await page
          .locator(`${initech} .deactivated-in-use .stragglers tbody tr`)
          .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-client'))),
      ).toEqual(['old-worker'])
      expect(await page.locator(`${initech} .rotation-none`).count()).toBe(0)

      // Shares per version in the versions table, last hour and last 24 h.
      const acme = 'article.key[data-key="acme-payments"]'
      const globex = 'article.key[data-key="globex-api"]'
      const share = (key: string, version: string, w: string) =>
        text(page, `${key} table.versions tr[data-version="${version}"] td[data-window="${w}"]`)
      expect(await share(acme, 'v1', '1h')).toBe('25.0%')
      expect(await share(acme, 'v2', '1h')).toBe('75.0%')
      expect(await share(acme, 'v1', '24h')).toBe('25.0%')
      expect(await share(acme, 'v2', '24h')).toBe('75.0%')
      expect(await share(globex, 'v1', '1h')).toBe('100.0%')
      expect(await texts(page, `${acme} table.versions tbody tr th`)).toEqual(['v1', 'v2'])
      expect(await texts(page, `${acme} table.versions tbody tr td:nth-child(2)`)).toEqual([
        'deprecated',
        'active',
      ])

      // The bars carry the same numbers as accessible labels.
      const labels = await page
        .locator(`${acme} .bar-row[data-window="1h"] .seg`)
        .evaluateAll((els) => els.map((e) => e.getAttribute('aria-label')))
      expect(labels).toEqual([
        'v1: 25.0% (25 of 100 requests, last hour)',
        'v2: 75.0% (75 of 100 requests, last hour)',
      ])
      expect(await page.locator(`${acme} .bar-row[data-window="1h"] .bar`).getAttribute('aria-label')).toBe(
        'acme-payments: share of requests by version, last hour (100 requests)',
      )

      // The chart: an SVG with one path per version seen in the last 24 h.
      const paths = (key: string) =>
        page
          .locator(`${key} svg.chart path.series`)
          .evaluateAll((els) => els.map((e) => e.getAttribute('data-version')))
      expect(await paths(acme)).toEqual(['v1', 'v2'])
      expect(await paths(globex)).toEqual(['v1'])
      expect(await page.locator(`${acme} svg.chart title`).first().textContent()).toContain(
        'v1 25.0%, v2 75.0%',
      )

      // Readiness of the old version: not_ready, with the failing rules.
      const readiness = `${acme} .rotation[data-version="v1"] .readiness`
      expect(await page.locator(`${readiness} [data-verdict]`).getAttribute('data-verdict')).toBe('not_ready')
      expect(await text(page, `${readiness} .verdict`)).toBe('not_ready')
      const outcomes = await page
        .locator(`${readiness} tr[data-rule]`)
        .evaluateAll((els) => els.map((e) => [e.getAttribute('data-rule'), e.getAttribute('data-outcome')]))
      expect(outcomes).toEqual([
        ['newer_version_active', 'pass'],
        ['old_traffic_below_threshold', 'fail'],
        ['no_failures_on_newer', 'pass'],
        ['min_overlap_elapsed', 'fail'],
        ['data_fresh', 'pass'],
        ['places_reporting', 'pass'],
      ])
      expect(await text(page, `${readiness} .failing`)).toBe(
        '— old_traffic_below_threshold (fail), min_overlap_elapsed (fail)',
      )
      expect(
        await text(page, `${readiness} tr[data-rule="old_traffic_below_threshold"] td:last-child`),
      ).toMatch(/^v1 had 25 request\(s\), 25\.00% of the key's 100, in the last 24 h/)
      // The usage band: acme-payments' requests per 5 min against the expected band, one bucket outside it.
      const band = page.locator(`${acme} svg.band-chart[data-metric="requests"]`)
      expect([await band.getAttribute('data-points'), await band.getAttribute('data-anomalies')]).toEqual([
        '13',
        '1',
      ])
      expect(
        await page.locator(`${acme} svg.band-chart[data-metric="requests"] circle.anomaly`).count(),
      ).toBe(1)
      // And its new source addresses against theirs, none outside it.
      const sources = page.locator(`${acme} svg.band-chart[data-metric="new_sources"]`)
      expect([
        await sources.getAttribute('data-points'),
        await sources.getAttribute('data-anomalies'),
      ]).toEqual(['4', '0'])
      expect(await page.locator(`${globex} svg.band-chart`).count()).toBe(0)
      // Only acme-payments v1 is an old version; globex-api has no rotation.
      expect(await page.locator('.rotation').count()).toBe(1)
      expect(await text(page, `${globex} .rotation-none`)).toContain('No rotation in progress')
      // What the key's judgement rests on: acme's stored history starts 41 min ago, after
      // v1 was deprecated, so possible_leak is not judged, and the page says why.
      const iso = (t: number) => new Date(t).toISOString()
      expect(await texts(page, `${acme} .leak-note[data-version="v1"]`)).toEqual([
        `possible_leak not raised: the stored history of acme-payments starts at ${iso(NOW - 41 * MIN)}, ` +
          `after v1 was deprecated at ${iso(NOW - HOUR)}: keyshift cannot tell who used v1 before, so possible_leak is not raised`,
      ])
      // initech-legacy's stored history also starts after its v1 was deprecated.
      expect(
        (
          await page
            .locator('.leak-note')
            .evaluateAll((els) =>
              els.map((e) => [
                e.closest('article')?.getAttribute('data-key'),
                e.getAttribute('data-version'),
              ]),
            )
        ).sort(),
      ).toEqual([
        ['acme-payments', 'v1'],
        ['initech-legacy', 'v1'],
      ])
      // Every place that carried the keys is reporting (bound 1 h): no silent place is listed.
      expect(await page.locator('.silent-places').count()).toBe(0)

      // Stragglers on v1: clients, requests, addresses.
      const stragglers = await page
        .locator(`${acme} .stragglers tbody tr`)
        .evaluateAll((rows) =>
          rows.map((r) => [
            r.getAttribute('data-client'),
            r.querySelector('[data-field="requests"]')?.textContent,
            r.querySelector('[data-field="addresses"]')?.textContent,
            r.querySelector('td:last-child')?.textContent,
          ]),
        )
      expect(stragglers).toEqual([
        ['legacy-batch', '15', '203.0.113.10, 203.0.113.11', 'no'],
        ['billing-cron', '10', '198.51.100.7', 'yes (v2)'],
      ])

      // Markup in a user agent is shown as text and never runs.
      expect(await text(page, `${acme} .stragglers tr[data-client="legacy-batch"] td:nth-child(6)`)).toBe(
        HOSTILE_UA,
      )
      expect(await page.locator('img').count()).toBe(0)
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()

      // Findings: exactly those the API reports, most severe first; the expiry one is critical.
      const api = (await (await fetch(`${url}/api/v1/findings`)).json()) as {
        findings: { id: string; severity: string }[]
      }
      const rank: Record<string, number> = { critical: 0, warning: 1, info: 2 }
      const expected = [...api.findings]
        .sort((a, b) => (rank[a.severity] ?? 3) - (rank[b.severity] ?? 3))
        .map((f) => [f.id, f.severity])
      const shown = await page
        .locator('#alerts-body table.findings tbody tr')
        .evaluateAll((rows) =>
          rows.map((r) => [r.getAttribute('data-finding'), r.querySelector('[data-severity]')?.textContent]),
        )
      expect(shown).toEqual(expected)
      expect(shown).toContainEqual(['expiring_with_traffic:acme-payments:v1:*', 'critical'])
      expect(
        await text(page, '#alerts-body tr[data-finding="expiring_with_traffic:acme-payments:v1:*"] .title'),
      ).toMatch(/^acme-payments v1 expires in 1[12](\.\d)? h and is still in use$/)
      // Open alerts are listed when the daemon serves /api/v1/alerts; otherwise findings stand in.
      const alerts = await fetch(`${url}/api/v1/alerts`)
      expect(await texts(page, '#alerts-body h3')).toEqual(
        alerts.status === 200 ? ['Alerts', 'Current findings'] : ['Open findings'],
      )

      // Refreshes by itself: the last update time moves on (?refresh=2).
      const first = Number(await page.locator('#update-status').getAttribute('data-updated'))
      await page.waitForFunction(
        (t) => Number(document.getElementById('update-status')?.dataset.updated) > t,
        first,
        { timeout: 15_000 },
      )
      expect(await text(page, '#refresh-info')).toContain('refreshes every 2 s')
      expect(await page.locator('#banner').isHidden()).toBe(true)

      mkdirSync('test-results', { recursive: true })
      await page.screenshot({ path: SCREENSHOT, fullPage: true })
      expect(problems).toEqual([])
      await page.close()
    })

    it('reads on a phone: nothing makes the page wider than the screen', async () => {
      const phone = await browser.newContext({ viewport: { width: 375, height: 800 }, isMobile: true })
      try {
        const page = await phone.newPage()
        await page.goto(`${url}/?refresh=0`)
        await waitForData(page)
        const widths = await page.evaluate(() => [
          document.documentElement.scrollWidth,
          document.documentElement.clientWidth,
        ])
        expect(widths).toEqual([375, 375])
        // The wide stragglers table scrolls inside its own box instead.
        const box = page.locator('article.key[data-key="acme-payments"] .stragglers .table-scroll').first()
        expect(await box.evaluate((el) => el.scrollWidth > el.clientWidth)).toBe(true)
      } finally {
        await phone.close()
      }
    })

    it('shows a banner when the API fails, keeps the last data, and recovers', async () => {
      const page = await context.newPage()
      await page.goto(`${url}/?refresh=1`)
      await waitForData(page)

      const keyList = (u: URL) => u.pathname === '/api/v1/keys'
      await page.route(keyList, (route) =>
        route.fulfill({
          status: 503,
          contentType: 'application/problem+json',
          body: JSON.stringify({
            type: 'https://keyshift.dev/errors/KS_STORE_UNAVAILABLE',
            title: 'The store is unavailable',
            status: 503,
            detail: 'chdb stopped answering (test)',
            code: 'KS_STORE_UNAVAILABLE',
          }),
        }),
      )
      await page.locator('#banner').waitFor({ state: 'visible', timeout: 15_000 })
      // The whole banner (paragraph, then the list item): nothing else, no stray "null".
      expect(await text(page, '#banner')).toMatch(
        /^The keyshift API answered with 1 error\(s\)\. Showing the data of the last successful update \(\d\d:\d\d:\d\d UTC\)\.GET \/api\/v1\/keys: 503 The store is unavailable: chdb stopped answering \(test\)$/,
      )
      await page.waitForSelector('#update-status[data-state="error"]')
      expect(await text(page, '#update-status')).toMatch(
        /^Update failed at .* UTC; last successful update .* UTC$/,
      )
      // Nothing blanked: the keys, shares and verdict are still there.
      expect(await page.locator('article.key').count()).toBe(3)
      expect(
        await text(page, 'article.key[data-key="acme-payments"] tr[data-version="v1"] td[data-window="1h"]'),
      ).toBe('25.0%')
      mkdirSync('test-results', { recursive: true })
      await page.screenshot({ path: join('test-results', 'status-page-error.png') })

      await page.unroute(keyList)
      await page.locator('#banner').waitFor({ state: 'hidden', timeout: 15_000 })
      await page.waitForSelector('#update-status[data-state="ok"]')
      await page.close()
    })

    it('lists open alerts, most severe first, when /api/v1/alerts answers', async () => {
      // The alerts route is the alerting module's (routes/silences.ts); its answer is
      // stood in here by Playwright's routing, in the AlertView shape it returns.
      const alert = (id: string, severity: string, status: string, silencedBy: string[]) => ({
        id,
        channel: 'alert',
        status,
        silenced_by: silencedBy,
        type: id.split(':')[0],
        severity,
        key_id: 'acme-payments',
        version: 'v1',
        scope: '*',
        labels: {},
        title: `<b>${id}</b>`,
        summary: 'summary',
        evidence: {},
        starts_at: new Date(NOW - 10 * MIN).toISOString(),
        pending_since: new Date(NOW - 10 * MIN).toISOString(),
        fired_at: null,
        last_seen: new Date(NOW).toISOString(),
      })
      const page = await context.newPage()
      await page.route('**/api/v1/alerts', (route) =>
        route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({
            alerts: [
              alert('possible_leak:acme-payments:v1:address=203.0.113.10', 'warning', 'pending', []),
              alert('expiring_with_traffic:acme-payments:v1:*', 'critical', 'firing', ['sil_1']),
            ],
          }),
        }),
      )
      await page.goto(`${url}/?refresh=off`)
      await waitForData(page)
      expect(await texts(page, '#alerts-body h3')).toEqual(['Alerts', 'Current findings'])
      const rows = await page
        .locator('#alerts-body table.alerts tbody tr')
        .evaluateAll((trs) =>
          trs.map((r) => [
            r.getAttribute('data-alert'),
            r.querySelector('[data-severity]')?.textContent,
            r.querySelector('td:nth-child(2)')?.textContent,
            r.querySelector('.title')?.textContent,
          ]),
        )
      expect(rows).toEqual([
        [
          'expiring_with_traffic:acme-payments:v1:*',
          'critical',
          'firing (silenced)',
          '<b>expiring_with_traffic:acme-payments:v1:*</b>',
        ],
        [
          'possible_leak:acme-payments:v1:address=203.0.113.10',
          'warning',
          'pending',
          '<b>possible_leak:acme-payments:v1:address=203.0.113.10</b>',
        ],
      ])
      expect(await page.locator('#alerts-body b').count()).toBe(0)
      await page.close()
    })

    it("shows the last evaluation round's duration and keys read when /api/v1/alerts carries it", async () => {
      const at = Date.UTC(2026, 11, 7, 13, 5, 9)
      const page = await context.newPage()
      await page.route('**/api/v1/alerts', (route) =>
        route.fulfill({
          status: 200,
          contentType: 'application/json',
          body: JSON.stringify({
            alerts: [],
            next_cursor: null,
            evaluation: {
              at: new Date(at).toISOString(),
              duration_ms: 137,
              keys_read: 12,
              keys_total: 10_004,
              readiness_read: 1,
              readiness_candidates: 40,
            },
          }),
        }),
      )
      await page.goto(`${url}/?refresh=off`)
      await waitForData(page)
      expect(await text(page, '#evaluation-round')).toBe(
        'Last evaluation 13:05:09 UTC: 137 ms, read 12 of 10,004 keys and 1 of 40 readiness verdicts',
      )
      await page.close()
    })

    it('pages through many keys, needing attention first, and finds a key by part of its id', async () => {
      // 25 more keys with one active version and no traffic: nothing about them needs a person.
      await app.keys.record(
        Array.from({ length: 25 }, (_, i) => {
          const keyId = `tenant-${String(i).padStart(2, '0')}`
          return [
            { key_id: keyId, version: 'v1', action: 'create', time: NOW - 5 * DAY },
            { key_id: keyId, version: 'v1', action: 'activate', time: NOW - 5 * DAY + MIN },
          ]
        })
          .flat()
          .map((doc, i) =>
            parseLifecycle(doc, {
              now: NOW,
              fingerprint: app.fingerprint,
              origin: 'test',
              defaultEventId: `tenant-${i}`,
            }),
          ),
      )
      const page = await context.newPage()
      await page.goto(`${url}/?refresh=off`)
      await waitForData(page)
      const keysShown = () =>
        page.locator('article.key').evaluateAll((els) => els.map((e) => e.getAttribute('data-key')))
      // 20 keys a page: the two that need attention, then globex-api and tenant-00…16 by id.
      const first = await keysShown()
      expect(first).toHaveLength(20)
      expect(first.slice(2)).toEqual([
        'globex-api',
        ...Array.from({ length: 17 }, (_, i) => `tenant-${String(i).padStart(2, '0')}`),
      ])
      expect(await text(page, '#keys-nav .keys-range')).toBe(
        'Keys 1–20 of 28, those that need attention first',
      )
      expect(await page.locator('#keys-nav button[data-page="previous"]').isDisabled()).toBe(true)

      await page.click('#keys-nav button[data-page="next"]')
      await page.waitForSelector('article.key[data-key="tenant-24"]')
      expect(await keysShown()).toEqual(Array.from({ length: 8 }, (_, i) => `tenant-${17 + i}`))
      expect(await text(page, '#keys-nav .keys-range')).toBe(
        'Keys 21–28 of 28, those that need attention first',
      )
      expect(await page.locator('#keys-nav button[data-page="next"]').isDisabled()).toBe(true)
      // The keys that need attention are on page 1; this page says so.
      expect(await text(page, '#attention-body li[data-attention="more-keys"]')).toMatch(
        /^critical 2 more key\(s\) on other pages need attention: 1 critical, 1 (info|warning|critical)\.$|^critical 2 more key\(s\) on other pages need attention: 2 critical\.$/,
      )

      await page.click('#keys-nav button[data-page="previous"]')
      await page.waitForSelector('article.key[data-key="globex-api"]')
      expect(await keysShown()).toEqual(first)

      await page.fill('#keys-filter-input', 'GLOB')
      await page.click('#keys-filter button[type="submit"]')
      await page.waitForSelector('article.key[data-key="acme-payments"]', { state: 'detached' })
      expect(await keysShown()).toEqual(['globex-api'])
      expect(await text(page, '#keys-nav .keys-range')).toBe('Keys 1–1 of 1, those that need attention first')
      await page.fill('#keys-filter-input', 'no-such-key')
      await page.click('#keys-filter button[type="submit"]')
      await page.waitForSelector('#keys-body > p.muted')
      expect(await text(page, '#keys-body')).toBe('No key id contains “no-such-key”.')
      await page.close()
    })
  })

  describe('with an API that needs a bearer token', () => {
    let app: App
    let url: string

    beforeAll(async () => {
      // One chDB data directory per process: the same store, reopened with tokens.
      app = await startApp(dataDir, [READ_TOKEN])
      url = app.url()!
    })

    afterAll(async () => {
      await app?.stop()
    })

    it('serves the page without a token, reports 401 in the banner and asks for the token', async () => {
      expect((await fetch(`${url}/`)).status).toBe(200)
      expect((await fetch(`${url}/api/v1/keys`)).status).toBe(401)

      const context = await browser.newContext()
      const page = await context.newPage()
      await page.goto(`${url}/?refresh=off`)
      await page.waitForSelector('#update-status[data-state="error"]')
      expect(await texts(page, '#banner li')).toContain(
        'GET /api/v1/keys: 401 Missing or invalid bearer token: send Authorization: Bearer <token> with a configured read or admin token',
      )
      expect(await text(page, '#banner')).toContain('#token=<token>')
      expect(await page.locator('#token-form').isVisible()).toBe(true)
      expect(await text(page, '#refresh-info')).toContain('automatic refresh off')

      // Entering the token loads the data.
      await page.fill('#token-input', READ_TOKEN)
      await page.click('#token-form button[type="submit"]')
      await waitForData(page)
      expect(await page.locator('#banner').isHidden()).toBe(true)
      await context.close()
    })

    it('takes the token from #token=, sends it as a bearer token, and keeps it out of the URL', async () => {
      const context = await browser.newContext()
      const page = await context.newPage()
      const auth = new Set<string>()
      page.on('request', (r) => {
        if (r.url().includes('/api/v1/')) auth.add(r.headers().authorization ?? '(none)')
      })
      await page.goto(`${url}/?refresh=off#token=${READ_TOKEN}`)
      await waitForData(page)
      expect([...auth]).toEqual([`Bearer ${READ_TOKEN}`])
      expect(await page.evaluate(() => window.location.hash)).toBe('')
      expect(await page.evaluate(() => window.localStorage.getItem('keyshift.token'))).toBe(READ_TOKEN)
      expect(
        await text(page, 'article.key[data-key="acme-payments"] tr[data-version="v2"] td[data-window="1h"]'),
      ).toBe('75.0%')

      // Stored in the browser: a plain reload keeps working.
      await page.goto(`${url}/?refresh=off`)
      await waitForData(page)
      await context.close()
    })
  })
})
