// Creates the one @clickhouse/client used everywhere: over HTTP to a ClickHouse
// server when `clickhouse.url` is set, else over embedded chDB in the data
// directory. Both paths get the same settings so results have the same shape
// (64-bit integers as JSON numbers, UTC).
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { resolve } from 'node:path'
import {
  type ClickHouseClient,
  ClickHouseLogLevel,
  type ClickHouseSettings,
  createClient,
} from '@clickhouse/client'
import type { createChdbConnection } from 'chdb/connection'
import { Counter, Histogram, type Registry } from 'prom-client'
import { redactUrl } from '../../config/redact.ts'
import type { Config } from '../../config/schema.ts'
import { StoreError } from '../../domain/errors.ts'
import { localBaseUrl } from '../../shared/local-url.ts'
import { mkdirPrivate } from '../../shared/private-files.ts'
import { currentPriority, laneHeld, onLaneHoldEnd } from '../../shared/work-priority.ts'
import { EngineLane } from './engine-lane.ts'
import { classifyStoreError } from './errors.ts'

export type { ClickHouseClient }

/** Applied on both paths so server and embedded results look the same. */
export const COMMON_SETTINGS: ClickHouseSettings = {
  output_format_json_quote_64bit_integers: 0,
  output_format_json_quote_decimals: 0,
  date_time_input_format: 'best_effort',
  session_timezone: 'UTC',
  // Embedded chDB keeps per-query settings for the session: without this, the
  // dedup token of the last ingest batch would apply to the next unrelated insert
  // and silently drop it (for example a lifecycle event) as a duplicate.
  insert_deduplication_token: '',
}

export interface StoreClient {
  client: ClickHouseClient
  /** `server` when talking HTTP to a ClickHouse server, `embedded` for chDB. */
  mode: 'server' | 'embedded'
  database: string
  /** Where the store is, safe to print: the server URL without credentials, or the data path. */
  target: string
  close(): Promise<void>
}

/**
 * Splits credentials out of a server URL: the client gets them as username and
 * password (URL userinfo wins over the configured ones, as the client does), so
 * the URL it holds, logs or puts in errors carries none.
 */
export function serverConnection(url: string, username: string, password: string) {
  const u = new URL(url)
  const user = u.username ? decodeURIComponent(u.username) : username
  const pass = u.password ? decodeURIComponent(u.password) : password
  u.username = ''
  u.password = ''
  return { url: u.toString(), username: user, password: pass }
}

/**
 * The first contact with the store failed: one line naming where the store is
 * and the system's reason (never a stack, never credentials).
 */
export function storeUnreachable(err: unknown, store: Pick<StoreClient, 'mode' | 'target'>): StoreError {
  const e = err as { code?: unknown; message?: unknown }
  const reason = (typeof e?.message === 'string' ? e.message : String(err)).split('\n', 1)[0]!.trim()
  const where =
    store.mode === 'server'
      ? `the ClickHouse server at ${store.target}`
      : `the embedded store in ${store.target}`
  const fix = store.mode === 'server' ? 'check clickhouse.url and that the server is up' : 'check data_dir'
  return new StoreError(`cannot use ${where}: ${reason}; ${fix}`, { retriable: true, cause: err })
}

export function embeddedPath(dataDir: string): string {
  return resolve(dataDir, 'chdb')
}

function askTheDaemon(cfg: Config): string {
  return `ask the running keyshift instead: --url ${localBaseUrl(cfg.http.host, cfg.http.port)} (or $KEYSHIFT_URL)`
}

/**
 * For commands that only read or add to an existing store (gate, status, lists):
 * fails when the configuration names an embedded store that does not exist, rather
 * than creating an empty one (and a pepper) and answering from it.
 */
export function assertStoreExists(cfg: Config): void {
  if (cfg.clickhouse.url) return
  const path = embeddedPath(cfg.data_dir)
  if (!existsSync(path)) {
    throw new StoreError(
      `no keyshift store in ${path}: ${askTheDaemon(cfg)}, or give -c with the daemon's configuration`,
      { retriable: false },
    )
  }
}

/**
 * chDB, loaded on first use: mapping the engine costs ≈ 150 MB of resident
 * memory (mostly its code), which an instance on a ClickHouse server never needs.
 */
function loadChdb(): { createChdbConnection: typeof createChdbConnection } {
  return createRequire(import.meta.url)('chdb/connection')
}

/** chDB's embedded engine allows one process per data directory; the daemon usually holds it. */
function openEmbedded(
  cfg: Config,
  path: string,
  metrics?: Registry,
): ReturnType<typeof createChdbConnection> {
  try {
    return throughLane(loadChdb().createChdbConnection({ path }), metrics)
  } catch (err) {
    if ((err as { code?: string }).code === 'CHDB_CONNECTION') {
      throw new StoreError(
        `the embedded store in ${path} is held by another keyshift process (the daemon?): ${askTheDaemon(cfg)}`,
        { retriable: false, cause: err },
      )
    }
    throw err
  }
}

/**
 * Sends every statement of the embedded engine through one lane served by
 * priority (engine-lane.ts); how long statements queued is a metric.
 */
function throughLane(
  conn: ReturnType<typeof createChdbConnection>,
  metrics?: Registry,
): ReturnType<typeof createChdbConnection> {
  const waited = metrics
    ? new Histogram({
        name: 'keyshift_store_engine_wait_seconds',
        help: 'Time statements queued for the embedded engine (one runs at a time), by priority: alert (ingest writes, evaluation), normal, background (usage watch).',
        labelNames: ['priority'] as const,
        buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
        registers: [metrics],
      })
    : null
  const lane = new EngineLane({
    onStart: (priority, ms) => waited?.observe({ priority }, ms / 1000),
    held: laneHeld,
  })
  const unsubscribe = onLaneHoldEnd(() => lane.poke())
  const close = conn.close.bind(conn)
  conn.close = () => {
    unsubscribe()
    return close()
  }
  for (const method of ['query', 'exec', 'command', 'insert', 'ping'] as const) {
    const original = (conn[method] as (...args: unknown[]) => Promise<unknown>).bind(conn)
    ;(conn as unknown as Record<string, unknown>)[method] = (...args: unknown[]) =>
      lane.run(currentPriority(), () => original(...args))
  }
  return conn
}

/**
 * Counts every read (`client.query`) the store refuses or cannot answer, by
 * whether it is worth retrying: readiness, the status page and evaluation all
 * read through this client, so one counter tells when the store stops answering.
 */
function countQueryErrors(client: ClickHouseClient, metrics: Registry): void {
  const errors = new Counter({
    name: 'keyshift_store_query_errors_total',
    help: 'Store reads (queries) that failed, by whether the failure is retriable',
    labelNames: ['retriable'] as const,
    registers: [metrics],
  })
  errors.inc({ retriable: 'true' }, 0)
  errors.inc({ retriable: 'false' }, 0)
  const query = client.query.bind(client)
  client.query = (async (params: Parameters<typeof query>[0]) => {
    try {
      return await query(params)
    } catch (err) {
      errors.inc({ retriable: String(classifyStoreError(err, 'query').retriable) })
      throw err
    }
  }) as typeof client.query
}

/** How long closing the embedded store waits for operations still running. */
const EMBEDDED_CLOSE_WAIT_MS = 5_000

/**
 * Closing chDB's session while one of its operations still runs (a heartbeat
 * insert, a query of an evaluation round) can leave the engine blocked, and
 * the process then hangs in its exit even after keyshift stopped. Every
 * operation is tracked; close() waits for those in flight (at most
 * EMBEDDED_CLOSE_WAIT_MS) before closing the session.
 */
function closeAfterInFlight(client: ClickHouseClient): () => Promise<void> {
  const inFlight = new Set<Promise<unknown>>()
  for (const method of ['query', 'insert', 'command', 'exec'] as const) {
    const original = (client[method] as (...args: unknown[]) => Promise<unknown>).bind(client)
    ;(client as unknown as Record<string, unknown>)[method] = (...args: unknown[]) => {
      const p = original(...args)
      const settled = p.then(
        () => undefined,
        () => undefined,
      )
      inFlight.add(settled)
      void settled.then(() => inFlight.delete(settled))
      return p
    }
  }
  return async () => {
    let timer: NodeJS.Timeout | undefined
    const bound = new Promise<void>((r) => {
      timer = setTimeout(r, EMBEDDED_CLOSE_WAIT_MS)
    })
    await Promise.race([Promise.all([...inFlight]), bound])
    clearTimeout(timer)
    await client.close()
  }
}

export function createStoreClient(cfg: Config, opts: { metrics?: Registry } = {}): StoreClient {
  const store = openStoreClient(cfg, opts.metrics)
  if (opts.metrics) countQueryErrors(store.client, opts.metrics)
  return store
}

function openStoreClient(cfg: Config, metrics?: Registry): StoreClient {
  const ch = cfg.clickhouse
  if (ch.url) {
    const conn = serverConnection(ch.url, ch.username, ch.password?.reveal() ?? '')
    const client = createClient({
      ...conn,
      request_timeout: ch.request_timeout_ms,
      clickhouse_settings: COMMON_SETTINGS,
      application: `keyshift/${cfg.instance}`,
      // The client's own logger prints multi-line stacks to the console; its
      // errors reach keyshift as exceptions and are reported there, in one line.
      log: { level: ClickHouseLogLevel.OFF },
    })
    return {
      client,
      mode: 'server',
      database: ch.database,
      target: redactUrl(conn.url),
      close: () => client.close(),
    }
  }
  const path = embeddedPath(cfg.data_dir)
  mkdirPrivate(path)
  const client = createClient({
    // chdb builds against its own copy of @clickhouse/client-common; the shapes match.
    connection: openEmbedded(cfg, path, metrics) as unknown as Parameters<
      typeof createClient
    >[0] extends infer O
      ? O extends { connection?: infer C }
        ? C
        : never
      : never,
    clickhouse_settings: COMMON_SETTINGS,
    log: { level: ClickHouseLogLevel.OFF },
  })
  return { client, mode: 'embedded', database: ch.database, target: path, close: closeAfterInFlight(client) }
}
