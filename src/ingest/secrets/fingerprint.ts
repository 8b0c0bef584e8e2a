// Keyed fingerprints of key material. Everything keyshift stores, logs or alerts on
// carries `fp_…` instead of a secret. The fingerprint is an HMAC under a pepper, so
// a leaked fingerprint cannot be brute-forced offline without the pepper, and the
// same key always yields the same fingerprint however the client presented it.

import { createHmac } from 'node:crypto'
import { ConfigError } from '../../domain/errors.ts'

/** Maps key material (or a wrapped credential such as `Bearer …`) to `fp_` + 32 hex chars. */
export type Fingerprinter = (material: string) => string

export const MIN_PEPPER_LENGTH = 16
const FINGERPRINT_RE = /^fp_[0-9a-f]{32}$/

/** True for values that already are keyshift fingerprints (`fp_` + 32 lowercase hex). */
export function isFingerprint(value: string): boolean {
  return value.length === 35 && value.charCodeAt(0) === 102 && FINGERPRINT_RE.test(value)
}

const WHITESPACE_RE = /\s/
const SCHEME_RE = /^([A-Za-z][A-Za-z0-9_-]*)\s+(\S[\s\S]*)$/
const TOKEN_SCHEMES = new Set(['bearer', 'apikey', 'api-key', 'api_key', 'token', 'key', 'ssws', 'jwt'])
const RAILS_TOKEN_RE = /^token\s*=\s*"?([^",\s]+)"?/i
const BASE64_RE = /^[A-Za-z0-9+/_-]+={0,2}$/
const AWS_SIGV4_CREDENTIAL_RE = /Credential=([A-Z0-9]{16,128})\//

/**
 * Strips the transport wrapper from a presented credential so the same key
 * fingerprints the same whether it arrived as a header, a query parameter or a
 * body field:
 * - `Bearer t`, `ApiKey t`, `Api-Key t`, `Token t` (also Rails' `Token token="t"`),
 *   `Key t`, `SSWS t`, `JWT t` → `t`
 * - `Basic base64(user:pass)` → `user:pass`; when one side is empty (Stripe-style
 *   `key:` or `:key`) → the non-empty side, i.e. the key itself
 * - `AWS4-HMAC-SHA256 Credential=AKID/…` → the access key id `AKID` (the rest of the
 *   header changes on every request)
 * - anything else → the trimmed value.
 */
export function unwrapCredential(value: string): string {
  const v = value.trim()
  if (!WHITESPACE_RE.test(v)) return v // no scheme: the common, bare-key case
  const m = SCHEME_RE.exec(v)
  if (m === null) return v
  const scheme = m[1]!.toLowerCase()
  const rest = m[2]!.trim()
  if (TOKEN_SCHEMES.has(scheme)) {
    if (scheme === 'token') {
      const rails = RAILS_TOKEN_RE.exec(rest)
      if (rails !== null) return rails[1]!
    }
    return rest
  }
  if (scheme === 'basic') return decodeBasic(rest) ?? rest
  if (scheme === 'aws4-hmac-sha256') return AWS_SIGV4_CREDENTIAL_RE.exec(rest)?.[1] ?? v
  return v
}

function decodeBasic(token: string): string | undefined {
  if (!BASE64_RE.test(token)) return undefined
  const decoded = Buffer.from(token, 'base64').toString('utf8')
  const colon = decoded.indexOf(':')
  if (colon < 0 || decoded.includes('\uFFFD')) return undefined
  const user = decoded.slice(0, colon)
  const pass = decoded.slice(colon + 1)
  if (pass === '' && user !== '') return user
  if (user === '' && pass !== '') return pass
  return decoded
}

export interface FingerprinterOptions {
  /**
   * How many recent material → fingerprint results to keep in memory (default 4096,
   * 0 disables). Traffic reuses a few keys constantly and an HMAC costs ~2 µs, so
   * the cache roughly halves decode time; it lives only in process memory, where the
   * same keys already pass through in every record buffer.
   */
  cacheSize?: number
}

/**
 * Creates the fingerprinter. `pepper` is the HMAC key (≥ 16 chars; keep it in a
 * secret store). Values that already are fingerprints pass through unchanged, so
 * scrubbing is idempotent (dead-letter payloads may be scrubbed twice).
 */
export function createFingerprinter(pepper: string, opts: FingerprinterOptions = {}): Fingerprinter {
  if (typeof pepper !== 'string' || pepper.length < MIN_PEPPER_LENGTH) {
    const got = typeof pepper === 'string' ? `${pepper.length} characters` : typeof pepper
    throw new ConfigError(
      `fingerprint pepper must be a string of at least ${MIN_PEPPER_LENGTH} characters (got ${got}); ` +
        'generate one with `openssl rand -hex 32` and keep it stable: changing it changes every fingerprint',
    )
  }
  const cacheSize = opts.cacheSize ?? 4096
  if (!Number.isInteger(cacheSize) || cacheSize < 0) {
    throw new ConfigError(`fingerprint cacheSize must be a non-negative integer (got ${cacheSize})`)
  }
  const key = Buffer.from(pepper, 'utf8')
  const compute = (material: string): string => {
    let credential = unwrapCredential(material)
    if (credential === '') credential = material
    return 'fp_' + createHmac('sha256', key).update(credential, 'utf8').digest('hex').slice(0, 32)
  }
  if (cacheSize === 0) return (material) => (isFingerprint(material) ? material : compute(material))
  const cache = new Map<string, string>()
  return (material: string): string => {
    const hit = cache.get(material)
    if (hit !== undefined) return hit
    if (isFingerprint(material)) return material
    const out = compute(material)
    if (cache.size >= cacheSize) cache.clear() // crude but O(1); a flood of unknown keys just churns
    if (material.length <= 1024) cache.set(material, out)
    return out
  }
}
