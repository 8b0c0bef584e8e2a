// The one configuration schema. Every field has a default and says its unit;
// unknown keys are rejected. Sections owned by a module (decoders, receivers,
// analysis settings) import that module's own schema.
import { z } from 'zod'
import { alertingConfigSchema } from '../alerting/config.ts'
import { findingSettingsSchema } from '../analysis/findings.ts'
import { freshnessConfigSchema } from '../analysis/freshness.ts'
import { incidentSettingsSchema } from '../analysis/incident.ts'
import { readinessConfigSchema } from '../analysis/readiness.ts'
import { spikeSettingsSchema } from '../analysis/spikes.ts'
import { trendSettingsSchema } from '../analysis/trend.ts'
import { usageAnomalySettingsSchema } from '../analysis/usage-anomaly.ts'
import {
  checkPresetMapping,
  MAX_FUTURE_SKEW_LIMIT_MS,
  MAX_RECORD_BYTES_LIMIT,
  PRESET_NAMES,
  secretFieldPathSchema,
} from '../ingest/decode/decoder.ts'
import { fieldMappingSchema } from '../ingest/decode/mapping.ts'
import { Secret } from './secret.ts'

export const secret = z
  .string()
  .min(1, 'must not be empty')
  .transform((v) => new Secret(v))
const duration = (dflt: number) => z.number().int().nonnegative().default(dflt)

/** A source's decoder: the decoder module's fields and checks, with their defaults. */
export const decoderSchema = z
  .object({
    preset: z.enum([...PRESET_NAMES, 'mapping']),
    /** Field mapping for `preset: mapping` (see docs/gateway-logs.md, preset examples). */
    mapping: fieldMappingSchema.optional(),
    /** Extra document paths whose values are credentials, always fingerprinted. */
    secret_fields: z.array(secretFieldPathSchema).default([]),
    max_record_bytes: z.number().int().min(1024).max(MAX_RECORD_BYTES_LIMIT).default(65_536),
    max_future_skew_ms: z.number().int().min(0).max(MAX_FUTURE_SKEW_LIMIT_MS).default(300_000),
    /** Gateway name for records that do not carry one (default: the preset name). */
    default_gateway: z.string().min(1).max(256).optional(),
  })
  .strict()
  .superRefine(checkPresetMapping)

export const kafkaSchema = z
  .object({
    brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port')).default([]),
    client_id: z.string().default('keyshift'),
    group_id: z.string().default('keyshift'),
    ssl: z.boolean().default(false),
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: secret,
      })
      .strict()
      .optional(),
    lifecycle_topic: z.string().min(1).default('keyshift.key-lifecycle'),
    dead_letter_topic: z.string().min(1).default('keyshift.dead-letter'),
    partitions_consumed_concurrently: z.number().int().min(1).max(256).default(16),
    session_timeout_ms: duration(30_000),
    connection_timeout_ms: duration(3_000),
  })
  .strict()

const kafkaSource = z
  .object({ type: z.literal('kafka'), topic: z.string().min(1), decoder: decoderSchema })
  .strict()
const fileSource = z
  .object({
    type: z.literal('file'),
    path: z.string().min(1),
    decoder: decoderSchema,
    start_at: z.enum(['beginning', 'end']).default('beginning'),
    poll_interval_ms: z.number().int().positive().default(250),
  })
  .strict()
const stdinSource = z.object({ type: z.literal('stdin'), decoder: decoderSchema }).strict()
export const sourceSchema = z.discriminatedUnion('type', [kafkaSource, fileSource, stdinSource])

export const configSchema = z
  .object({
    instance: z.string().min(1).default('keyshift'),
    data_dir: z.string().min(1).default('.data'),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        enabled: z.boolean().default(true),
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(8080),
        public_url: z.string().url().optional(),
        read_tokens: z.array(secret).default([]),
        admin_tokens: z.array(secret).default([]),
        /** Largest request body accepted (after authentication); larger ones get 413. */
        max_body_bytes: z
          .number()
          .int()
          .min(1_024)
          .max(16 * 1_048_576)
          .default(65_536),
      })
      .strict()
      .prefault({}),
    clickhouse: z
      .object({
        url: z.string().url().optional(),
        database: z
          .string()
          .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be a plain identifier')
          .default('keyshift'),
        username: z.string().default('default'),
        password: secret.optional(),
        request_timeout_ms: duration(30_000),
        retention_days: z.number().int().min(1).max(3650).default(30),
        rollup_retention_days: z.number().int().min(1).max(3650).default(400),
      })
      .strict()
      .prefault({}),
    kafka: kafkaSchema.prefault({}),
    sources: z.array(sourceSchema).default([]),
    ingest: z
      .object({
        batch_max_events: z.number().int().min(1).max(1_000_000).default(10_000),
        // Part of every alert's latency at low rates (a failure waits for its flush);
        // busy sources fill batches by size first. ClickHouse's own async inserts
        // wait at most 200 ms by default; 1 s here put alerts near 2 s on its own.
        batch_max_wait_ms: duration(500),
        max_buffered_events: z.number().int().min(1).max(10_000_000).default(100_000),
        retry_base_ms: duration(200),
        retry_max_ms: duration(10_000),
        dead_letter_file: z.string().min(1).optional(),
        heartbeat_interval_ms: z.number().int().min(100).default(5_000),
      })
      .strict()
      .superRefine((c, ctx) => {
        if (c.max_buffered_events < c.batch_max_events) {
          ctx.addIssue({
            code: 'custom',
            path: ['max_buffered_events'],
            message: `is ${c.max_buffered_events}, below batch_max_events (${c.batch_max_events}); raise it to at least ${c.batch_max_events} or lower batch_max_events`,
          })
        }
      })
      .prefault({}),
    secrets: z
      .object({
        pepper: secret.optional(),
        fields: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    registry: z
      .object({ files: z.array(z.string().min(1)).default([]) })
      .strict()
      .prefault({}),
    analysis: z
      .object({
        /** How often the evaluation loop re-reads the store and re-evaluates findings. */
        evaluation_interval_ms: z.number().int().min(100).default(2_000),
        /** How far back client history reaches (possible-leak detection, moved clients). */
        history_ms: z
          .number()
          .int()
          .positive()
          .default(7 * 86_400_000),
        findings: findingSettingsSchema.prefault({}),
        spikes: spikeSettingsSchema.prefault({}),
        trend: trendSettingsSchema.prefault({}),
        readiness: readinessConfigSchema.prefault({}),
        /** When a gateway or source counts as silent (see docs/freshness.md). */
        freshness: freshnessConfigSchema.prefault({}),
        /** A key's volume and failure ratio against its daily and weekly pattern (usage_anomaly). */
        usage_anomaly: usageAnomalySettingsSchema.prefault({}),
      })
      .strict()
      .prefault({}),
    alerting: alertingConfigSchema.prefault({}),
    /** Emergency rotations of leaked key versions (docs/incidents.md). */
    incidents: incidentSettingsSchema.prefault({}),
  })
  .strict()

export type ConfigInput = z.input<typeof configSchema>
export type Config = z.output<typeof configSchema>
export type DecoderConfig = z.output<typeof decoderSchema>
export type SourceConfig = z.output<typeof sourceSchema>
