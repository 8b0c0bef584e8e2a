// Writes the usage-anomaly watch's scored buckets (observed value and expected
// band per series) to `usage_bands`, which Grafana's expected-band panel reads.
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
}
