// A configurable preset for any other JSON log: canonical field → document path(s),
// with fallbacks, a time format, a latency unit, an exact reason table and
// constants. Validated strictly at startup; reading a record is then a few path
// lookups.
//
//   preset: mapping
//   mapping:
//     fields:
//       event_id: req.id
//       time: ts
//       key_material: ['request.headers["x-api-key"]', 'request.url?api_key']
//       status: res.code
//     time_format: epoch_ms
//     reasons: { KEY_EXPIRED: expired, KEY_UNKNOWN: unknown_key }
//     constants: { gateway: edge-eu-1 }

import { z } from 'zod'
import { FAILURE_REASONS } from '../../domain/auth-event.ts'
import { ConfigError } from '../../domain/errors.ts'
import { type DocPath, parsePath, readPath } from './doc-path.ts'
import type { Extracted, PresetMapper } from './extracted.ts'
import { isAbsent, queryParam, scaled } from './presets/conventions.ts'
import { TIME_FORMATS } from './time.ts'

/**
 * A field path, optionally ending in `?<name>`: the query parameter `<name>` of the
 * URL (or path with a query string) found at the path, e.g. `request.uri?api_key`.
 * Parameters are read after scrubbing, so a key there is already a fingerprint.
 */
interface FieldPath {
  path: DocPath
  query?: string
}

const QUERY_SUFFIX_RE = /^(.*[^?])\?([A-Za-z0-9_.~-]{1,64})$/

function parseFieldPath(p: string): FieldPath {
  const m = QUERY_SUFFIX_RE.exec(p)
  return m === null ? { path: parsePath(p) } : { path: parsePath(m[1]!), query: m[2]! }
}

const pathSchema = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    try {
      parseFieldPath(p)
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: `${(err as Error).message}; write e.g. request.headers["x-api-key"]`,
      })
    }
  })

/** One path, or a list of paths tried in order (the first present value wins). */
const pathsSchema = z.union([pathSchema, z.array(pathSchema).min(1).max(8)])

/** Canonical fields a mapping can fill, in config (snake_case) spelling. */
export const MAPPING_FIELDS = [
  'event_id',
  'time',
  'key_id',
  'key_version',
  'key_material',
  'key_fingerprint',
  'credential_id',
  'client_name',
  'consumer',
  'principal',
  'status',
  'reason',
  'client_id',
  'source_address',
  'user_agent',
  'method',
  'route',
  'gateway',
  'latency_ms',
] as const
export type MappingField = (typeof MAPPING_FIELDS)[number]

export const LATENCY_UNITS = ['s', 'ms', 'us', 'ns'] as const
const MS_PER_LATENCY_UNIT: Record<(typeof LATENCY_UNITS)[number], number> = {
  s: 1000,
  ms: 1,
  us: 1e-3,
  ns: 1e-6,
}

export const fieldMappingSchema = z
  .strictObject({
    fields: z.strictObject({
      event_id: pathsSchema.optional(),
      time: pathsSchema,
      key_id: pathsSchema.optional(),
      key_version: pathsSchema.optional(),
      key_material: pathsSchema.optional(),
      key_fingerprint: pathsSchema.optional(),
      /** The gateway's id of the credential it authenticated (fingerprinted like key material). */
      credential_id: pathsSchema.optional(),
      /** A name the gateway mapped the key to: the key id when none is mapped. */
      client_name: pathsSchema.optional(),
      /** The gateway's consumer: the key id when none is mapped. */
      consumer: pathsSchema.optional(),
      /** Who authenticated (a JWT subject, a basic-auth user): the key id when no key is presented. */
      principal: pathsSchema.optional(),
      status: pathsSchema.optional(),
      reason: pathsSchema.optional(),
      client_id: pathsSchema.optional(),
      source_address: pathsSchema.optional(),
      user_agent: pathsSchema.optional(),
      method: pathsSchema.optional(),
      route: pathsSchema.optional(),
      gateway: pathsSchema.optional(),
      latency_ms: pathsSchema.optional(),
    }),
    /** How `time` is written; `auto` accepts ISO 8601, common log format and epoch numbers of any unit. */
    time_format: z.enum(TIME_FORMATS).default('auto'),
    /** Unit of the value at `latency_ms` (the name is the canonical field; the log may use seconds). */
    latency_unit: z.enum(LATENCY_UNITS).default('ms'),
    /** Exact gateway reason values (case-insensitive) → canonical reasons; others go through the built-in table. */
    reasons: z.record(z.string().min(1), z.enum(FAILURE_REASONS)).default({}),
    /** Values used when the field has no path or its paths yield nothing. */
    constants: z
      .strictObject({
        gateway: z.string().min(1).optional(),
        key_id: z.string().min(1).optional(),
        key_version: z.string().min(1).optional(),
        client_id: z.string().min(1).optional(),
      })
      .default({}),
  })
  .refine(
    (m) =>
      m.fields.key_id !== undefined ||
      m.fields.key_material !== undefined ||
      m.fields.key_fingerprint !== undefined ||
      m.fields.credential_id !== undefined ||
      m.fields.client_name !== undefined ||
      m.fields.consumer !== undefined ||
      m.fields.principal !== undefined ||
      m.constants.key_id !== undefined,
    {
      message:
        'map at least one identity: fields.key_id, key_material, key_fingerprint, credential_id, client_name, consumer or principal (or constants.key_id)',
      path: ['fields'],
    },
  )

export type FieldMapping = z.output<typeof fieldMappingSchema>
export type FieldMappingInput = z.input<typeof fieldMappingSchema>

/** Formats zod issues as `path: message; …` for ConfigError messages. */
export function formatIssues(prefix: string, error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter((s) => s !== '').join('.')
      return `${path}: ${i.message}`
    })
    .join('; ')
}

/** Parses and validates a mapping; throws `ConfigError` naming each bad field. */
export function parseFieldMapping(input: unknown, where = 'mapping'): FieldMapping {
  const r = fieldMappingSchema.safeParse(input)
  if (!r.success) throw new ConfigError(`invalid field mapping: ${formatIssues(where, r.error)}`)
  return r.data
}

function compile(paths: string | readonly string[] | undefined): readonly FieldPath[] {
  if (paths === undefined) return []
  return (typeof paths === 'string' ? [paths] : paths).map(parseFieldPath)
}

function first(doc: unknown, paths: readonly FieldPath[]): unknown {
  for (const p of paths) {
    let v = readPath(doc, p.path)
    if (p.query !== undefined) v = queryParam(v, p.query)
    if (!isAbsent(v)) return v
  }
  return undefined
}

/**
 * The key-material and fingerprint paths of a mapping: the decoder scrubs them as
 * secrets. A query-parameter path (`request.uri?api_key`) is left out: marking the
 * whole URL secret would fingerprint the route; the parameter's value is
 * fingerprinted when the event is built, and key-named or key-shaped parameters
 * are scrubbed from the URL like everywhere else.
 */
export function mappingSecretPaths(mapping: FieldMapping): string[] {
  const out: string[] = []
  for (const f of ['key_material', 'key_fingerprint'] as const) {
    const p = mapping.fields[f]
    if (p === undefined) continue
    for (const one of typeof p === 'string' ? [p] : p) if (!QUERY_SUFFIX_RE.test(one)) out.push(one)
  }
  return out
}

/** Builds a preset from a mapping (validated here too, so raw config objects are accepted). */
export function createMappedPreset(input: FieldMappingInput | FieldMapping): PresetMapper {
  const m = parseFieldMapping(input)
  const f = m.fields
  const p = {
    eventId: compile(f.event_id),
    time: compile(f.time),
    keyId: compile(f.key_id),
    keyVersion: compile(f.key_version),
    keyMaterial: compile(f.key_material),
    keyFingerprint: compile(f.key_fingerprint),
    credentialId: compile(f.credential_id),
    clientName: compile(f.client_name),
    consumer: compile(f.consumer),
    principal: compile(f.principal),
    status: compile(f.status),
    reason: compile(f.reason),
    clientId: compile(f.client_id),
    sourceAddress: compile(f.source_address),
    userAgent: compile(f.user_agent),
    method: compile(f.method),
    route: compile(f.route),
    gateway: compile(f.gateway),
    latencyMs: compile(f.latency_ms),
  }
  const reasons = new Map(Object.entries(m.reasons).map(([k, v]) => [k.toLowerCase(), v]))
  const latencyFactor = MS_PER_LATENCY_UNIT[m.latency_unit]
  const c = m.constants
  return (doc): Extracted => {
    let reason = first(doc, p.reason)
    if ((typeof reason === 'string' || typeof reason === 'number') && reasons.size > 0) {
      reason = reasons.get(String(reason).trim().toLowerCase()) ?? reason
    }
    const latency = first(doc, p.latencyMs)
    return {
      eventId: first(doc, p.eventId),
      time: first(doc, p.time),
      timeFormat: m.time_format,
      keyId: first(doc, p.keyId) ?? c.key_id,
      keyVersion: first(doc, p.keyVersion) ?? c.key_version,
      keyMaterial: first(doc, p.keyMaterial),
      keyFingerprint: first(doc, p.keyFingerprint),
      credentialId: first(doc, p.credentialId),
      clientName: first(doc, p.clientName),
      consumer: first(doc, p.consumer),
      principal: first(doc, p.principal),
      status: first(doc, p.status),
      reason,
      clientId: first(doc, p.clientId) ?? c.client_id,
      sourceAddress: first(doc, p.sourceAddress),
      userAgent: first(doc, p.userAgent),
      method: first(doc, p.method),
      route: first(doc, p.route),
      gateway: first(doc, p.gateway) ?? c.gateway,
      latencyMs: latencyFactor === 1 ? latency : scaled(latency, latencyFactor),
    }
  }
}
