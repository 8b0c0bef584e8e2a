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
  'gh[pousr]_[A-Za-z0-9]{20}', // GitHub tokens
  'github_pat_[A-Za-z0-9_]{20}',
  'xox[abprs]-[A-Za-z0-9-]{8}', // Slack
  '(?:AKIA|ASIA)[A-Z0-9]{16}', // AWS access key ids
  'AIza[A-Za-z0-9_-]{30}', // Google API keys
  'glpat-[A-Za-z0-9_-]{16}', // GitLab
  'sk-(?:proj|ant)-[A-Za-z0-9_-]{16}', // OpenAI / Anthropic project keys
  'eyJ[A-Za-z0-9_-]{4,}\\.eyJ[A-Za-z0-9_-]{4,}\\.', // JWT (header.payload.signature)
].join('|')
const KEY_TAIL = '[A-Za-z0-9_\\-+/=.]*'
const KNOWN_KEY_WHOLE_RE = new RegExp(`^(?:${KNOWN_KEY_HEADS})${KEY_TAIL}$`)
// Cheap first look: where the first known head could start (no lookbehind, no tail).
const KNOWN_KEY_HINT_RE =
  /(?:sk|pk|rk|ks)_(?:live|test)_|gh[pousr]_|github_pat_|xox[abprs]-|AKIA|ASIA|AIza|glpat-|sk-(?:proj|ant)-|eyJ/
const KNOWN_KEY_SCAN_RE = new RegExp(`(?<![A-Za-z0-9])(?:${KNOWN_KEY_HEADS})${KEY_TAIL}`, 'g')

// Characters a bare key token is made of.
const KEY_CHARS = new Uint8Array(128)
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-+/=.')
  KEY_CHARS[c.charCodeAt(0)] = 1

const MIN_GENERIC_KEY_LENGTH = 20
const MIN_ENTROPY_BITS = 3.5
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const XRAY_TRACE_RE = /^\d-[0-9a-f]{8}-[0-9a-f]{24}$/
const PRODUCT_TOKEN_RE = /^[A-Za-z][A-Za-z0-9._-]*\/[0-9][A-Za-z0-9._-]*$/ // `python-requests/2.31.0`
const HOSTNAME_RE = /^(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$/
const counts = new Uint16Array(128)

/**
 * A bare token (no spaces) that is random enough to be a secret: ≥ 20 chars from
 * `[A-Za-z0-9_-+/=.]`, letters and digits, Shannon entropy ≥ 3.5 bits/char. Shapes
 * that are high-entropy but not secrets are exempt: UUIDs, hex ids of ≤ 32 chars
 * (request/trace/span ids), AWS X-Ray trace ids, paths (leading `/`), hostnames,
 * `product/version` user agents and keyshift fingerprints.
 */
function isHighEntropyToken(v: string): boolean {
  const n = v.length
  if (n < MIN_GENERIC_KEY_LENGTH) return false
  let letters = 0
  let digits = 0
  let hex = true
  let slash = false
  let dot = false
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i)
    if (c >= 128 || KEY_CHARS[c] === 0) return false
    if (c >= 48 && c <= 57) digits++
    else if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      letters++
      if (!((c >= 97 && c <= 102) || (c >= 65 && c <= 70))) hex = false
    } else {
      hex = false
      if (c === 47) slash = true
      else if (c === 46) dot = true
    }
  }
  if (letters === 0 || digits === 0) return false
  if (hex && n <= 32) return false
  if (v.charCodeAt(0) === 47) return false
  if (n === 35 && (isFingerprint(v) || XRAY_TRACE_RE.test(v))) return false
  if (n === 36 && UUID_RE.test(v)) return false
  if (slash && PRODUCT_TOKEN_RE.test(v)) return false
  if (dot && HOSTNAME_RE.test(v)) return false
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
  return entropy >= MIN_ENTROPY_BITS
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
const TOKEN_RE = /[A-Za-z0-9_\-+/=.]{16,}/g
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
  const eq = tok.indexOf('=')
  if (tok.charCodeAt(0) === 47 || (eq > 0 && eq < tok.length - 1 && tok.charCodeAt(eq + 1) !== 61)) {
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
