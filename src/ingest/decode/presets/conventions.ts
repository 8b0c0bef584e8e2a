// Small readers shared by the presets, and the conventions keyshift understands for
// carrying a key id or version through a gateway that has no field for them:
// - a header `X-Key-Id` / `X-Key-Version` (any case, `x_key_version` in flat logs);
// - a reference `acme-payments:v2` (Kong consumer custom_id, Tyk key alias): the part
//   after the last `:` is the version when it looks like one (`v2`, `2`, `2024-06`);
// - tags `key_id:acme-payments`, `key_version:v2` (also `key-version=v2`).

/** A value that means "nothing here": undefined, null, '' or the `-` placeholder gateways print. */
export function isAbsent(v: unknown): boolean {
  return v === undefined || v === null || v === '' || v === '-'
}

/** The first argument that is not absent. */
export function firstPresent(...values: unknown[]): unknown {
  for (const v of values) if (!isAbsent(v)) return v
  return undefined
}

/** A property of an object; undefined when `obj` is not a (non-array) object. */
export function prop(obj: unknown, key: string): unknown {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined
  return Object.hasOwn(obj, key) ? (obj as Record<string, unknown>)[key] : undefined
}

/** Nested object access by plain keys; undefined as soon as a step is not an object. */
export function at(doc: unknown, ...keys: string[]): unknown {
  let cur = doc
  for (const k of keys) cur = prop(cur, k)
  return cur
}

/**
 * A header from a header map logged with lower-case names (Kong lower-cases them).
 * Repeated headers logged as arrays yield their first value.
 */
export function header(headers: unknown, name: string): unknown {
  if (headers === null || typeof headers !== 'object' || Array.isArray(headers)) return undefined
  const v = Object.hasOwn(headers, name) ? (headers as Record<string, unknown>)[name] : undefined
  return Array.isArray(v) ? v[0] : v
}

/**
 * Case-insensitive reads of a flat document (Traefik logs `request_X-Api-Key` when
 * the client sent `x-api-key`; hand-written NGINX/Envoy formats vary in case). The
 * lower-case index is built once, on the first miss.
 */
export function caseInsensitive(doc: Record<string, unknown>): (...names: string[]) => unknown {
  let lower: Map<string, string> | undefined
  return (...names: string[]): unknown => {
    for (const n of names) {
      let v = Object.hasOwn(doc, n) ? doc[n] : undefined
      if (v === undefined) {
        if (lower === undefined) {
          lower = new Map()
          for (const k of Object.keys(doc)) lower.set(k.toLowerCase(), k)
        }
        const k = lower.get(n.toLowerCase())
        if (k !== undefined) v = doc[k]
      }
      if (Array.isArray(v)) v = v[0]
      if (!isAbsent(v)) return v
    }
    return undefined
  }
}

const VERSION_RE = /^v?\d[\w.-]{0,31}$/i

export interface KeyRef {
  keyId: string
  version: string | undefined
}

/** Splits `acme-payments:v2` into key id and version; no recognisable version → the whole value is the key id. */
export function parseKeyRef(v: unknown): KeyRef | undefined {
  if (typeof v !== 'string' || isAbsent(v)) return undefined
  const i = v.lastIndexOf(':')
  if (i > 0 && i < v.length - 1) {
    const version = v.slice(i + 1)
    if (VERSION_RE.test(version)) return { keyId: v.slice(0, i), version }
  }
  return { keyId: v, version: undefined }
}

/** The value of a `name:value` / `name=value` tag (name matched case-insensitively, `-` and `_` alike). */
export function tagValue(tags: unknown, name: string): string | undefined {
  if (!Array.isArray(tags)) return undefined
  const want = name.toLowerCase().replace(/-/g, '_')
  for (const t of tags) {
    if (typeof t !== 'string') continue
    const sep = t.search(/[:=]/)
    if (sep <= 0) continue
    if (t.slice(0, sep).toLowerCase().replace(/-/g, '_') === want) {
      const value = t.slice(sep + 1).trim()
      if (value !== '') return value
    }
  }
  return undefined
}

/**
 * Scales a numeric value (number or numeric string) by `factor`, e.g. seconds →
 * milliseconds. Anything else is returned unchanged so `normalise` can report it
 * as a bad type.
 */
export function scaled(v: unknown, factor: number): unknown {
  if (typeof v === 'number') return v * factor
  if (typeof v === 'string' && /^\s*-?\d+(?:\.\d+)?\s*$/.test(v)) return Number(v) * factor
  return v
}

/**
 * Query parameters that carry an API key, as gateways' own docs name them (Kong
 * key-auth `apikey`, Google-style `key`, OAuth 2.0 `access_token`, …). Read after
 * scrubbing, so their values are already fingerprints (or harmless placeholders);
 * `normalise` fingerprints whatever is left.
 */
export const QUERY_KEY_PARAMS = [
  'api_key',
  'apikey',
  'api-key',
  'x-api-key',
  'key',
  'access_token',
  'token',
  'auth_token',
] as const

const QUERY_PARAM_SET: ReadonlySet<string> = new Set(QUERY_KEY_PARAMS)

/**
 * The value of the first key-carrying query parameter (`QUERY_KEY_PARAMS`, matched
 * case-insensitively) in a URL, a path with a query string, or a bare query string
 * (`a=1&api_key=…`). Undefined when there is none or `v` is not a string.
 */
export function queryKey(v: unknown): string | undefined {
  if (typeof v !== 'string') return undefined
  const q = v.indexOf('?')
  const query = q >= 0 ? v.slice(q + 1) : v.includes('=') && !v.startsWith('/') ? v : ''
  if (query === '') return undefined
  let best: string | undefined
  let bestRank: number = QUERY_KEY_PARAMS.length
  for (const pair of query.split(/[&;]/)) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    const name = safeDecode(pair.slice(0, eq)).toLowerCase()
    if (!QUERY_PARAM_SET.has(name)) continue
    const rank = (QUERY_KEY_PARAMS as readonly string[]).indexOf(name)
    const hash = pair.indexOf('#', eq)
    const value = safeDecode(pair.slice(eq + 1, hash >= 0 ? hash : undefined))
    if (rank < bestRank && !isAbsent(value)) {
      best = value
      bestRank = rank
    }
  }
  return best
}

/** One named query parameter (exact name, case-insensitive), for configured mappings. */
export function queryParam(v: unknown, name: string): string | undefined {
  if (typeof v !== 'string') return undefined
  const q = v.indexOf('?')
  const query = q >= 0 ? v.slice(q + 1) : v
  const want = name.toLowerCase()
  for (const pair of query.split(/[&;#]/)) {
    const eq = pair.indexOf('=')
    if (eq <= 0) continue
    if (safeDecode(pair.slice(0, eq)).toLowerCase() !== want) continue
    const value = safeDecode(pair.slice(eq + 1))
    if (!isAbsent(value)) return value
  }
  return undefined
}

function safeDecode(s: string): string {
  // `+` stays as it is: keys are base64-ish, and scrubbing saw the raw text.
  if (!s.includes('%')) return s
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
