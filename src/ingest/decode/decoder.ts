// The record decoder: raw bytes from a source → canonical AuthEvents, records to
// skip (`not_auth_traffic`), or a DecodeError whose `reason` the caller
// dead-letters with. Stages, in order:
//   size check → strict UTF-8 → JSON.parse → object check (an array is a batch:
//   each element goes on alone) → scrubDocument → preset (or configured mapping)
//   → normalise
// Scrubbing runs on the whole document before any preset looks at it, so no raw
// credential survives even in fields the preset ignores.

import { isUtf8 } from 'node:buffer'
import { z } from 'zod'
import type { AuthEvent } from '../../domain/auth-event.ts'
import { ConfigError, DecodeError } from '../../domain/errors.ts'
import type { Fingerprinter } from '../secrets/fingerprint.ts'
import { createDocumentScrubber } from '../secrets/scrub.ts'
import { parsePath } from './doc-path.ts'
import type { PresetMapper } from './extracted.ts'
import {
  createMappedPreset,
  type FieldMapping,
  type FieldMappingInput,
  fieldMappingSchema,
  formatIssues,
  mappingSecretPaths,
  parseFieldMapping,
} from './mapping.ts'
import {
  DEFAULT_MAX_FUTURE_SKEW_MS,
  DEFAULT_MAX_RECORD_BYTES,
  type FingerprintResolver,
  type NormaliseContext,
  normalise,
  SkippedRecord,
} from './normalise.ts'
import { awsApiGatewayPreset } from './presets/aws-apigateway.ts'
import { canonicalPreset } from './presets/canonical.ts'
import { envoyPreset } from './presets/envoy.ts'
import { kongPreset } from './presets/kong.ts'
import { nginxPreset } from './presets/nginx.ts'
import { traefikPreset } from './presets/traefik.ts'
import { tykPreset } from './presets/tyk.ts'

export const PRESET_NAMES = [
  'kong',
  'envoy',
  'nginx',
  'aws-apigateway',
  'tyk',
  'traefik',
  'canonical',
] as const
export type PresetName = (typeof PRESET_NAMES)[number]

export const PRESETS: Readonly<Record<PresetName, PresetMapper>> = {
  kong: kongPreset,
  envoy: envoyPreset,
  nginx: nginxPreset,
  'aws-apigateway': awsApiGatewayPreset,
  tyk: tykPreset,
  traefik: traefikPreset,
  canonical: canonicalPreset,
}

export const MAX_RECORD_BYTES_LIMIT = 16 * 1024 * 1024
export const MAX_FUTURE_SKEW_LIMIT_MS = 7 * 24 * 3_600_000

/** A document path whose value is a credential; a path that does not parse is an error naming it. */
export const secretFieldPathSchema = z
  .string()
  .min(1)
  .superRefine((p, ctx) => {
    try {
      parsePath(p)
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message })
    }
  })

/** `mapping` goes with preset "mapping", and only with it. */
export function checkPresetMapping(c: { preset: string; mapping?: unknown }, ctx: z.RefinementCtx): void {
  if (c.preset === 'mapping' && c.mapping === undefined) {
    ctx.addIssue({ code: 'custom', path: ['mapping'], message: 'preset "mapping" needs a mapping section' })
  }
  if (c.preset !== 'mapping' && c.mapping !== undefined) {
    ctx.addIssue({
      code: 'custom',
      path: ['mapping'],
      message: `a mapping is only used with preset "mapping" (preset is "${c.preset}"); remove one of them`,
    })
  }
}

/** The decoder section of the config file. */
export const decoderConfigSchema = z
  .strictObject({
    preset: z.enum([...PRESET_NAMES, 'mapping']),
    mapping: fieldMappingSchema.optional(),
    /** Extra document paths whose values are credentials (scrubbed like `authorization`). */
    secret_fields: z.array(secretFieldPathSchema).optional(),
    /** Records larger than this (bytes) are dead-lettered as `too_large`. Default 65536. */
    max_record_bytes: z.number().int().min(1024).max(MAX_RECORD_BYTES_LIMIT).optional(),
    /** Events further in the future than this (ms) are `time_out_of_range`. Default 300000. */
    max_future_skew_ms: z.number().int().min(0).max(MAX_FUTURE_SKEW_LIMIT_MS).optional(),
  })
  .superRefine(checkPresetMapping)
export type DecoderConfig = z.output<typeof decoderConfigSchema>

export interface DecoderOptions {
  preset: PresetName | 'mapping'
  mapping?: FieldMappingInput | FieldMapping
  /** Extra credential paths (`request.headers.apikey`), added to the mapping's key paths. */
  secretPaths?: readonly string[]
  fingerprint: Fingerprinter
  resolveFingerprint: FingerprintResolver
  defaultGateway: string
  maxRecordBytes?: number
  maxFutureSkewMs?: number
}

export interface DecodeContext {
  /** Epoch ms, for the future-skew check. */
  now: number
  /** Event id when the record has none, derived from the source position (`kafka:auth-events/3/1234`). */
  fallbackEventId: string
}

/** What one record became: a record that is a batch (a JSON array) may become several events. */
export interface DecodedRecord {
  events: AuthEvent[]
  /** Requests skipped as `not_auth_traffic` (counted, neither stored nor dead-lettered). */
  skipped: number
  /**
   * Why the record (or some elements of a batch) is dead-lettered; undefined when
   * nothing was rejected. A batch's good elements are stored all the same.
   */
  rejected?: DecodeError
}

export interface Decoder {
  /**
   * Decodes a record holding one request; throws `DecodeError` (reason in
   * `DECODE_REASONS`) for records to dead-letter, `SkippedRecord` for records to
   * skip, and `DecodeError('not_an_object')` for a batch (use `decodeAll`).
   */
  decode(bytes: Buffer, ctx: DecodeContext): AuthEvent
  /** Decodes a record of one request or a batch of them; never throws a `DecodeError`. */
  decodeAll(bytes: Buffer, ctx: DecodeContext): DecodedRecord
}

/** Largest batch record (a JSON array) accepted; each element must fit `max_record_bytes`. */
export const MAX_BATCH_RECORD_BYTES = MAX_RECORD_BYTES_LIMIT

const utf8 = new TextDecoder('utf-8', { fatal: true })
/** Decodes invalid UTF-8 sequences as U+FFFD (the WHATWG replacement rule). */
const lossyUtf8 = new TextDecoder('utf-8')

/** Builds a decoder; throws `ConfigError` for an unknown preset, a bad mapping or a bad secret path. */
export function createDecoder(opts: DecoderOptions): Decoder {
  let preset: PresetMapper
  const secretPaths = [...(opts.secretPaths ?? [])]
  if (opts.preset === 'mapping') {
    if (opts.mapping === undefined)
      throw new ConfigError('decoder.mapping: preset "mapping" needs a mapping section')
    const mapping = parseFieldMapping(opts.mapping, 'decoder.mapping')
    preset = createMappedPreset(mapping)
    secretPaths.push(...mappingSecretPaths(mapping))
  } else {
    const p = Object.hasOwn(PRESETS, opts.preset) ? PRESETS[opts.preset] : undefined
    if (p === undefined) {
      throw new ConfigError(
        `decoder.preset: unknown preset "${String(opts.preset)}"; use one of ${[...PRESET_NAMES, 'mapping'].join(', ')}`,
      )
    }
    preset = p
  }
  let scrub: ReturnType<typeof createDocumentScrubber>
  try {
    scrub = createDocumentScrubber({ fingerprint: opts.fingerprint, extraSecretPaths: secretPaths })
  } catch (err) {
    throw new ConfigError(`decoder.secret_fields: ${(err as Error).message}`, { cause: err })
  }
  const maxRecordBytes = opts.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES
  // One context object, refreshed per record: decode is synchronous, and this saves
  // an allocation on a path that runs ~100k times a second.
  const nctx: NormaliseContext = {
    now: 0,
    fallbackEventId: '',
    fingerprint: opts.fingerprint,
    resolveFingerprint: opts.resolveFingerprint,
    defaultGateway: opts.defaultGateway,
    maxRecordBytes,
    maxFutureSkewMs: opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS,
  }

  const parse = (bytes: Buffer): unknown => {
    // isUtf8 is a fast native check. A record with invalid UTF-8 (a Latin-1
    // byte in a user agent, say) keeps its fields: each invalid sequence
    // becomes U+FFFD, so no malformed text reaches the store. Only when the
    // result is not JSON either is the record dead-lettered, as invalid_utf8.
    const valid = isUtf8(bytes)
    const text = valid ? utf8.decode(bytes) : lossyUtf8.decode(bytes)
    try {
      return JSON.parse(text)
    } catch {
      if (!valid) throw new DecodeError('invalid_utf8', 'record is not valid UTF-8, nor JSON once decoded')
      // The parser's message quotes the input; keep it out of the error.
      throw new DecodeError('invalid_json', 'record is not valid JSON')
    }
  }
  const one = (doc: unknown, ctx: DecodeContext, fallbackEventId: string): AuthEvent => {
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
      throw new DecodeError(
        'not_an_object',
        `record is JSON ${Array.isArray(doc) ? 'array' : typeof doc}, not an object`,
      )
    }
    const scrubbed = scrub(doc).value as Record<string, unknown>
    nctx.now = ctx.now
    nctx.fallbackEventId = fallbackEventId
    return normalise(preset(scrubbed), nctx)
  }
  const tooLarge = (bytes: Buffer, limit: number) =>
    new DecodeError('too_large', `record is ${bytes.length} bytes, over max_record_bytes (${limit})`)
  const isBatch = (bytes: Buffer): boolean => {
    for (let i = 0; i < bytes.length && i < 64; i++) {
      const c = bytes[i]!
      if (c === 0x5b) return true // [
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09 && c !== 0xef && c !== 0xbb && c !== 0xbf)
        return false
    }
    return false
  }

  return {
    decode(bytes: Buffer, ctx: DecodeContext): AuthEvent {
      if (bytes.length > maxRecordBytes) throw tooLarge(bytes, maxRecordBytes)
      return one(parse(bytes), ctx, ctx.fallbackEventId)
    },
    decodeAll(bytes: Buffer, ctx: DecodeContext): DecodedRecord {
      try {
        if (bytes.length > maxRecordBytes && !(bytes.length <= MAX_BATCH_RECORD_BYTES && isBatch(bytes))) {
          throw tooLarge(bytes, maxRecordBytes)
        }
        const doc = parse(bytes)
        if (!Array.isArray(doc)) return { events: [one(doc, ctx, ctx.fallbackEventId)], skipped: 0 }
        return batch(doc, bytes.length, ctx)
      } catch (err) {
        if (err instanceof SkippedRecord) return { events: [], skipped: 1 }
        if (err instanceof DecodeError) return { events: [], skipped: 0, rejected: err }
        throw err
      }
    },
  }

  /**
   * A batch (Kong http-log with `queue.max_batch_size` > 1, Tyk's http pump): each
   * element is decoded alone, with `#<index>` after the fallback event id. Good
   * elements are kept; the record is dead-lettered for the first bad one, naming how
   * many were rejected.
   */
  function batch(docs: unknown[], size: number, ctx: DecodeContext): DecodedRecord {
    if (docs.length === 0) throw new DecodeError('not_an_object', 'record is an empty JSON array')
    const out: DecodedRecord = { events: [], skipped: 0 }
    let rejected = 0
    let first: { index: number; err: DecodeError } | undefined
    for (let i = 0; i < docs.length; i++) {
      try {
        const el = docs[i]
        // Elements are held to max_record_bytes like single records (measured only
        // when the whole batch is larger, which is when one element could be).
        if (size > maxRecordBytes && el !== null && typeof el === 'object') {
          const n = Buffer.byteLength(JSON.stringify(el))
          if (n > maxRecordBytes) {
            throw new DecodeError(
              'too_large',
              `batch element is ${n} bytes, over max_record_bytes (${maxRecordBytes})`,
            )
          }
        }
        out.events.push(one(el, ctx, `${ctx.fallbackEventId}#${i}`))
      } catch (err) {
        if (err instanceof SkippedRecord) out.skipped++
        else if (err instanceof DecodeError) {
          rejected++
          first ??= { index: i, err }
        } else throw err
      }
    }
    if (first !== undefined) {
      out.rejected = new DecodeError(
        first.err.reason,
        `${rejected} of ${docs.length} batch elements rejected; element ${first.index}: ${first.err.message}`,
      )
    }
    return out
  }
}

/** Builds a decoder from the validated config section plus its runtime dependencies. */
export function createDecoderFromConfig(
  config: unknown,
  deps: { fingerprint: Fingerprinter; resolveFingerprint: FingerprintResolver; defaultGateway: string },
): Decoder {
  const r = decoderConfigSchema.safeParse(config)
  if (!r.success) throw new ConfigError(`invalid decoder config: ${formatIssues('decoder', r.error)}`)
  const c = r.data
  return createDecoder({
    preset: c.preset,
    mapping: c.mapping,
    secretPaths: c.secret_fields,
    maxRecordBytes: c.max_record_bytes,
    maxFutureSkewMs: c.max_future_skew_ms,
    ...deps,
  })
}
