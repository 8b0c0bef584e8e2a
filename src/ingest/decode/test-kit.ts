// Shared fixtures for the decoder tests: one pepper, a tiny key registry, a fixed
// clock. Not used by production code.

import type { AuthEvent } from '../../domain/auth-event.ts'
import { DecodeError } from '../../domain/errors.ts'
import { createFingerprinter } from '../secrets/fingerprint.ts'
import { createDecoder, type Decoder, type DecoderOptions } from './decoder.ts'
import type { NormaliseContext, ResolvedKey } from './normalise.ts'

export const fp = createFingerprinter('pepper-for-tests-0123456789')

/** Two versions of acme-payments' key, and a key nobody registered. */
export const KEY_V1 = 'sk_live_51HacmeV1aBcDeFgHiJkLmNoPq'
export const KEY_V2 = 'sk_live_51HacmeV2zYxWvUtSrQpOnMlKj'
export const KEY_UNKNOWN = 'sk_live_51HstrangerQwErTyUiOpAsDf'
export const FP_V1 = fp(KEY_V1)
export const FP_V2 = fp(KEY_V2)
export const FP_UNKNOWN = fp(KEY_UNKNOWN)

const registry = new Map<string, ResolvedKey>([
  [FP_V1, { keyId: 'acme-payments', version: 'v1' }],
  [FP_V2, { keyId: 'acme-payments', version: 'v2' }],
])
export const resolveFingerprint = (f: string): ResolvedKey | undefined => registry.get(f)

/** 2024-09-19T22:15:00Z; fixture events happen around 22:10:39Z. */
export const NOW = Date.UTC(2024, 8, 19, 22, 15, 0)
export const T0 = Date.UTC(2024, 8, 19, 22, 10, 39)
export const FALLBACK_ID = 'kafka:auth-events:3:1042'

export const normaliseCtx: NormaliseContext = {
  now: NOW,
  fingerprint: fp,
  resolveFingerprint,
  defaultGateway: 'edge-default',
  fallbackEventId: FALLBACK_ID,
}

export function testDecoder(opts: Partial<DecoderOptions> & Pick<DecoderOptions, 'preset'>): Decoder {
  return createDecoder({ fingerprint: fp, resolveFingerprint, defaultGateway: 'edge-default', ...opts })
}

export function decodeRecord(decoder: Decoder, record: unknown): AuthEvent {
  const bytes = Buffer.isBuffer(record) ? record : Buffer.from(JSON.stringify(record), 'utf8')
  return decoder.decode(bytes, { now: NOW, fallbackEventId: FALLBACK_ID })
}

/** Runs `fn` and returns the DecodeError it throws (fails the test otherwise). */
export function decodeErrorOf(fn: () => unknown): DecodeError {
  try {
    fn()
  } catch (err) {
    if (err instanceof DecodeError) return err
    throw err
  }
  throw new Error('expected a DecodeError, nothing was thrown')
}

/** A complete event with neutral values, to spread and override in expectations. */
export function event(overrides: Partial<AuthEvent>): AuthEvent {
  return {
    eventId: FALLBACK_ID,
    time: T0,
    keyId: 'unknown',
    keyVersion: 'unknown',
    keyFingerprint: '',
    outcome: 'success',
    reason: 'none',
    status: 0,
    clientId: '',
    sourceAddress: '',
    userAgent: '',
    method: '',
    route: '',
    gateway: 'edge-default',
    latencyMs: 0,
    identitySource: 'none',
    ...overrides,
  }
}
