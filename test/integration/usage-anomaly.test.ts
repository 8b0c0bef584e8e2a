// usage_anomaly through the real store: events in the raw table, the per-minute
// rollup, the bucketed read (usageBucketsOfKeys) and the streaming watch fed once
// per completed bucket, as the evaluation loop does.
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

describe('usage_anomaly from stored events', () => {
  let app: App
  // The surge bucket is the last one; "now" is past its end and the 1-minute settle time.
  const surge = Math.floor(Date.now() / BUCKET) * BUCKET - 2 * BUCKET
  const now = surge + BUCKET + MIN + 1_000
  const start = surge - BUCKETS * BUCKET

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-usage-anomaly-'))
    app = await createApp(
      parseConfig({
        instance: 'usage-anomaly',
        data_dir: join(dir, 'data'),
        http: { enabled: false },
        secrets: { pepper: 'test-pepper-0123456789abcdef' },
      }),
      { logger: silentLogger() },
    )
    const rows: Record<string, unknown>[] = []
    let id = 0
    const events = (bucket: number, n: number) => {
      for (let k = 0; k < n; k++)
        rows.push({
          time: bucket + (k % 5) * MIN + 1_000, // spread over the bucket's five minutes
          event_id: `e${id++}`,
          key_id: 'shop',
          key_version: 'v1',
          outcome: 'success',
          reason: '',
          status: 200,
          client_id: 'c1',
          gateway: 'gw-1',
          src: 'test',
          src_offset: id,
        })
    }
    // Two calm days, 20 to 24 requests per 5 minutes; then 120 in the last bucket.
    for (let b = 0; b < BUCKETS; b++) events(start + b * BUCKET, 20 + ((b * 7) % 5))
    events(surge, 120)
    await app.store.client.insert({ table: 'keyshift.auth_events', values: rows, format: 'JSONEachRow' })
  })

  afterAll(async () => {
    await app?.stop()
  })

  const watch = (lagMs: number | null) =>
    new UsageAnomalies(app.config.analysis.usage_anomaly, {
      keys: async () => ['shop'],
      usageBuckets: (keys, w, bucketMs) =>
        new AnalyticsStore(app.store.client, app.store.database).usageBucketsOfKeys(keys, w, bucketMs),
      freshness: async () => ({ lagMs }),
    })

  it('reads whole buckets per version from the rollup', async () => {
    const rows = await new AnalyticsStore(app.store.client, app.store.database).usageBucketsOfKeys(
      ['shop'],
      { from: surge - BUCKET, to: surge + BUCKET },
      BUCKET,
    )
    const last = (BUCKETS - 1) * 7
    expect(rows.get('shop')).toEqual([
      { bucket: surge - BUCKET, version: 'v1', requests: 20 + (last % 5), failures: 0 },
      { bucket: surge, version: 'v1', requests: 120, failures: 0 },
    ])
  })

  it('raises usage_anomaly for the surge bucket, for the key and its version, with the expected band', async () => {
    const findings = await watch(0).findings(now)
    // v1 carries all of the key's traffic: one finding, for the key.
    expect(findings.map((f) => f.id)).toEqual(['usage_anomaly:shop::metric=requests'])
    const f = findings[0]!
    expect(f.evidence).toMatchObject({ metric: 'requests', observed: 120, since: surge })
    expect(f.title).toContain('traffic surged (120, expected')
    expect(f.evidence.expectedLower as number).toBeLessThan(24)
    expect(f.evidence.expectedUpper as number).toBeGreaterThan(20)
    expect(f.evidence.expectedUpper as number).toBeLessThan(120)
  })

  it("reaches the daemon's evaluation as a usage_anomaly alert once an instance reports it is fresh", async () => {
    // Before any instance reported, nothing is scored; then a caught-up heartbeat at now.
    const ids = async () => (await app.alerting.evaluator.observe(now)).map((o) => o.alert.id)
    expect((await ids()).filter((id) => id.startsWith('usage_anomaly:'))).toEqual([])
    await app.store.client.insert({
      table: 'keyshift.ingest_heartbeats',
      values: [
        {
          time: now,
          instance: 'usage-anomaly',
          newest_event_time: surge + BUCKET - 1,
          consumer_lag_messages: 0,
          buffered_events: 0,
          sources_ready: 1,
        },
      ],
      format: 'JSONEachRow',
    })
    // The watch updates beside the rounds (never inside one): a later round carries its findings.
    const usage = await waitFor('the usage_anomaly alert in a round', async () => {
      const found = (await app.alerting.evaluator.observe(now)).filter(
        (o) => o.alert.type === 'usage_anomaly',
      )
      return found.length > 0 && found
    })
    expect(usage.map((o) => [o.channel, o.alert.id, o.startedAt])).toEqual([
      ['alert', 'usage_anomaly:shop::metric=requests', surge],
    ])
  })

  it('stores every scored bucket with its expected band for the Grafana panel', async () => {
    const rs = await app.store.client.query({
      query: `SELECT count() AS n, max(bucket) = toDateTime({surge:UInt32}, 'UTC') AS last_is_surge,
          argMax(observed, bucket) AS observed, argMax(expected, bucket) AS expected,
          argMax(upper, bucket) AS upper, argMax(score, bucket) AS score
        FROM keyshift.usage_bands FINAL
        WHERE key_id = 'shop' AND version = '' AND metric = 'requests'`,
      query_params: { surge: surge / 1000 },
      format: 'JSONEachRow',
    })
    const [r] = await rs.json<{
      n: string
      last_is_surge: number
      observed: number
      expected: number
      upper: number
      score: number
    }>()
    // Every bucket of the last day (288), the surge last: a new key's older history is
    // scored but not written (at 10 000 keys it would be 2 300 rows per series).
    expect(BUCKETS + 1 - 16).toBeGreaterThan(288)
    expect(Number(r!.n)).toBe(288)
    expect(r!.last_is_surge).toBe(1)
    expect(r!.observed).toBe(120)
    expect(r!.expected).toBeGreaterThan(19)
    expect(r!.expected).toBeLessThan(25)
    expect(r!.upper).toBeLessThan(120)
    expect(r!.score).toBeGreaterThanOrEqual(0.5)
  })

  it('scores nothing while the store is not known to be fresh up to the bucket', async () => {
    expect(await watch(null).findings(now)).toEqual([])
    // Ingest 10 minutes behind: the surge bucket is not complete in the store yet.
    expect(await watch(10 * MIN).findings(now)).toEqual([])
  })
})
