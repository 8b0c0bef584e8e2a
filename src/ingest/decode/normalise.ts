// Extracted gateway values → one canonical AuthEvent. All type checks, limits,
// time parsing, key resolution and outcome/reason inference live here, so every
// preset (built-in or configured) behaves the same way.

import {
  type AuthEvent,
  type FailureReason,
  type IdentitySource,
  type Outcome,
  UNKNOWN_KEY,
  UNKNOWN_VERSION,
} from '../../domain/auth-event.ts'
import { DecodeError } from '../../domain/errors.ts'
import { wellFormed } from '../../shared/well-formed.ts'
import { type Fingerprinter, isFingerprint } from '../secrets/fingerprint.ts'
import { isCredentialPlaceholder } from '../secrets/scrub.ts'
import type { Extracted } from './extracted.ts'
import { isAbsent } from './presets/conventions.ts'
import { AUTH_FAILURE_REASONS, normaliseReason } from './reason.ts'
import { describeType, parseEventTime } from './time.ts'

/** Stable reason codes of `DecodeError`s raised while decoding; dead letters carry them. */
export const DECODE_REASONS = [
  'invalid_utf8',
  'invalid_json',
  'not_an_object',
  'too_large',
  'missing_time',
  'bad_time',
  'time_out_of_range',
  'bad_status',
  'bad_type',
] as const
export type DecodeReason = (typeof DECODE_REASONS)[number]

/**
 * Reasons a record is counted and skipped rather than stored or dead-lettered
 * (`keyshift_events_skipped_total`). Not errors: nothing is wrong with the record.
 */
export const SKIP_REASONS = ['not_auth_traffic'] as const
export type SkipReason = (typeof SKIP_REASONS)[number]

export const SKIP_REASON_DOCS: Readonly<Record<SkipReason, string>> = {
  not_auth_traffic:
    'A request that carries no identity at all (no key, credential, consumer, principal or client) ' +
    'and was not rejected for authentication: a routing 404, a health check, a keyless API.',
}

/**
 * Thrown for records that are skipped, not dead-lettered. A `DecodeError` so callers
 * that only know decode errors still never store the record; the pipeline counts it.
 */
export class SkippedRecord extends DecodeError {
  declare readonly reason: SkipReason
  constructor(reason: SkipReason, message: string) {
    super(reason, message)
  }
}

/** What each code means and what to do about it (shown by the CLI and in docs). */
export const DECODE_REASON_DOCS: Readonly<Record<DecodeReason, string>> = {
  invalid_utf8:
    'The record is not valid UTF-8, and not JSON once its invalid bytes are replaced with U+FFFD. Check the shipper encoding.',
  invalid_json:
    'The record is not one JSON document. Check the gateway log format (JSON, one object per line).',
  not_an_object: 'The record is JSON but not an object (an array, a string, …). Batched logs must be split.',
  too_large:
    'The record exceeds max_record_bytes, or an identifying field exceeds its limit (FIELD_LIMITS), e.g. a 300-char key id.',
  missing_time: 'No event time was found. Check the preset or the mapping `time` path.',
  bad_time: 'The event time does not parse (ISO 8601, common log format or epoch number expected).',
  time_out_of_range: 'The event time is before 2000-01-01 or further in the future than max_future_skew_ms.',
  bad_status: 'The HTTP status is not an integer between 100 and 599 (0 and absent mean unknown).',
  bad_type: 'A field has the wrong type, e.g. an object where a string is expected.',
}

/**
 * Per-field limits in characters. Identifying fields over their limit make the
 * record `too_large` (a 300-character key id is not a key id, and grouping by it
 * would be wrong); descriptive fields in `TRUNCATED_FIELD_LIMITS` are truncated
 * instead, so a client with an absurd user agent still shows up as a straggler.
 */
export const FIELD_LIMITS = {
  eventId: 256,
  keyId: 256,
  credentialId: 256,
  keyVersion: 64,
  keyMaterial: 8192,
  keyFingerprint: 8192,
  clientId: 256,
  sourceAddress: 256,
  method: 32,
  gateway: 256,
} as const

export const TRUNCATED_FIELD_LIMITS = { userAgent: 1024, route: 2048, reason: 1024 } as const

export const DEFAULT_MAX_RECORD_BYTES = 64 * 1024
export const DEFAULT_MAX_FUTURE_SKEW_MS = 5 * 60_000
/** Events before this instant are `time_out_of_range`: no API key log predates it. */
export const MIN_EVENT_TIME_MS = Date.UTC(2000, 0, 1)

export interface ResolvedKey {
  keyId: string
  version: string
}

/** Looks a fingerprint up in the key registry. */
export type FingerprintResolver = (fingerprint: string) => ResolvedKey | undefined

export interface NormaliseContext {
  /** Epoch ms used for the future-skew check. */
  now: number
  fingerprint: Fingerprinter
  resolveFingerprint: FingerprintResolver
  /** Gateway name used when the record does not name one. */
  defaultGateway: string
  /** Event id used when the record has no request id (derived from the source position). */
  fallbackEventId: string
  /** Used by the decoder's size check; default `DEFAULT_MAX_RECORD_BYTES`. */
  maxRecordBytes?: number
  /** Default `DEFAULT_MAX_FUTURE_SKEW_MS`. */
  maxFutureSkewMs?: number
}

function tooLarge(field: string, length: number, limit: number): DecodeError {
  return new DecodeError('too_large', `${field} is ${length} characters, over its limit of ${limit}`)
}

function truncate(s: string, limit: number): string {
  if (s.length <= limit) return s
  let end = limit
  const c = s.charCodeAt(end - 1)
  if (c >= 0xd800 && c <= 0xdbff) end-- // do not split a surrogate pair
  return s.slice(0, end)
}

/** A string field: strings are trimmed, finite numbers stringified, `''`/`-` mean absent. */
function readText(v: unknown, field: string): string | undefined {
  if (isAbsent(v)) return undefined
  let s: string
  // Lone surrogates ("\ud800" in the JSON) become U+FFFD here, so they never reach the store.
  if (typeof v === 'string') s = wellFormed(v.trim())
  else if (typeof v === 'number' && Number.isFinite(v)) s = String(v)
  else throw new DecodeError('bad_type', `${field} must be a string, got ${describeType(v)}`)
  return s === '' || s === '-' ? undefined : s
}

function limited(v: unknown, field: keyof typeof FIELD_LIMITS): string | undefined {
  const s = readText(v, field)
  if (s !== undefined && s.length > FIELD_LIMITS[field]) throw tooLarge(field, s.length, FIELD_LIMITS[field])
  return s
}

function readStatus(v: unknown): number {
  if (isAbsent(v)) return 0
  let n: number
  if (typeof v === 'number') n = v
  else if (typeof v === 'string') {
    const s = v.trim()
    if (!/^\d{1,3}$/.test(s)) throw new DecodeError('bad_status', 'status is not an integer HTTP status code')
    n = Number(s)
  } else
    throw new DecodeError('bad_type', `status must be a number or a numeric string, got ${describeType(v)}`)
  if (n === 0) return 0 // Envoy logs 0 when no response was sent: unknown
  if (!Number.isInteger(n) || n < 100 || n > 599) {
    throw new DecodeError('bad_status', 'status is not an integer between 100 and 599')
  }
  return n
}

function readLatency(v: unknown): number {
  if (isAbsent(v)) return 0
  let n: number
  if (typeof v === 'number') n = v
  else if (typeof v === 'string' && /^\s*-?\d+(?:\.\d+)?\s*$/.test(v)) n = Number(v)
  else throw new DecodeError('bad_type', `latencyMs must be a number, got ${describeType(v)}`)
  if (!Number.isFinite(n) || n < 0) return 0 // Kong logs -1 for "not proxied"
  return Math.round(n * 1000) / 1000
}

const IPV4_PORT_RE = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/
const BRACKETED_V6_RE = /^\[([^\]]+)\](?::\d{1,5})?$/

/** First hop of an X-Forwarded-For style list, without a port. */
export function normaliseAddress(s: string): string {
  const comma = s.indexOf(',')
  const first = (comma >= 0 ? s.slice(0, comma) : s).trim()
  return IPV4_PORT_RE.exec(first)?.[1] ?? BRACKETED_V6_RE.exec(first)?.[1] ?? first
}

const URL_PREFIX_RE = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i

/** Path only: scheme and authority of a full URL, query string and fragment are dropped. */
export function normaliseRoute(s: string): string {
  let r = s.includes('://') ? s.replace(URL_PREFIX_RE, '') : s
  const cut = r.search(/[?#]/)
  if (cut >= 0) r = r.slice(0, cut)
  if (r === '' && s !== '') r = '/'
  return truncate(r, TRUNCATED_FIELD_LIMITS.route)
}

/** A credential candidate: its fingerprint and where it came from. */
interface Presented {
  fingerprint: string
  source: 'fingerprint' | 'key_material' | 'credential'
}

function presentedValue(
  v: unknown,
  field: 'keyFingerprint' | 'keyMaterial' | 'credentialId',
  fingerprint: Fingerprinter,
): string | undefined {
  const s = readText(v, field)
  if (s === undefined || isCredentialPlaceholder(s)) return undefined
  const limit = FIELD_LIMITS[field]
  if (s.length > limit) throw tooLarge(field, s.length, limit)
  // A foreign hash (Tyk's hashed key) or a credential id is fingerprinted like material.
  return isFingerprint(s) ? s : fingerprint(s)
}

/**
 * The credentials a record presents, in order: the gateway's own fingerprint or hash,
 * the key material, the gateway's credential id. Usually one; Kong without
 * `hide_credentials` logs both the key and the credential id.
 */
function readPresented(x: Extracted, fingerprint: Fingerprinter): Presented[] {
  const out: Presented[] = []
  const given = presentedValue(x.keyFingerprint, 'keyFingerprint', fingerprint)
  if (given !== undefined) out.push({ fingerprint: given, source: 'fingerprint' })
  const material = presentedValue(x.keyMaterial, 'keyMaterial', fingerprint)
  if (material !== undefined) out.push({ fingerprint: material, source: 'key_material' })
  const credential = presentedValue(x.credentialId, 'credentialId', fingerprint)
  if (credential !== undefined) out.push({ fingerprint: credential, source: 'credential' })
  return out
}

/**
 * The failure reason when the gateway gave none we recognise:
 * - nothing presented and no key identified → `missing_credential`;
 * - a credential that neither the gateway nor the registry can identify →
 *   `unknown_key` (AWS and Tyk answer an unknown key with 403, most others with 401);
 * - an identified key rejected with 403 → `insufficient_scope` (the key is known, the
 *   request was not allowed);
 * - an identified key rejected with 401 → `other` (possibly a deactivated version;
 *   the lifecycle, not the decoder, can tell).
 */
function inferFailureReason(status: number, presented: boolean, identified: boolean): FailureReason {
  if (!identified) return presented ? 'unknown_key' : 'missing_credential'
  return status === 403 ? 'insufficient_scope' : 'other'
}

/**
 * Builds the canonical event. Throws `DecodeError` with a reason in
 * `DECODE_REASONS`; messages never contain field values.
 *
 * Outcome and reason:
 * - `failure` when the status is 401 or 403, or the gateway's reason is an auth
 *   failure (expired, revoked, unknown_key, invalid_signature, insufficient_scope,
 *   missing_credential) whatever the status. The gateway's reason wins when it is
 *   one of those; otherwise the reason is inferred (`inferFailureReason`).
 * - 429 (or a rate-limit reason): `success` with reason `rate_limited`. Gateways
 *   rate-limit after authenticating, so the key worked; counting throttling as an
 *   auth failure would make a busy client look like a broken rotation.
 * - anything else: `success`, reason `none` (outcome is about authentication, so a
 *   502 from the upstream is still a successful authentication).
 *
 * Key and version: an explicit version from the record wins (key id from the record,
 * else from the registry, else a named identity, else `unknown`); otherwise a
 * presented credential (gateway fingerprint, key material, credential id: the first
 * the registry resolves) gives both; otherwise version `unknown` and the record's
 * key id, else its client name, consumer or principal, else `unknown`.
 * `identitySource` records which of these named the key. Raw key material is never
 * kept, only its fingerprint.
 *
 * Never keep failures while dropping successes: any identity (down to a bare client
 * id) is stored whatever the outcome. Only a record with no identity at all differs
 * by outcome: a rejection is kept (`missing_credential`, key `unknown`, attributed
 * to nobody), anything else is skipped as `not_auth_traffic` (`SkippedRecord`).
 */
export function normalise(x: Extracted, ctx: NormaliseContext): AuthEvent {
  const eventId = limited(x.eventId, 'eventId') ?? ctx.fallbackEventId

  if (isAbsent(x.time)) throw new DecodeError('missing_time', 'the record has no event time')
  const time = parseEventTime(x.time, x.timeFormat ?? 'auto')
  if (time < MIN_EVENT_TIME_MS) throw new DecodeError('time_out_of_range', 'event time is before 2000-01-01')
  const maxSkew = ctx.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS
  if (time > ctx.now + maxSkew) {
    throw new DecodeError(
      'time_out_of_range',
      `event time is ${time - ctx.now} ms ahead of now, more than max_future_skew_ms (${maxSkew})`,
    )
  }

  const status = readStatus(x.status)
  const reasonText = readText(x.reason, 'reason')
  const clientId = limited(x.clientId, 'clientId') ?? ''
  const address = readText(x.sourceAddress, 'sourceAddress')
  const sourceAddress = address === undefined ? '' : normaliseAddress(address)
  if (sourceAddress.length > FIELD_LIMITS.sourceAddress) {
    throw tooLarge('sourceAddress', sourceAddress.length, FIELD_LIMITS.sourceAddress)
  }
  const userAgent = truncate(readText(x.userAgent, 'userAgent') ?? '', TRUNCATED_FIELD_LIMITS.userAgent)
  const method = (limited(x.method, 'method') ?? '').toUpperCase()
  const route = normaliseRoute(readText(x.route, 'route') ?? '')
  const gateway = limited(x.gateway, 'gateway') ?? ctx.defaultGateway
  const latencyMs = readLatency(x.latencyMs)

  const explicitKeyId = limited(x.keyId, 'keyId')
  const explicitVersion = limited(x.keyVersion, 'keyVersion')
  const presented = readPresented(x, ctx.fingerprint)
  // The first credential the registry knows wins; else the first one presented.
  let resolved: ResolvedKey | undefined
  let used: Presented | undefined = presented[0]
  for (const p of presented) {
    resolved = ctx.resolveFingerprint(p.fingerprint)
    if (resolved !== undefined) {
      used = p
      break
    }
  }
  const keyFingerprint = used?.fingerprint ?? ''

  // A name for the key when no key id is logged: who the gateway says made the request.
  let named: string | undefined = explicitKeyId
  let namedSource: IdentitySource = 'key_id'
  if (named === undefined) {
    for (const field of NAMED_IDENTITIES) {
      // A principal (who authenticated) is not bound to a presented key: it names
      // the key only when no credential was presented.
      if (field === 'principal' && presented.length > 0) break
      named = limited(x[field], 'keyId')
      if (named !== undefined) {
        namedSource = NAMED_SOURCE[field]
        break
      }
    }
  }

  let keyId: string
  let keyVersion: string
  let identitySource: IdentitySource
  if (explicitVersion !== undefined) {
    keyVersion = explicitVersion
    keyId = explicitKeyId ?? resolved?.keyId ?? named ?? UNKNOWN_KEY
    identitySource =
      explicitKeyId !== undefined
        ? 'key_id'
        : resolved !== undefined
          ? used!.source
          : named !== undefined
            ? namedSource
            : (used?.source ?? (clientId !== '' ? 'client' : 'none'))
  } else if (resolved !== undefined) {
    keyId = resolved.keyId
    keyVersion = resolved.version
    identitySource = used!.source
  } else {
    keyId = named ?? UNKNOWN_KEY
    keyVersion = UNKNOWN_VERSION
    identitySource =
      named !== undefined ? namedSource : (used?.source ?? (clientId !== '' ? 'client' : 'none'))
  }

  const gatewayReason =
    reasonText === undefined
      ? undefined
      : normaliseReason(truncate(reasonText, TRUNCATED_FIELD_LIMITS.reason))
  // The gateway knew whose credential it was: a registry hit, a key id or name, or
  // the gateway's own credential id (it authenticated the credential).
  const identified = resolved !== undefined || named !== undefined || used?.source === 'credential'
  let outcome: Outcome
  let reason: FailureReason
  if (
    status === 401 ||
    status === 403 ||
    (gatewayReason !== undefined && AUTH_FAILURE_REASONS.has(gatewayReason))
  ) {
    outcome = 'failure'
    reason =
      gatewayReason !== undefined && AUTH_FAILURE_REASONS.has(gatewayReason)
        ? gatewayReason
        : inferFailureReason(status, keyFingerprint !== '', identified)
  } else if (status === 429 || gatewayReason === 'rate_limited') {
    outcome = 'success'
    reason = 'rate_limited'
  } else {
    outcome = 'success'
    reason = 'none'
  }

  // Whatever identity a record carries, successes and failures are kept alike. A
  // request with no identity at all is auth traffic only when it was rejected for
  // authentication (then `missing_credential`); otherwise it is a health check, a
  // routing 404 or a keyless API, and is skipped.
  if (identitySource === 'none' && outcome === 'success') {
    throw new SkippedRecord(
      'not_auth_traffic',
      'the request carries no key, credential, consumer, principal or client and was not rejected',
    )
  }

  return {
    eventId,
    time,
    keyId,
    keyVersion,
    keyFingerprint,
    outcome,
    reason,
    status,
    clientId,
    sourceAddress,
    userAgent,
    method,
    route,
    gateway,
    latencyMs,
    identitySource,
  }
}

/** Named identities in the order they name a key when the record logs no key id. */
const NAMED_IDENTITIES = ['clientName', 'consumer', 'principal'] as const
const NAMED_SOURCE = { clientName: 'client_name', consumer: 'consumer', principal: 'principal' } as const
