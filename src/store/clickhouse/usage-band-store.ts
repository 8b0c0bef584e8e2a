// Writes the usage-anomaly watch's scored buckets (observed value and expected
// band per series) to `usage_bands`, which Grafana's expected-band panel and the
// status page (GET /api/v1/keys/:key/usage-bands) read.
import type { ClickHouseClient } from '@clickhouse/client'
import type { UsageBandPoint } from '../../analysis/usage-anomaly.ts'
import { classifyStoreError } from './errors.ts'
import { qualified } from './identifiers.ts'

export class UsageBandStore {
  readonly #c: ClickHouseClient
  readonly #db: string
  constructor(client: ClickHouseClient, db: string) {
    this.#c = client
    this.#db = db
  }

  async insert(points: readonly UsageBandPoint[]): Promise<void> {
    if (points.length === 0) return
    try {
      await this.#c.insert({
        table: qualified(this.#db, 'usage_bands'),
        values: points.map((p) => ({
          bucket: Math.floor(p.bucket / 1000),
          key_id: p.keyId,
          version: p.version,
          metric: p.metric,
          observed: p.observed,
          expected: p.expected,
          lower: p.lower,
          upper: p.upper,
          score: p.score,
        })),
        format: 'JSONEachRow',
      })
    } catch (err) {
      throw classifyStoreError(err, 'writing usage bands')
    }
  }

  /** A key's scored buckets in [from, to), oldest first (`version` '' is the key's total). */
  async read(keyId: string, version: string, from: number, to: number): Promise<UsageBandPoint[]> {
    try {
      const rs = await this.#c.query({
        // The alias is not `bucket`: ClickHouse would read it in WHERE instead of the column.
        query: `SELECT toUnixTimestamp(bucket) * 1000 AS bucket_ms, metric, observed, expected, lower, upper, score
          FROM ${qualified(this.#db, 'usage_bands')} FINAL
          WHERE key_id = {key:String} AND version = {version:String}
            AND bucket >= toDateTime({from:Int64} / 1000) AND bucket < toDateTime({to:Int64} / 1000)
          ORDER BY metric, bucket_ms`,
        query_params: { key: keyId, version, from, to },
        format: 'JSONEachRow',
      })
      const rows = await rs.json<{
        bucket_ms: number | string
        metric: UsageBandPoint['metric']
        observed: number
        expected: number
        lower: number
        upper: number
        score: number
      }>()
      return rows.map((r) => ({
        keyId,
        version,
        metric: r.metric,
        bucket: Number(r.bucket_ms),
        observed: Number(r.observed),
        expected: Number(r.expected),
        lower: Number(r.lower),
        upper: Number(r.upper),
        score: Number(r.score),
      }))
    } catch (err) {
      throw classifyStoreError(err, 'reading usage bands')
    }
  }
}
