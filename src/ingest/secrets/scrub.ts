// Secret scrubbing: replaces anything that looks like key material by its keyed
// fingerprint before a document, a log line or a dead-letter payload goes anywhere.
// Three entry points: `scrubDocument` (parsed JSON, structural), `scrubText` (free
// text) and `scrubBytes` (raw records, possibly not UTF-8). Errs towards scrubbing:
// a wrongly fingerprinted harmless value costs a little detail, a leaked key costs a
// rotation.

import { isUtf8 } from 'node:buffer'
import { parsePath } from '../decode/doc-path.ts'
import { type Fingerprinter, isFingerprint } from './fingerprint.ts'

/**
 * Field names whose values are always treated as credentials, whatever they look
 * like. Matching is case-insensitive on the last word of the name, where words are
 * separated by `_`, `-`, `.` or a camelCase hump (`clientSecret`, `x-api-key`,
 * `request_Authorization`, `http_x_api_key` all match; `apiKeyId`, `key_id`,
 * `token_type` do not).
 */
export const CREDENTIAL_FIELD_NAMES = [
  'api_key / apikey / api-key / x-api-key',
  'authorization / authorisation / auth',
  'token (access_token, refresh_token, id_token, x-auth-token, …)',
  'secret (client_secret, api_secret, …) / secret_key',
  'password / passwd / pwd / passphrase',
  'credential / credentials',
  'key_material',
  'signature',
  'cookie / set-cookie',
  'private_key / access_key',
  'session_id / session_key / session_token',
  'bearer / jwt',
] as const

const CREDENTIAL_FIELD_RE =
  /(^|[_\-.])(api[_-]?key|apikey|x[_-]api[_-]?key|authori[sz]ation|auth|token|access[_-]?token|secret|secret[_-]?key|password|passwd|pwd|passphrase|credentials?|client[_-]?secret|key[_-]?material|signature|cookie|set[_-]?cookie|private[_-]?key|access[_-]?key|session[_-]?(?:id|key|token)|bearer|jwt)$/i

/**
 * Values that stand for "no credential" and are kept as they are (they reveal
 * nothing). A scheme word alone (`Authorization: Bearer`, empty token) is one too.
 */
const PLACEHOLDERS = new Set([
  '',
  '-',
  'REDACTED',
  'redacted',
  '[REDACTED]',
  '<redacted>',
  '*',
  '***',
  'null',
  'undefined',
  'Bearer',
  'bearer',
  'Basic',
  'basic',
  // Tyk's analytics placeholder for "no key" (keyless APIs, errors before the key was read).
  '00000000',
])

/** True for values that stand for "no credential" (`-`, `REDACTED`, …) rather than a credential. */
export function isCredentialPlaceholder(value: string): boolean {
  return PLACEHOLDERS.has(value)
}

const nameCache = new Map<string, boolean>()
const NAME_CACHE_MAX = 4096

/** True when a field name marks its value as a credential (see `CREDENTIAL_FIELD_NAMES`). */
export function isCredentialFieldName(name: string): boolean {
  const cached = nameCache.get(name)
  if (cached !== undefined) return cached
  const result = CREDENTIAL_FIELD_RE.test(name.replace(/([a-z0-9])([A-Z])/g, '$1_$2'))
  if (nameCache.size < NAME_CACHE_MAX && name.length <= 64) nameCache.set(name, result)
  return result
}

// Known key formats: a recognisable head, then the rest of the token. The head
// lengths are minimums so ordinary words that happen to start the same way survive.
const KNOWN_KEY_HEADS = [
  '(?:sk|pk|rk|ks)_(?:live|test)_[A-Za-z0-9]{8}', // Stripe-style, keyshift's own ks_
  'whsec_[A-Za-z0-9]{16}', // Stripe webhook signing secrets
  'gh[pousr]_[A-Za-z0-9]{20}', // GitHub tokens
  'github_pat_[A-Za-z0-9_]{20}',
  'xox[abeprs]-[A-Za-z0-9-]{8}', // Slack
  'xapp-\\d-[A-Za-z0-9-]{8}', // Slack app-level tokens
  '(?:AKIA|ASIA)[A-Z0-9]{16}', // AWS access key ids
  'AIza[A-Za-z0-9_-]{30}', // Google API keys
  'ya29\\.[A-Za-z0-9_-]{16}', // Google OAuth access tokens
  'glpat-[A-Za-z0-9_-]{16}', // GitLab
  'sk-(?:proj|ant)-[A-Za-z0-9_-]{16}', // OpenAI / Anthropic project keys
  'hf_[A-Za-z0-9]{30}', // Hugging Face
  'npm_[A-Za-z0-9]{30}', // npm
  'SG\\.[A-Za-z0-9_-]{16}\\.[A-Za-z0-9_-]{16}', // SendGrid
  'shp(?:at|ss|ca|pa)_[a-fA-F0-9]{24}', // Shopify
  'eyJ[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.', // JWT (header.payload.signature)
].join('|')
const KEY_TAIL = '[A-Za-z0-9_\\-+/=.]*'
const KNOWN_KEY_WHOLE_RE = new RegExp(`^(?:${KNOWN_KEY_HEADS})${KEY_TAIL}$`)
// Cheap first look: where the first known head could start (no lookbehind, no tail).
const KNOWN_KEY_HINT_RE =
  /(?:sk|pk|rk|ks)_(?:live|test)_|whsec_|gh[pousr]_|github_pat_|xox[abeprs]-|xapp-|AKIA|ASIA|AIza|ya29\.|glpat-|sk-(?:proj|ant)-|hf_|npm_|SG\.|shp(?:at|ss|ca|pa)_|eyJ/
const KNOWN_KEY_SCAN_RE = new RegExp(`(?<![A-Za-z0-9])(?:${KNOWN_KEY_HEADS})${KEY_TAIL}`, 'g')

// Characters a bare key token is made of.
const KEY_CHARS = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.%')
  KEY_CHARS[c.charCodeAt(0)] = 1
const PERCENT_ESCAPE_RE = /%[0-9A-Fa-f]{2}/

const MIN_GENERIC_KEY_LENGTH = 20
const MIN_ENTROPY_BITS = 3.5
const MIN_HEX_ENTROPY_BITS = 3
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const XRAY_TRACE_RE = /^\d-[0-9a-f]{8}-[0-9a-f]{24}$/
const TRACEPARENT_RE = /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/
// keyshift's own notification ids (alerting/pipeline/record.ts): a content hash that
// log lines carry to name a delivery. No vendor key uses the `ntf_` head.
const NOTIFICATION_ID_RE = /^ntf_[0-9a-f]{32}$/
// `cus_NffrFeUfNV2Hib`, `pi_3MtwBwLkdIwHu7ix28a3tqPa`, `sil_<uuid>`: a lowercase type
// word, then a short id. Vendor keys of this shape have bodies of 30+ characters
// (or a known head); prefixes that say "secret" never count as ids.
const PREFIXED_ID_RE =
  /^([a-z]{2,12})_(?:[A-Za-z0-9]{8,24}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/
const SECRET_PREFIXES = new Set([
  'sk',
  'rk',
  'pk',
  'key',
  'keys',
  'secret',
  'token',
  'tok',
  'pat',
  'api',
  'apikey',
  'access',
  'private',
  'priv',
  'auth',
  'sess',
  'session',
  'pwd',
  'pass',
  'password',
  'cred',
  'bearer',
  'jwt',
  'sig',
])
const WORD_RE = /^(?:[a-z]{2,}|[A-Z][a-z]+|[A-Z]{2,})$/
const LOWER_NAME_RE = /^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$/
const VERSION_SEGMENT_RE = /^v?\d{1,10}(?:[-+][A-Za-z0-9]{0,12})*$/
const NOT_BASE64_RE = /[-_.%?&]/
const counts = new Uint16Array(128)

/**
 * A name made of short dash/underscore-separated parts, such as a Kubernetes pod
 * (`billing-worker-prod-7f9c8d6b5-x2k9p`) or `OpenJDK_64-Bit_Server_VM`. Random keys
 * seldom split into three or more parts of ≤ 12 characters one of which is a word;
 * mixed-case ones must be words for at least half of their parts.
 */
function isSlug(v: string): boolean {
  const parts = v.split(/[-_]/)
  if (parts.length < 3) return false
  let words = 0
  for (const p of parts) {
    if (p.length > 12) return false
    if (WORD_RE.test(p)) words++
  }
  if (v.toLowerCase() === v) return words >= 1
  return words * 2 >= parts.length
}

/**
 * `svc-06/okhttp/4`, `Stripe/v1`, `aws-sdk-js/3`: product tokens chained by `/`
 * (a user agent, after its dotted versions were split off). Every segment must be
 * a word, a lowercase name or a version; the segments of a base64 key are mixed-case
 * random runs, which are none of these.
 */
function isProductChain(v: string): boolean {
  const segs = v.split('/')
  if (segs.length < 2) return false
  return segs.every(
    (s) =>
      s.length > 0 &&
      (WORD_RE.test(s) ||
        VERSION_SEGMENT_RE.test(s) ||
        (LOWER_NAME_RE.test(s) && s.length < MIN_GENERIC_KEY_LENGTH) ||
        isSlug(s)),
  )
}

function isRandomCase(v: string, letters: number, upper: number): boolean {
  if (upper * 4 < letters || upper * 4 > letters * 3) return false
  let flips = 0
  let prev = 0 // 1 lower, 2 upper
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i)
    const k = c >= 97 && c <= 122 ? 1 : c >= 65 && c <= 90 ? 2 : 0
    if (k === 0) continue
    if (prev !== 0 && k !== prev) flips++
    prev = k
  }
  return flips * 10 >= (letters - 1) * 3
}

/**
 * A path (`/v1/keys/…`) reads mostly as structure: words, lowercase names, versions,
 * numbers and ids (hex, UUIDs, prefixed ids) make up at least as many characters as
 * its other short segments (long ones are judged as keys on their own). A token that starts with `/` but is mostly random runs
 * (`/Njg8o1pt/AH2EeZb/…`) is a base64 key, not a path.
 */
function isPathLike(v: string): boolean {
  // Base64 keys are made of letters, digits, `+`, `/` and `=` only.
  if (NOT_BASE64_RE.test(v)) return true
  let structure = 0
  let other = 0
  for (const seg of v.split('/')) {
    if (seg.length === 0) continue
    if (
      WORD_RE.test(seg) ||
      LOWER_NAME_RE.test(seg) ||
      VERSION_SEGMENT_RE.test(seg) ||
      /^[0-9a-f]+$/i.test(seg) ||
      UUID_RE.test(seg) ||
      PREFIXED_ID_RE.test(seg) ||
      seg.split('-').every((w) => WORD_RE.test(w))
    )
      structure += seg.length
    else if (seg.length < MIN_GENERIC_KEY_LENGTH) other += seg.length // long ones are judged on their own
  }
  return structure >= other
}

/**
 * A bare token (no spaces) that is random enough to be a secret: ≥ 20 chars from
 * `[A-Za-z0-9_-+/=.]`, Shannon entropy ≥ 3.5 bits/char, letters and digits (or, with
 * no digit, ≥ 24 letters in random mixed case). Shapes that are high-entropy but not
 * secrets are exempt:
 * - dotted tokens are judged part by part: hex, base64, base64url and base62 keys
 *   never contain a `.`, while versions (`okhttp/4.12.0`), hostnames and file names
 *   do (dotted key formats such as JWTs have known heads);
 * - UUIDs, hex ids of ≤ 32 chars (request/trace/span ids), X-Ray and W3C trace ids;
 * - paths (leading `/`, judged segment by segment by the caller);
 * - product chains (`svc-06/okhttp/4.12.0`), slugs (`payments-7f9c8d6b5-x2k9p`),
 *   prefixed ids (`cus_NffrFeUfNV2Hib`, `sil_<uuid>`), keyshift fingerprints and
 *   notification ids (`ntf_` + 32 hex).
 */
function isHighEntropyToken(v: string): boolean {
  const n = v.length
  if (n < MIN_GENERIC_KEY_LENGTH) return false
  let letters = 0
  let upper = 0
  let digits = 0
  let hex = true
  let slash = false
  let dot = false
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i)
    if (c >= 128 || KEY_CHARS[c] === 0) return false
    if (c === 37) return isHighEntropyToken(percentDecoded(v))
    if (c >= 48 && c <= 57) digits++
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      letters++
      if (c <= 90) upper++
      if (!((c >= 97 && c <= 102) || (c >= 65 && c <= 70))) hex = false
    } else {
      hex = false
      if (c === 47) slash = true
      else if (c === 46) dot = true
    }
  }
  if (dot) {
    for (const part of v.split('.')) if (isHighEntropyToken(part)) return true
    return false
  }
  if (letters === 0) return false
  if (hex && n <= 32) return false
  if (n === 35 && (isFingerprint(v) || XRAY_TRACE_RE.test(v))) return false
  if (n === 36 && (UUID_RE.test(v) || NOTIFICATION_ID_RE.test(v))) return false
  if (n === 55 && TRACEPARENT_RE.test(v)) return false
  if (digits === 0 && (upper * 4 < letters || upper * 4 > letters * 3)) return false // see isRandomCase
  // Hex has 4 bits a character at most: a random 33+ hex run measures ~3.7.
  if (entropyBits(v) < (hex ? MIN_HEX_ENTROPY_BITS : MIN_ENTROPY_BITS)) return false
  // Random enough: now the shapes that are random-looking but are not keys.
  if (v.charCodeAt(0) === 47 && isPathLike(v)) return false
  if (slash && isProductChain(v)) return false
  const prefixed = PREFIXED_ID_RE.exec(v)
  if (prefixed !== null && !SECRET_PREFIXES.has(prefixed[1]!)) return false
  if (isSlug(v)) return false
  // Without digits only random mixed case counts (`QwErTyUiOp…`), not CamelCase
  // names or SHOUTED_CONSTANTS.
  return digits > 0 || isRandomCase(v, letters, upper)
}

/** Shannon entropy of a string of ASCII characters, in bits per character. */
function entropyBits(v: string): number {
  const n = v.length
  for (let i = 0; i < n; i++) counts[v.charCodeAt(i)]!++
  let entropy = 0
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i)
    const k = counts[c]!
    if (k === 0) continue
    const p = k / n
    entropy -= p * Math.log2(p)
    counts[c] = 0
  }
  return entropy
}

/** `%2F` → `/`: a key in a URL arrives percent-encoded; a stray `%` is dropped. */
function percentDecoded(v: string): string {
  if (!PERCENT_ESCAPE_RE.test(v)) return v.replaceAll('%', '')
  try {
    return decodeURIComponent(v)
  } catch {
    return v
      .replace(/%[0-9A-Fa-f]{2}/g, (e) => String.fromCharCode(Number.parseInt(e.slice(1), 16)))
      .replaceAll('%', '')
  }
}

function looksLikeBareKey(token: string): boolean {
  return KNOWN_KEY_WHOLE_RE.test(token) || isHighEntropyToken(token)
}

const WRAPPED_WHOLE_RE = /^(bearer|basic)\s+([A-Za-z0-9_\-+/=.~]{8,})$/i

/**
 * True when a whole value is shaped like key material: a known key format
 * (`sk_live_…`, `ghp_…`, `AKIA…`, `AIza…`, `glpat-…`, `xoxb-…`, `ks_live_…`, JWTs, …),
 * a `Bearer`/`Basic` credential, or a high-entropy token (see `isHighEntropyToken`).
 * ISO timestamps, IP addresses, UUIDs, paths, hostnames and user agents are not.
 */
export function looksLikeKey(value: string): boolean {
  const v = value.trim()
  if (v.length < 8 || isFingerprint(v)) return false
  if (WRAPPED_WHOLE_RE.test(v)) return true
  return looksLikeBareKey(v)
}

// ---------------------------------------------------------------------------
// Free-text scrubbing

interface ScrubState {
  readonly fingerprint: Fingerprinter
  replaced: number
}

function replaceCredential(raw: string, st: ScrubState): string {
  if (PLACEHOLDERS.has(raw) || isFingerprint(raw)) return raw
  st.replaced++
  return st.fingerprint(raw)
}

const JSON_PAIR_RE = /"((?:[^"\\]|\\.){1,128})"(\s*:\s*)"((?:[^"\\]|\\.)*)"/g
const JSON_NUMBER_PAIR_RE = /"((?:[^"\\]|\\.){1,128})"(\s*:\s*)(-?\d+(?:\.\d+)?)(?=\s*[,}\]])/g
const ESCAPED_JSON_PAIR_RE = /\\"([^"\\]{1,128})\\"(\s*:\s*)\\"((?:[^"\\]|\\(?!"))*)\\"/g
// Values are printable ASCII up to a delimiter, so bytes around a credential in a
// latin1 view of non-UTF-8 input are never swallowed.
const KV_PAIR_RE =
  /([A-Za-z][A-Za-z0-9_.-]{0,127})(\s*[:=]\s*)((?:(?:bearer|basic|token|apikey)\s+)?[!$%*+\-./0-9:=?@A-Z\\^_`a-z|~]+)/gi
const WRAPPED_RE = /\b(bearer|basic)(\s+)([A-Za-z0-9_\-+/=.~]{8,})/gi
const WRAPPED_TEST_RE = /\b(?:bearer|basic)\s/i
const TOKEN_RE = /[A-Za-z0-9_\-+/=.%]{16,}/g
const COMPOSITE_PART_RE = /[^/=?&]{16,}/g

function unescapeJsonString(s: string): string {
  if (!s.includes('\\')) return s
  try {
    return JSON.parse(`"${s}"`) as string
  } catch {
    return s
  }
}

function jsonPairs(s: string, st: ScrubState): string {
  let out = s.replace(JSON_PAIR_RE, (whole, name: string, sep: string, value: string) => {
    if (!isCredentialFieldName(unescapeJsonString(name))) return whole
    const raw = unescapeJsonString(value)
    const r = replaceCredential(raw, st)
    return r === raw ? whole : `"${name}"${sep}"${r}"`
  })
  out = out.replace(JSON_NUMBER_PAIR_RE, (whole, name: string, sep: string, value: string) =>
    isCredentialFieldName(unescapeJsonString(name))
      ? `"${name}"${sep}"${replaceCredential(value, st)}"`
      : whole,
  )
  if (out.includes('\\"')) {
    out = out.replace(ESCAPED_JSON_PAIR_RE, (whole, name: string, sep: string, value: string) => {
      if (!isCredentialFieldName(name)) return whole
      const r = replaceCredential(value, st)
      return r === value ? whole : `\\"${name}\\"${sep}\\"${r}\\"`
    })
  }
  return out
}

// `name=value` (query strings, form bodies, logfmt) and `Name: value` (header dumps).
// A manual loop so that a non-credential match (`https:` …) does not swallow the
// value that follows it: scanning resumes right after the separator.
function keyValuePairs(s: string, st: ScrubState): string {
  const re = KV_PAIR_RE
  re.lastIndex = 0
  let out = ''
  let last = 0
  for (let m = re.exec(s); m !== null; m = re.exec(s)) {
    const name = m[1]!
    const sep = m[2]!
    const value = m[3]!
    if (isCredentialFieldName(name) && !PLACEHOLDERS.has(value)) {
      out += s.slice(last, m.index) + name + sep + replaceCredential(value, st)
      last = m.index + m[0].length
    } else {
      re.lastIndex = m.index + name.length + sep.length
    }
  }
  return last === 0 ? s : out + s.slice(last)
}

function wrappedCredentials(s: string, st: ScrubState): string {
  return s.replace(WRAPPED_RE, (whole, scheme: string, gap: string, token: string) => {
    if (isFingerprint(token)) return whole
    if (scheme.toLowerCase() === 'basic') {
      if (!isBasicToken(token)) return whole
    } else if (token.length < MIN_GENERIC_KEY_LENGTH && !/\d/.test(token)) {
      return whole // `Bearer authentication required`: prose, not a token
    }
    st.replaced++
    return `${scheme}${gap}${st.fingerprint(`${scheme} ${token}`)}`
  })
}

function isBasicToken(token: string): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return false
  return Buffer.from(token, 'base64').toString('latin1').includes(':')
}

// A run of key characters: a known key format, a known format glued to something
// else (`key-sk_live_…`, Tyk's `key-<raw>` tags: only the key is replaced, so it
// fingerprints the same as everywhere else), or a bare high-entropy token.
function scrubBare(tok: string, st: ScrubState): string {
  if (tok.length === 36 && UUID_RE.test(tok)) return tok // request ids: the most common long token
  const hint = KNOWN_KEY_HINT_RE.exec(tok)
  if (hint !== null) {
    if (hint.index === 0 && KNOWN_KEY_WHOLE_RE.test(tok)) {
      st.replaced++
      return st.fingerprint(tok)
    }
    const embedded = tok.replace(KNOWN_KEY_SCAN_RE, (k) => {
      st.replaced++
      return st.fingerprint(k)
    })
    if (embedded !== tok) return embedded
  }
  if (isHighEntropyToken(tok)) {
    st.replaced++
    return st.fingerprint(tok)
  }
  return tok
}

function scrubToken(tok: string, st: ScrubState): string {
  // A sentence's full stop is not part of the key before it (`… leaked sk_live_….`):
  // no key format ends in a dot, and keeping it out lets the key fingerprint the
  // same as everywhere else.
  let end = tok.length
  while (end > 0 && tok.charCodeAt(end - 1) === 46) end--
  if (end > 0 && end < tok.length) return scrubTokenBody(tok.slice(0, end), st) + tok.slice(end)
  return scrubTokenBody(tok, st)
}

function scrubTokenBody(tok: string, st: ScrubState): string {
  const eq = tok.indexOf('=')
  if (
    (tok.charCodeAt(0) === 47 && (tok.length < MIN_GENERIC_KEY_LENGTH || isPathLike(tok))) ||
    (eq > 0 && eq < tok.length - 1 && tok.charCodeAt(eq + 1) !== 61)
  ) {
    // A path or `name=value`: judge each part on its own so the structure survives.
    return tok.replace(COMPOSITE_PART_RE, (part) => scrubBare(part, st))
  }
  return scrubBare(tok, st)
}

// A credential field name always contains one of these; a string without any of
// them cannot hold a `name=value` or `"name": value` credential pair.
const CREDENTIAL_NAME_HINT_RE = /key|auth|tok|secret|pass|pwd|cred|sig|cookie|session|bearer|jwt/i
const HAS_EQ = 1
const HAS_COLON = 2
const HAS_QUOTE = 4
const HAS_SPACE = 8

const MIN_TOKEN_LENGTH = 16
const runStarts: number[] = []
const runEnds: number[] = []

function scrubFree(s: string, st: ScrubState): string {
  // One pass to find out what could be there, and where the long runs of key
  // characters are: most strings (ids, timestamps, IPs, names, user agents) leave
  // here without a single regex having run over them.
  const n = s.length
  let runStart = 0
  let flags = 0
  let runs = 0
  for (let i = 0; i <= n; i++) {
    const c = i < n ? s.charCodeAt(i) : 32
    if (c < 128 && KEY_CHARS[c] === 1) {
      if (c === 61) flags |= HAS_EQ
      continue
    }
    if (i - runStart >= MIN_TOKEN_LENGTH) {
      runStarts[runs] = runStart
      runEnds[runs] = i
      runs++
    }
    runStart = i + 1
    if (c === 58) flags |= HAS_COLON
    else if (c === 34) flags |= HAS_QUOTE
    else if (c === 32 || c === 9 || c === 10 || c === 13) flags |= HAS_SPACE
  }
  let out = s
  if ((flags & (HAS_EQ | HAS_COLON | HAS_QUOTE)) !== 0 && CREDENTIAL_NAME_HINT_RE.test(s)) {
    if ((flags & HAS_QUOTE) !== 0) out = jsonPairs(out, st)
    out = keyValuePairs(out, st)
  }
  if ((flags & HAS_SPACE) !== 0 && n >= 14 && WRAPPED_TEST_RE.test(out)) out = wrappedCredentials(out, st)
  if (runs === 0) return out
  // Earlier passes changed the text: positions are stale, find the tokens again.
  if (out !== s) return out.replace(TOKEN_RE, (tok) => scrubToken(tok, st))
  let res = ''
  let last = 0
  for (let r = 0; r < runs; r++) {
    const a = runStarts[r]!
    const b = runEnds[r]!
    const tok = s.slice(a, b)
    const t = scrubToken(tok, st)
    if (t !== tok) {
      res += s.slice(last, a) + t
      last = b
    }
  }
  return last === 0 ? s : res + s.slice(last)
}

/**
 * Scrubs free text (log lines, dead-letter payloads): JSON `"<credential field>":
 * "<value>"` pairs, `<credential name>=<value>` and `<Credential-Header>: <value>`
 * pairs, `Bearer`/`Basic` credentials, known key formats anywhere, and bare
 * high-entropy tokens are replaced by fingerprints. Everything else is untouched.
 */
export function scrubText(text: string, fingerprint: Fingerprinter): string {
  return scrubFree(text, { fingerprint, replaced: 0 })
}

/** Like `scrubText`, also returning how many values were replaced. */
export function scrubTextCounted(
  text: string,
  fingerprint: Fingerprinter,
): { text: string; replaced: number } {
  const st: ScrubState = { fingerprint, replaced: 0 }
  const out = scrubFree(text, st)
  return { text: out, replaced: st.replaced }
}

/**
 * Scrubs raw bytes. Valid UTF-8 is scrubbed as text. Anything else is scrubbed
 * through a latin1 view (one char per byte) and re-encoded as latin1, so every
 * byte outside a replaced credential is preserved exactly; fingerprints are ASCII.
 */
export function scrubBytes(buf: Buffer, fingerprint: Fingerprinter): Buffer {
  if (isUtf8(buf)) return Buffer.from(scrubText(buf.toString('utf8'), fingerprint), 'utf8')
  return Buffer.from(scrubText(buf.toString('latin1'), fingerprint), 'latin1')
}

// Bytes that end a token: a cut right after one of these splits no key.
const TOKEN_DELIMITERS = new Uint8Array(128)
for (const c of ' \t\r\n"\',;{}[]()<>') TOKEN_DELIMITERS[c.charCodeAt(0)] = 1

/**
 * Where a truncated record can be cut without leaving part of a key: before the
 * opening quote of a JSON string the cut fell inside (its name and the rest of its
 * value are gone, so no rule could recognise it), then back over any partial token.
 */
export function safeCutOffset(text: string): number {
  let inString = false
  let open = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
    } else if (c === 34) {
      inString = true
      open = i
    }
  }
  let end = inString ? open : text.length
  while (end > 0) {
    const c = text.charCodeAt(end - 1)
    if (c < 128 && TOKEN_DELIMITERS[c] === 1) break
    end--
  }
  return end
}

/**
 * Scrubs the kept beginning of a record that was cut at a size limit (a line over
 * the line limit). The cut can fall inside a key and leave a fragment shorter than
 * any rule's minimum, so the tail is first cut back to a safe point
 * (`safeCutOffset`), then the rest is scrubbed like any record: no fragment of a
 * key survives the cut.
 */
export function scrubTruncatedBytes(buf: Buffer, fingerprint: Fingerprinter): Buffer {
  const end = safeCutOffset(buf.toString('latin1'))
  return scrubBytes(buf.subarray(0, end), fingerprint)
}

// ---------------------------------------------------------------------------
// Structural scrubbing of parsed JSON

/** Deepest nesting walked; anything deeper is replaced by `DEPTH_LIMIT_PLACEHOLDER`. */
export const MAX_SCRUB_DEPTH = 32
export const DEPTH_LIMIT_PLACEHOLDER = '[scrubbed: nested too deep]'

export interface ScrubOptions {
  fingerprint: Fingerprinter
  /**
   * Extra paths whose values are always credentials, in the decoder path syntax
   * (`request.headers.apikey`, `body["client-key"]`). Matching is case-insensitive;
   * `*` matches any key; array levels may be skipped (`items.token` matches
   * `items[2].token`) or named (`items[2].token`). A path that ends on an object or
   * array makes every string and number below it a credential.
   */
  extraSecretPaths?: readonly string[]
}

export interface ScrubResult {
  value: unknown
  /** Number of values (or substrings) replaced by fingerprints. */
  replaced: number
}

interface PathNode {
  readonly children: Map<string, PathNode>
  wildcard: PathNode | undefined
  terminal: boolean
}

function newNode(): PathNode {
  return { children: new Map(), wildcard: undefined, terminal: false }
}

/** Parses secret paths into a trie; throws `Error` naming the bad path. */
function compileSecretPaths(paths: readonly string[]): PathNode | undefined {
  if (paths.length === 0) return undefined
  const root = newNode()
  for (const p of paths) {
    let node = root
    for (const seg of parsePath(p)) {
      if (seg === '*') {
        node.wildcard ??= newNode()
        node = node.wildcard
      } else {
        const key = seg.toLowerCase()
        let next = node.children.get(key)
        if (next === undefined) {
          next = newNode()
          node.children.set(key, next)
        }
        node = next
      }
    }
    node.terminal = true
  }
  return root
}

function advance(
  nodes: readonly PathNode[],
  key: string,
): { nodes: PathNode[] | undefined; terminal: boolean } {
  const out: PathNode[] = []
  let terminal = false
  const lk = key.toLowerCase()
  for (const node of nodes) {
    const c = node.children.get(lk)
    if (c !== undefined) {
      out.push(c)
      if (c.terminal) terminal = true
    }
    if (node.wildcard !== undefined) {
      out.push(node.wildcard)
      if (node.wildcard.terminal) terminal = true
    }
  }
  return { nodes: out.length === 0 ? undefined : out, terminal }
}

function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true })
  else out[key] = value
}

function scrubKey(key: string, st: ScrubState): string {
  if (key.length < 16 && !key.includes('=')) return key
  return scrubFree(key, st)
}

// How secret a value is, from where it sits in the document.
const PLAIN = 0 // scrubbed only if it looks like key material
const SENSITIVE = 1 // inside an object under a credential name: see DESCRIPTIVE_FIELD_NAMES
const SECRET = 2 // under a credential name or a configured path: always fingerprinted
const SECRET_PATH = 3 // under a configured path: everything below, objects included
type Secrecy = 0 | 1 | 2 | 3

/**
 * Inside an object held by a credential-named field (`auth: {…}`, `token: {…}`),
 * every value is a credential except under these descriptive names, which say what
 * the credential is rather than being it (`auth: {type: "key-auth", key_id: "…"}`).
 */
const DESCRIPTIVE_FIELD_NAMES = new Set([
  'id',
  'type',
  'kind',
  'scheme',
  'method',
  'name',
  'user',
  'username',
  'user_id',
  'client',
  'client_id',
  'consumer',
  'consumer_id',
  'key_id',
  'key_ref',
  'key_name',
  'key_version',
  'version',
  'issuer',
  'iss',
  'sub',
  'subject',
  'aud',
  'audience',
  'scope',
  'scopes',
  'realm',
  'provider',
  'plugin',
  'status',
  'reason',
  'error',
  'expires_at',
  'expires_in',
  'exp',
  'iat',
  'nbf',
  'created_at',
])

function childSecrecy(parent: Secrecy, key: string): Secrecy {
  if (parent === SECRET_PATH) return SECRET_PATH
  if (isCredentialFieldName(key)) return SECRET
  if (parent === SENSITIVE) {
    return DESCRIPTIVE_FIELD_NAMES.has(key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase())
      ? PLAIN
      : SECRET
  }
  return PLAIN
}

function walk(
  v: unknown,
  depth: number,
  secrecy: Secrecy,
  nodes: PathNode[] | undefined,
  st: ScrubState,
): unknown {
  if (typeof v === 'string') {
    if (secrecy >= SECRET) return replaceCredential(v, st)
    if (v.length < 4) return v
    return scrubFree(v, st)
  }
  if (typeof v === 'number') {
    if (secrecy < SECRET) return v
    st.replaced++
    return st.fingerprint(String(v))
  }
  if (v === null || typeof v !== 'object') return v
  if (depth >= MAX_SCRUB_DEPTH) {
    st.replaced++
    return DEPTH_LIMIT_PLACEHOLDER
  }
  // Copy-on-write: containers are copied only when something inside them changes.
  if (Array.isArray(v)) {
    let out: unknown[] | undefined
    for (let i = 0; i < v.length; i++) {
      let elemNodes = nodes
      let elemSecrecy = secrecy
      if (nodes !== undefined) {
        // Array levels are transparent to secret paths, and may also be named by index.
        const adv = advance(nodes, String(i))
        if (adv.nodes !== undefined) elemNodes = [...nodes, ...adv.nodes]
        if (adv.terminal) elemSecrecy = SECRET_PATH
      }
      const before = v[i]
      const after = walk(before, depth + 1, elemSecrecy, elemNodes, st)
      if (out === undefined) {
        if (after === before) continue
        out = v.slice(0, i)
      }
      out.push(after)
    }
    return out ?? v
  }
  // An object under a credential name is judged field by field (SENSITIVE).
  const parent: Secrecy = secrecy === SECRET ? SENSITIVE : secrecy
  const src = v as Record<string, unknown>
  const keys = Object.keys(src)
  let out: Record<string, unknown> | undefined
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!
    let child = childSecrecy(parent, key)
    let childNodes: PathNode[] | undefined
    if (nodes !== undefined) {
      const adv = advance(nodes, key)
      childNodes = adv.nodes
      if (adv.terminal) child = SECRET_PATH
    }
    const before = src[key]
    const after = walk(before, depth + 1, child, childNodes, st)
    const newKey = scrubKey(key, st)
    if (out === undefined) {
      if (after === before && newKey === key) continue
      out = {}
      for (let j = 0; j < i; j++) setOwn(out, keys[j]!, src[keys[j]!])
    }
    setOwn(out, newKey, after)
  }
  return out ?? src
}

/** A reusable scrubber for one configuration (secret paths are compiled once). */
export type DocumentScrubber = (doc: unknown) => ScrubResult

/**
 * Creates a document scrubber. Throws `Error` when a secret path does not parse
 * (the decoder turns that into a `ConfigError` naming the field).
 */
export function createDocumentScrubber(opts: ScrubOptions): DocumentScrubber {
  const root = compileSecretPaths(opts.extraSecretPaths ?? [])
  const rootNodes = root === undefined ? undefined : [root]
  return (doc: unknown): ScrubResult => {
    const st: ScrubState = { fingerprint: opts.fingerprint, replaced: 0 }
    let value = walk(doc, 0, PLAIN, rootNodes, st)
    // Always hand back a new top-level container; unchanged subtrees are shared.
    if (value === doc && value !== null && typeof value === 'object') {
      value = Array.isArray(value) ? value.slice() : { ...(value as Record<string, unknown>) }
    }
    return { value, replaced: st.replaced }
  }
}

/**
 * Deep-scrubs a parsed JSON value and returns a new value with the number of
 * replacements. The input is never mutated; containers are copied on write, so
 * subtrees where nothing was replaced are shared with the input (treat the result
 * as read-only, as the decoder does):
 * - every non-empty string (and number) held by a credential-named field
 *   (`CREDENTIAL_FIELD_NAMES`), directly or in an array, becomes its fingerprint;
 *   placeholders such as `-` or `REDACTED` are kept. An object held by such a field
 *   (`auth: {…}`) has all its values fingerprinted except those under descriptive
 *   names (`DESCRIPTIVE_FIELD_NAMES`: `type`, `key_id`, `client`, …);
 * - everything under an explicitly configured path becomes its fingerprint;
 * - every other string is scrubbed like free text (`scrubText`): key-shaped values
 *   are fingerprinted whole, URLs and paths keep their shape and only lose
 *   key-shaped parts (`/v1/pay?api_key=sk_live_…` → `/v1/pay?api_key=fp_…`), while
 *   timestamps, IPs, UUIDs, hostnames and user agents survive;
 * - object keys are scrubbed the same way (a key can be passed as a bare query
 *   parameter name);
 * - nesting deeper than `MAX_SCRUB_DEPTH` is replaced by a placeholder.
 */
export function scrubDocument(doc: unknown, opts: ScrubOptions): ScrubResult {
  return createDocumentScrubber(opts)(doc)
}
