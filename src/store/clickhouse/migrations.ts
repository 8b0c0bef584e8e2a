// Numbered, idempotent schema migrations. Each statement uses IF NOT EXISTS so a
// half-applied migration (process killed midway) is simply run again; the
// `schema_migrations` table records what completed. Retention TTLs come from
// config and are re-applied at every start, so changing them needs no migration.
import type { ClickHouseClient } from '@clickhouse/client'
import { qualified, quoteIdent } from './identifiers.ts'

export interface Migration {
  version: number
  name: string
  statements: (db: string) => string[]
}

/** Insert-deduplication window for non-replicated tables: see store/clickhouse/event-store.ts. */
const DEDUP = 'non_replicated_deduplication_window = 10000'
/** Versions a key touch lists; a touch listing this many may have more (readers treat it as any version). */
export const TOUCH_VERSIONS_MAX = 32

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'raw auth events',
    statements: (db) => [
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_events')} (
        time DateTime64(3, 'UTC'),
        event_id String,
        key_id LowCardinality(String),
        key_version LowCardinality(String),
        key_fingerprint String,
        outcome LowCardinality(String),
        reason LowCardinality(String),
        status UInt16,
        client_id String,
        source_address String,
        user_agent String,
        method LowCardinality(String),
        route String,
        gateway LowCardinality(String),
        latency_ms Float32,
        src LowCardinality(String),
        src_partition UInt64,
        src_offset UInt64,
        ingested_at DateTime64(3, 'UTC') DEFAULT now64(3)
      ) ENGINE = MergeTree
      PARTITION BY toDate(time)
      ORDER BY (key_id, key_version, time)
      SETTINGS ${DEDUP}`,
    ],
  },
  {
    version: 2,
    name: 'per-minute rollups',
    statements: (db) => [
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_minute')} (
        minute DateTime('UTC'),
        key_id LowCardinality(String),
        key_version LowCardinality(String),
        gateway LowCardinality(String),
        client_id String,
        outcome LowCardinality(String),
        reason LowCardinality(String),
        requests UInt64,
        latency_ms_sum Float64
      ) ENGINE = SummingMergeTree((requests, latency_ms_sum))
      PARTITION BY toYYYYMM(minute)
      ORDER BY (key_id, minute, key_version, gateway, client_id, outcome, reason)
      SETTINGS ${DEDUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(db, 'auth_minute_mv')}
      TO ${qualified(db, 'auth_minute')} AS
      SELECT
        toStartOfMinute(time) AS minute, key_id, key_version, gateway, client_id, outcome, reason,
        count() AS requests, sum(latency_ms) AS latency_ms_sum
      FROM ${qualified(db, 'auth_events')}
      GROUP BY minute, key_id, key_version, gateway, client_id, outcome, reason`,
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_minute_clients')} (
        minute DateTime('UTC'),
        key_id LowCardinality(String),
        key_version LowCardinality(String),
        client_id String,
        source_address String,
        user_agent String,
        gateway LowCardinality(String),
        requests SimpleAggregateFunction(sum, UInt64),
        failures SimpleAggregateFunction(sum, UInt64),
        first_seen SimpleAggregateFunction(min, DateTime64(3, 'UTC')),
        last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC')),
        routes SimpleAggregateFunction(groupUniqArrayArray(20), Array(String))
      ) ENGINE = AggregatingMergeTree
      PARTITION BY toYYYYMM(minute)
      ORDER BY (key_id, key_version, minute, client_id, source_address, user_agent, gateway)
      SETTINGS ${DEDUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(db, 'auth_minute_clients_mv')}
      TO ${qualified(db, 'auth_minute_clients')} AS
      SELECT
        toStartOfMinute(time) AS minute, key_id, key_version, client_id, source_address, user_agent, gateway,
        count() AS requests, countIf(outcome = 'failure') AS failures,
        min(time) AS first_seen, max(time) AS last_seen,
        groupUniqArray(20)(route) AS routes
      FROM ${qualified(db, 'auth_events')}
      GROUP BY minute, key_id, key_version, client_id, source_address, user_agent, gateway`,
    ],
  },
  {
    version: 3,
    name: 'key registry and ingest bookkeeping',
    statements: (db) => [
      // Lifecycle events are an append-only log; versions are folded from it.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'key_lifecycle')} (
        event_id String,
        time DateTime64(3, 'UTC'),
        key_id String,
        version String,
        action LowCardinality(String),
        fingerprints Array(String),
        expires_at Nullable(DateTime64(3, 'UTC')),
        scopes Array(String),
        owners Array(String),
        actor String,
        note String,
        origin LowCardinality(String),
        recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
      ) ENGINE = ReplacingMergeTree
      ORDER BY (key_id, version, event_id)
      SETTINGS ${DEDUP}`,
      // One row per batch state change; the row with the highest `ver` wins.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'ingest_positions')} (
        source String,
        partition UInt64,
        state LowCardinality(String),
        first_offset UInt64,
        last_offset UInt64,
        next_offset UInt64,
        meta String,
        epoch UInt32,
        ver UInt64,
        updated_at DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree(ver)
      ORDER BY (source, partition)`,
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'dead_letters')} (
        time DateTime64(3, 'UTC'),
        src LowCardinality(String),
        src_partition UInt64,
        src_offset UInt64,
        reason LowCardinality(String),
        detail String,
        size UInt32
      ) ENGINE = MergeTree
      PARTITION BY toDate(time)
      ORDER BY (src, src_partition, src_offset)
      SETTINGS ${DEDUP}`,
    ],
  },
  {
    version: 4,
    name: 'ingest heartbeats and readiness audit',
    statements: (db) => [
      // Each running instance records how caught up it is, so freshness can be
      // judged from the store alone (by `keyshift gate` without a daemon, too).
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'ingest_heartbeats')} (
        time DateTime64(3, 'UTC'),
        instance String,
        newest_event_time DateTime64(3, 'UTC'),
        consumer_lag_messages UInt64,
        buffered_events UInt64,
        sources_ready UInt8
      ) ENGINE = MergeTree
      ORDER BY (time, instance)
      TTL toDateTime(time) + INTERVAL 7 DAY`,
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'readiness_audit')} (
        time DateTime64(3, 'UTC'),
        key_id String,
        version String,
        verdict LowCardinality(String),
        asked_by String,
        via LowCardinality(String),
        evidence String
      ) ENGINE = MergeTree
      PARTITION BY toYYYYMM(time)
      ORDER BY (key_id, version, time)`,
    ],
  },
  {
    version: 5,
    name: 'alerting: alert states, notification logs, silences, outbox, delivery log',
    statements: (db) => [
      // One row per write of an alert's lifecycle; the highest `ver` wins.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'alert_states')} (
        key String,
        channel LowCardinality(String),
        alert_id String,
        type LowCardinality(String),
        severity LowCardinality(String),
        key_id String,
        phase LowCardinality(String),
        resolved_at Nullable(DateTime64(3, 'UTC')),
        doc String,
        ver UInt64,
        updated_at DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree(ver)
      ORDER BY key`,
      // Notification log per (receiver, group): what the receiver was last told.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'alert_groups')} (
        receiver String,
        group_key String,
        channel LowCardinality(String),
        born_at Nullable(DateTime64(3, 'UTC')),
        last_notified_at Nullable(DateTime64(3, 'UTC')),
        firing Array(String),
        seq UInt64,
        ver UInt64,
        updated_at DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree(ver)
      ORDER BY (receiver, group_key)`,
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'alert_silences')} (
        id String,
        matchers String,
        starts_at DateTime64(3, 'UTC'),
        ends_at DateTime64(3, 'UTC'),
        created_by String,
        comment String,
        created_at DateTime64(3, 'UTC'),
        updated_at DateTime64(3, 'UTC'),
        ver UInt64
      ) ENGINE = ReplacingMergeTree(ver)
      ORDER BY id`,
      // The durable outbox: one row per delivery state change of a notification;
      // ver = attempts * 10 (+ 9 once final), so re-inserting a new entry never
      // overrides progress the delivery worker made.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'alert_outbox')} (
        id String,
        receiver String,
        kind LowCardinality(String),
        group_key String,
        notification String,
        created_at DateTime64(3, 'UTC'),
        state LowCardinality(String),
        attempts UInt32,
        next_attempt_at DateTime64(3, 'UTC'),
        last_error String,
        first_failure_at Nullable(DateTime64(3, 'UTC')),
        updated_at DateTime64(3, 'UTC'),
        ver UInt64
      ) ENGINE = ReplacingMergeTree(ver)
      ORDER BY id
      TTL toDateTime(created_at) + INTERVAL 90 DAY`,
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'alert_deliveries')} (
        time DateTime64(3, 'UTC'),
        notification_id String,
        receiver String,
        kind LowCardinality(String),
        attempt UInt32,
        outcome LowCardinality(String),
        error String,
        instance String
      ) ENGINE = MergeTree
      PARTITION BY toYYYYMM(time)
      ORDER BY (notification_id, time)
      TTL toDateTime(time) + INTERVAL 90 DAY`,
    ],
  },
  {
    version: 6,
    name: 'ingest positions name the flush a pending batch was written in',
    statements: (db) => [
      // The embedded store writes a source's partitions of one flush as one
      // insert; a pending batch is rebuilt together with the rest of its flush.
      `ALTER TABLE ${qualified(db, 'ingest_positions')} ADD COLUMN IF NOT EXISTS flush String DEFAULT ''`,
    ],
  },
  {
    version: 11,
    name: 'auth events record what identified their key',
    statements: (db) => [
      // key_material, credential, key_id, client_name, consumer, principal, client, none
      // (domain/auth-event.ts IDENTITY_SOURCES). Rows written before this migration
      // read ''. The rollups do not group by it: it describes how an event was
      // attributed, not who made it, and their views select named columns only.
      `ALTER TABLE ${qualified(db, 'auth_events')} ADD COLUMN IF NOT EXISTS identity_source LowCardinality(String) DEFAULT ''`,
    ],
  },
  {
    version: 12,
    name: 'usage bands: each watched series per bucket, observed against the band the detector expected',
    statements: (db) => [
      // Written by the usage-anomaly watch (one row per series and bucket; a re-read
      // after a restart or a leader change rewrites the same rows, so replacing).
      // version '' is the key's total. Read by Grafana's expected-band panel.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'usage_bands')} (
        bucket DateTime('UTC'),
        key_id String,
        version String,
        metric LowCardinality(String),
        observed Float64,
        expected Float64,
        lower Float64,
        upper Float64,
        score Float32
      ) ENGINE = ReplacingMergeTree
      PARTITION BY toYYYYMM(bucket)
      ORDER BY (key_id, metric, version, bucket)
      TTL bucket + INTERVAL 90 DAY`,
    ],
  },
  {
    version: 13,
    name: 'incidents: incident events and known-user snapshots',
    statements: (db) => [
      // An append-only log of incident steps; incidents are folded from it.
      // Idempotent by event id (ReplacingMergeTree key + LIMIT 1 BY on read).
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'incident_events')} (
        event_id String,
        incident_id String,
        time DateTime64(3, 'UTC'),
        action LowCardinality(String),
        key_id String,
        version String,
        reason LowCardinality(String),
        actor String,
        note String,
        detail String,
        origin LowCardinality(String),
        recorded_at DateTime64(3, 'UTC') DEFAULT now64(3)
      ) ENGINE = ReplacingMergeTree
      ORDER BY (incident_id, event_id)
      SETTINGS ${DEDUP}`,
      // The known users of the leaked version before the incident. Readers use
      // the snapshot named by the incident's first snapshot event, so every
      // instance agrees even if two took one.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'incident_known_users')} (
        incident_id String,
        snapshot_id String,
        client_id String,
        source_address String,
        user_agent String,
        gateway String,
        requests UInt64,
        first_seen DateTime64(3, 'UTC'),
        last_seen DateTime64(3, 'UTC')
      ) ENGINE = ReplacingMergeTree
      ORDER BY (incident_id, snapshot_id, client_id, source_address, user_agent, gateway)
      SETTINGS ${DEDUP}`,
    ],
  },
  {
    version: 8,
    name: 'ingest claims fence a partition to the member that was assigned it last',
    statements: (db) => [
      // One row per assignment of a partition; the highest (ver, claim) is its
      // owner. A member writes a batch's events only while its claim is the
      // latest (store/clickhouse/event-store.ts), so an old owner's write that
      // lands after a rebalance stores nothing twice. Rows are never replaced
      // (every reader must rank the same rows); claims older than 90 days are
      // dropped, long after any write of their assignment could still land.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'ingest_claims')} (
        source String,
        partition UInt64,
        claim String,
        ver UInt64,
        claimed_at DateTime64(3, 'UTC') DEFAULT now64(3)
      ) ENGINE = MergeTree
      ORDER BY (source, partition, ver, claim)
      TTL toDateTime(claimed_at) + INTERVAL 90 DAY`,
    ],
  },
  {
    version: 7,
    name: 'places: newest event per gateway and source, and which places carried each key',
    statements: (db) => [
      // Freshness per place (analysis/freshness.ts): the newest event time per
      // (gateway, source, source partition) and minute, without the key, so
      // "when was each place last heard" reads minutes × places rows; and the
      // same per key, so "which places carried this key" reads one key's rows.
      // Only max() columns: a re-run backfill below cannot inflate anything.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_places_minute')} (
        minute DateTime('UTC'),
        gateway LowCardinality(String),
        src LowCardinality(String),
        src_partition UInt64,
        last_time SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
      ) ENGINE = AggregatingMergeTree
      PARTITION BY toYYYYMM(minute)
      ORDER BY (minute, gateway, src, src_partition)
      SETTINGS ${DEDUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(db, 'auth_places_minute_mv')}
      TO ${qualified(db, 'auth_places_minute')} AS
      SELECT toStartOfMinute(time) AS minute, gateway, src, src_partition, max(time) AS last_time
      FROM ${qualified(db, 'auth_events')}
      GROUP BY minute, gateway, src, src_partition`,
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_key_places_minute')} (
        minute DateTime('UTC'),
        key_id LowCardinality(String),
        gateway LowCardinality(String),
        src LowCardinality(String),
        src_partition UInt64,
        last_time SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
      ) ENGINE = AggregatingMergeTree
      PARTITION BY toYYYYMM(minute)
      ORDER BY (key_id, minute, gateway, src, src_partition)
      SETTINGS ${DEDUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(db, 'auth_key_places_minute_mv')}
      TO ${qualified(db, 'auth_key_places_minute')} AS
      SELECT toStartOfMinute(time) AS minute, key_id, gateway, src, src_partition, max(time) AS last_time
      FROM ${qualified(db, 'auth_events')}
      GROUP BY minute, key_id, gateway, src, src_partition`,
      // Events stored before this migration: places are read over the readiness
      // lookback, so without them every key would lack its places until new traffic.
      `INSERT INTO ${qualified(db, 'auth_places_minute')}
      SELECT toStartOfMinute(time) AS minute, gateway, src, src_partition, max(time) AS last_time
      FROM ${qualified(db, 'auth_events')}
      GROUP BY minute, gateway, src, src_partition`,
      `INSERT INTO ${qualified(db, 'auth_key_places_minute')}
      SELECT toStartOfMinute(time) AS minute, key_id, gateway, src, src_partition, max(time) AS last_time
      FROM ${qualified(db, 'auth_events')}
      GROUP BY minute, key_id, gateway, src, src_partition`,
    ],
  },
  {
    version: 17,
    name: 'key history: the earliest stored event of each key',
    statements: (db) => [
      // possible_leak judges "new" clients against the history actually stored
      // for the key (analysis/leak-history.ts): one row per key, min() only, so
      // re-running the backfill changes nothing. No TTL: a key's row is tiny,
      // and readers clamp it to the history they read.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_key_history')} (
        key_id String,
        first_time SimpleAggregateFunction(min, DateTime64(3, 'UTC'))
      ) ENGINE = AggregatingMergeTree
      ORDER BY key_id
      SETTINGS ${DEDUP}`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(db, 'auth_key_history_mv')}
      TO ${qualified(db, 'auth_key_history')} AS
      SELECT key_id, min(time) AS first_time
      FROM ${qualified(db, 'auth_events')}
      GROUP BY key_id`,
      // Rollups outlive raw events: the client rollup holds each group's exact first time.
      `INSERT INTO ${qualified(db, 'auth_key_history')}
      SELECT key_id, min(first_seen) AS first_time
      FROM ${qualified(db, 'auth_minute_clients')}
      GROUP BY key_id`,
    ],
  },
  {
    version: 21,
    name: 'hourly key totals: the key list over 24 h at 10 000 keys',
    statements: (db) => [
      // The key list (GET /api/v1/keys, the status page, findings' key set) sums
      // each key's last 24 h. auth_minute holds a row per client and minute (43M
      // a day at 10 000 keys of 3 clients); this holds one per key, version and
      // hour (about 240 000), fed from auth_minute's inserted blocks, which are
      // already grouped. Readers take whole hours here and the partial hours at
      // the window's edges from auth_minute, so totals stay exact to the minute.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_key_hour')} (
        hour DateTime('UTC'),
        key_id LowCardinality(String),
        key_version LowCardinality(String),
        requests SimpleAggregateFunction(sum, UInt64),
        failures SimpleAggregateFunction(sum, UInt64),
        last_minute SimpleAggregateFunction(max, DateTime('UTC'))
      ) ENGINE = AggregatingMergeTree
      PARTITION BY toYYYYMM(hour)
      ORDER BY (key_id, hour, key_version)
      SETTINGS ${DEDUP}`,
      // Existing rollups first, then the view: a batch another instance stores in
      // between is missing from these totals (never counted twice); migrations run
      // at start, before this instance ingests. Only into an empty table, so a
      // migration re-run after a crash never counts the backfill twice.
      `INSERT INTO ${qualified(db, 'auth_key_hour')}
      SELECT toStartOfHour(m.minute) AS hour, key_id, key_version, sum(m.requests) AS requests,
        sumIf(m.requests, m.outcome = 'failure') AS failures, max(m.minute) AS last_minute
      FROM ${qualified(db, 'auth_minute')} AS m
      WHERE (SELECT count() FROM ${qualified(db, 'auth_key_hour')}) = 0
      GROUP BY hour, key_id, key_version`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(db, 'auth_key_hour_mv')}
      TO ${qualified(db, 'auth_key_hour')} AS
      SELECT toStartOfHour(m.minute) AS hour, key_id, key_version, sum(m.requests) AS requests,
        sumIf(m.requests, m.outcome = 'failure') AS failures, max(m.minute) AS last_minute
      FROM ${qualified(db, 'auth_minute')} AS m
      GROUP BY hour, key_id, key_version`,
    ],
  },
  {
    version: 18,
    name: 'key touches: which keys each stored insert touched',
    statements: (db) => [
      // The evaluation leader re-reads only keys that changed (evaluation/
      // incremental-findings.ts). Written by every instance's inserts through
      // this view, so followers' batches are seen too; late events touch their
      // key like any other. One row per key per insert block, kept a day.
      // `id` tells apart two blocks of one key in the same millisecond.
      `CREATE TABLE IF NOT EXISTS ${qualified(db, 'auth_key_touches')} (
        touched_at DateTime64(3, 'UTC'),
        key_id String,
        failures UInt64,
        versions Array(String),
        id UUID DEFAULT generateUUIDv4()
      ) ENGINE = MergeTree
      ORDER BY (touched_at, key_id)
      TTL toDateTime(touched_at) + INTERVAL 1 DAY`,
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${qualified(db, 'auth_key_touches_mv')}
      TO ${qualified(db, 'auth_key_touches')} AS
      SELECT max(ingested_at) AS touched_at, key_id, countIf(outcome != 'success') AS failures,
        groupUniqArray(${TOUCH_VERSIONS_MAX})(key_version) AS versions
      FROM ${qualified(db, 'auth_events')}
      GROUP BY key_id`,
    ],
  },
]

/** Tables whose TTL follows config, and the expression their TTL applies to. */
const TTL_TABLES: readonly { table: string; column: string; kind: 'raw' | 'rollup' }[] = [
  { table: 'auth_events', column: 'toDateTime(time)', kind: 'raw' },
  { table: 'dead_letters', column: 'toDateTime(time)', kind: 'raw' },
  { table: 'auth_minute', column: 'minute', kind: 'rollup' },
  { table: 'auth_minute_clients', column: 'minute', kind: 'rollup' },
  { table: 'auth_places_minute', column: 'minute', kind: 'rollup' },
  { table: 'auth_key_places_minute', column: 'minute', kind: 'rollup' },
  { table: 'auth_key_hour', column: 'hour', kind: 'rollup' },
]

export interface MigrateResult {
  applied: { version: number; name: string }[]
  current: number
}

export async function migrate(
  client: ClickHouseClient,
  db: string,
  retention: { rawDays: number; rollupDays: number },
): Promise<MigrateResult> {
  await client.command({ query: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(db)}` })
  await client.command({
    query: `CREATE TABLE IF NOT EXISTS ${qualified(db, 'schema_migrations')} (
      version UInt32, name String, applied_at DateTime64(3, 'UTC') DEFAULT now64(3)
    ) ENGINE = ReplacingMergeTree ORDER BY version`,
  })
  const rs = await client.query({
    query: `SELECT version FROM ${qualified(db, 'schema_migrations')}`,
    format: 'JSONEachRow',
  })
  const done = new Set((await rs.json<{ version: number }>()).map((r) => Number(r.version)))
  const applied: MigrateResult['applied'] = []
  for (const m of MIGRATIONS) {
    if (done.has(m.version)) continue
    for (const statement of m.statements(db)) await client.command({ query: statement })
    await client.insert({
      table: qualified(db, 'schema_migrations'),
      values: [{ version: m.version, name: m.name }],
      format: 'JSONEachRow',
    })
    applied.push({ version: m.version, name: m.name })
  }
  // Re-apply a TTL only when the configured retention changed: an ALTER at
  // every start (and every one-shot CLI command) is a metadata change for nothing.
  const engines = await client.query({
    query: `SELECT name, engine_full FROM system.tables WHERE database = {db:String}`,
    query_params: { db },
    format: 'JSONEachRow',
  })
  const engineOf = new Map(
    (await engines.json<{ name: string; engine_full: string }>()).map((r) => [r.name, r.engine_full]),
  )
  for (const t of TTL_TABLES) {
    const days = t.kind === 'raw' ? retention.rawDays : retention.rollupDays
    if (engineOf.get(t.table)?.includes(`TTL ${t.column} + toIntervalDay(${Math.trunc(days)})`)) continue
    await client.command({
      query: `ALTER TABLE ${qualified(db, t.table)} MODIFY TTL ${t.column} + INTERVAL ${Math.trunc(days)} DAY`,
      clickhouse_settings: { materialize_ttl_after_modify: 0 },
    })
  }
  return { applied, current: Math.max(0, ...MIGRATIONS.map((m) => m.version)) }
}
