// Opens a keyshift data directory's embedded store from the test process (after
// the daemon that held it has exited) and reads exact counts.
import type { ClickHouseClient } from '@clickhouse/client'
import { parseConfig } from '../../src/config/load.ts'
import { createStoreClient } from '../../src/store/clickhouse/client.ts'

export interface StoreCounts {
  events: number
  distinctEvents: number
  rollupRequests: number
  clientRollupRequests: number
  deadLetters: number
}

export async function withStore<T>(dataDir: string, fn: (c: ClickHouseClient) => Promise<T>): Promise<T> {
  const s = createStoreClient(parseConfig({ data_dir: dataDir }))
  try {
    return await fn(s.client)
  } finally {
    await s.close()
  }
}

export async function queryRows<T>(c: ClickHouseClient, query: string, params: Record<string, unknown> = {}) {
  const rs = await c.query({ query, query_params: params, format: 'JSONEachRow' })
  return rs.json<T>()
}

export async function storeCounts(c: ClickHouseClient, db = 'keyshift'): Promise<StoreCounts> {
  const [r] = await queryRows<Record<keyof StoreCounts, number>>(
    c,
    `SELECT
      (SELECT count() FROM ${db}.auth_events) AS events,
      (SELECT uniqExact(src, src_partition, src_offset) FROM ${db}.auth_events) AS distinctEvents,
      (SELECT sum(requests) FROM ${db}.auth_minute) AS rollupRequests,
      (SELECT sum(requests) FROM ${db}.auth_minute_clients) AS clientRollupRequests,
      (SELECT count() FROM ${db}.dead_letters) AS deadLetters`,
  )
  const out = {} as StoreCounts
  for (const [k, v] of Object.entries(r!)) out[k as keyof StoreCounts] = Number(v)
  return out
}
