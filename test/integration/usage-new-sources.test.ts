// usage_anomaly on new source addresses through the real store: events in the raw
// table, the per-minute client rollup, the sightings read (sourceSightingsOfKeys)
// and the watch fed once per completed bucket, as the evaluation loop does.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { UsageAnomalies } from '../../src/evaluation/usage-anomalies.ts'
import { AnalyticsStore } from '../../src/store/clickhouse/analytics-store.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'
import { waitFor } from '../support/daemon.ts'

const MIN = 60_000
const BUCKET = 5 * MIN
const DAYS = 2
const BUCKETS = (DAYS * 86_400_000) / BUCKET

describe('usage_anomaly on new source addresses from stored events', () => {
  let app: App
  let analytics: AnalyticsStore
  // The burst bucket is the last one; "now" is past its end and the 1-minute settle time.
  const burst = Math.floor(Date.now() / BUCKET) * BUCKET - 2 * BUCKET
  const now = burst + BUCKET + MIN + 1_000
  const start = burst - BUCKETS * BUCKET

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-usage-new-sources-'))
    app = await createApp(
      parseConfig({
        instance: 'usage-new-sources',
        data_dir: join(dir, 'data'),
        http: { enabled: false },
        secrets: { pepper: 'test-pepper-0123456789abcdef' },
      }),
      { logger: silentLogger() },
    )
    analytics = new AnalyticsStore(app.store.client, app.store.database)
    const rows: Record<string, unknown>[] = []
    let id = 0
    const event = (key: string, time: number, address: string) =>
      rows.push({
        time,
        event_id: `e${id++}`,
        key_id: key,
        key_version: 'v1',
        outcome: 'success',
        reason: '',
        status: 200,
        client_id: 'c1',
        source_address: address,
        gateway: 'gw-1',
        src: 'test',
        src_offset: id,
      })
    // Both keys, two days: 20 requests per 5 minutes from ten usual addresses, and one
    // address never seen before in every third bucket (the usual churn).
    for (const key of ['shop', 'calm']) {
      for (let b = 0; b <= BUCKETS; b++) {
        const t = start + b * BUCKET
        for (let k = 0; k < 20; k++) event(key, t + (k % 5) * MIN + 1_000, `10.0.0.${k % 10}`)
        if (b % 3 === 0) event(key, t + 2 * MIN, `172.16.${b >> 8}.${b & 255}`)
      }
    }
    // In the last bucket, shop is also used from 50 addresses it has never seen.
    for (let k = 0; k < 50; k++) event('shop', burst + (k % 5) * MIN + 2_000, `203.0.113.${k}`)
    await app.store.client.insert({ table: 'keyshift.auth_events', values: rows, format: 'JSONEachRow' })
  })

  afterAll(async () => {
    await app?.stop()
  })

  it('reads each address once per key with its first and last minute, empty addresses left out', async () => {
    const seen = await analytics.sourceSightingsOfKeys(['shop'], { from: burst, to: burst + BUCKET }, 100)
    const shop = seen.get('shop')!
    // Ten usual addresses, the 50 new ones and the bucket's churn address (576 buckets: a multiple of 3).
    expect(BUCKETS % 3).toBe(0)
    expect(shop).toHaveLength(10 + 50 + 1)
    expect(shop.find((s) => s.source === '10.0.0.3')).toEqual({
      source: '10.0.0.3',
      first: burst + 3 * MIN,
      last: burst + 3 * MIN,
    })
    // At most maxPerKey per key, the most recently seen.
    expect(
      (await analytics.sourceSightingsOfKeys(['shop'], { from: start, to: burst + BUCKET }, 5)).get('shop'),
    ).toHaveLength(5)
  })

  it('raises usage_anomaly with metric new_sources for the key used from 50 new addresses, not for the calm key', async () => {
    const watch = new UsageAnomalies(app.config.analysis.usage_anomaly, {
      keys: async () => ['calm', 'shop'],
      usageBuckets: (keys, w, bucketMs) => analytics.usageBucketsOfKeys(keys, w, bucketMs),
      sourceSightings: (keys, w, max) => analytics.sourceSightingsOfKeys(keys, w, max),
      freshness: async () => ({ lagMs: 0 }),
    })
    const findings = await watch.findings(now)
    const sources = findings.filter((f) => f.scope === 'metric=new_sources')
    expect(sources.map((f) => f.id)).toEqual(['usage_anomaly:shop::metric=new_sources'])
    expect(sources[0]!.evidence).toMatchObject({ metric: 'new_sources', observed: 50 + 1, since: burst })
    expect(sources[0]!.evidence.expectedUpper as number).toBeLessThan(10)
    expect(findings.filter((f) => f.keyId === 'calm')).toEqual([])
  })

  it("reaches the daemon's evaluation as a usage_anomaly alert on new_sources", async () => {
    await app.store.client.insert({
      table: 'keyshift.ingest_heartbeats',
      values: [
        {
          time: now,
          instance: 'usage-new-sources',
          newest_event_time: burst + BUCKET - 1,
          consumer_lag_messages: 0,
          buffered_events: 0,
          sources_ready: 1,
        },
      ],
      format: 'JSONEachRow',
    })
    // The watch updates beside the rounds (never inside one): a later round carries its findings.
    const sources = await waitFor('the new_sources alert in a round', async () => {
      const found = (await app.alerting.evaluator.observe(now)).filter((o) =>
        o.alert.id.endsWith(':metric=new_sources'),
      )
      return found.length > 0 && found
    })
    expect(sources.map((o) => [o.channel, o.alert.id, o.startedAt])).toEqual([
      ['alert', 'usage_anomaly:shop::metric=new_sources', burst],
    ])
  })
})
