// The record decoder: raw bytes from a source → one canonical AuthEvent, or a
// DecodeError whose `reason` the caller dead-letters with. Stages, in order:
//   size check → strict UTF-8 → JSON.parse → object check → scrubDocument
//   → preset (or configured mapping) → normalise
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

export interface Decoder {
  /** Decodes one record; throws `DecodeError` (reason in `DECODE_REASONS`) for records to dead-letter. */
  decode(bytes: Buffer, ctx: DecodeContext): AuthEvent
}

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

  return {
    decode(bytes: Buffer, ctx: DecodeContext): AuthEvent {
      if (bytes.length > maxRecordBytes) {
        throw new DecodeError(
          'too_large',
          `record is ${bytes.length} bytes, over max_record_bytes (${maxRecordBytes})`,
        )
      }
      // isUtf8 is a fast native check. A record with invalid UTF-8 (a Latin-1
      // byte in a user agent, say) keeps its fields: each invalid sequence
      // becomes U+FFFD, so no malformed text reaches the store. Only when the
      // result is not JSON either is the record dead-lettered, as invalid_utf8.
      const valid = isUtf8(bytes)
      const text = valid ? utf8.decode(bytes) : lossyUtf8.decode(bytes)
      let doc: unknown
      try {
        doc = JSON.parse(text)
      } catch {
        if (!valid) throw new DecodeError('invalid_utf8', 'record is not valid UTF-8, nor JSON once decoded')
        // The parser's message quotes the input; keep it out of the error.
        throw new DecodeError('invalid_json', 'record is not valid JSON')
      }
      if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
        throw new DecodeError(
          'not_an_object',
          `record is JSON ${Array.isArray(doc) ? 'array' : typeof doc}, not an object`,
        )
      }
      const scrubbed = scrub(doc).value as Record<string, unknown>
      nctx.now = ctx.now
      nctx.fallbackEventId = ctx.fallbackEventId
      return normalise(preset(scrubbed), nctx)
    },
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
