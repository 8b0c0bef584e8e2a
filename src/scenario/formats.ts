// Canonical auth events → one access-log line in a gateway's own JSON format,
// shaped exactly as the decoder presets read them (src/ingest/decode/presets/*).
// The raw key material goes where the gateway would log it (a header, a query
// parameter, a field); the decoder fingerprints it. Some gateways cannot say
// everything: Kong, Tyk and Traefik log no failure reason and no gateway name, AWS
// names its gateway `aws-apigateway:<api>/<stage>`; the canonical format carries it all. `formatLoss` tells which events
// a format cannot carry exactly, so callers can keep those off such gateways.
import { type AuthEvent, type FailureReason, UNKNOWN_KEY, UNKNOWN_VERSION } from '../domain/auth-event.ts'
import { ValidationError } from '../domain/errors.ts'
import { PRESET_NAMES, type PresetName } from '../ingest/decode/decoder.ts'
import { AUTH_FAILURE_REASONS } from '../ingest/decode/reason.ts'
import { hashString, hex8, mix32 } from './random.ts'

/** Every preset the decoders read is one the simulator can write. */
export const FORMAT_PRESETS = PRESET_NAMES
export type FormatPreset = PresetName

/** Host the simulated API is served on (request URLs, `authority`). */
export const API_HOST = 'api.example.com'

export function isFormatPreset(name: string): name is FormatPreset {
  return (FORMAT_PRESETS as readonly string[]).includes(name)
}

type Doc = Record<string, unknown>
type Formatter = (e: AuthEvent, material: string) => Doc

const known = (v: string, unknown: string) => (v === unknown || v === '' ? undefined : v)
const keyIdOf = (e: AuthEvent) => known(e.keyId, UNKNOWN_KEY)
const versionOf = (e: AuthEvent) => known(e.keyVersion, UNKNOWN_VERSION)
const orUndefined = (s: string) => (s === '' ? undefined : s)
const iso = (t: number) => new Date(t).toISOString()

/** Small deterministic numbers (ports, sizes) derived from the event id, so lines are reproducible. */
function noise(e: AuthEvent, salt: number, mod: number): number {
  return mix32(hashString(e.eventId) ^ salt) % mod
}

function uuidOf(s: string): string {
  const h = hashString(s)
  const a = hex8(mix32(h ^ 1))
  const b = hex8(mix32(h ^ 2))
  const c = hex8(mix32(h ^ 3))
  const d = hex8(mix32(h ^ 4))
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-a${c.slice(1, 4)}-${c.slice(4)}${d}`
}

/** Did the gateway let the request through authentication (so it knows the consumer)? */
const authenticated = (e: AuthEvent) => e.outcome === 'success' || e.status === 403

// ---------------------------------------------------------------------------
// Kong (kong.log.serialize(): http-log / file-log)
// ---------------------------------------------------------------------------

/**
 * Authenticated requests carry the consumer (username = client id, custom_id =
 * `key-id:version`, Kong's convention for keyshift); rejected ones have no consumer,
 * so the key id and version travel as the client's `X-Key-Id`/`X-Key-Version` headers.
 */
const kong: Formatter = (e, material) => {
  const keyId = keyIdOf(e)
  const version = versionOf(e)
  const withConsumer = keyId !== undefined && authenticated(e)
  const headers: Doc = {
    host: API_HOST,
    'user-agent': orUndefined(e.userAgent),
    accept: 'application/json',
    apikey: orUndefined(material),
  }
  if (keyId !== undefined && !withConsumer) {
    headers['x-key-id'] = keyId
    if (version !== undefined) headers['x-key-version'] = version
  }
  const proxied = !(e.status === 401 || e.status === 403 || e.status === 429)
  const kongMs = Math.min(e.latencyMs, 1 + noise(e, 1, 2))
  const doc: Doc = {
    request: {
      id: e.eventId,
      method: e.method,
      uri: e.route,
      url: `https://${API_HOST}${e.route}`,
      size: 180 + noise(e, 2, 400),
      querystring: {},
      headers,
      tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384', client_verify: 'NONE' },
    },
    upstream_uri: proxied ? e.route : undefined,
    response: {
      status: e.status,
      size: proxied ? 300 + noise(e, 3, 4000) : 96,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-kong-request-id': e.eventId },
    },
    latencies: {
      kong: kongMs,
      proxy: proxied ? e.latencyMs - kongMs : -1,
      request: e.latencyMs,
      receive: 0,
    },
    route: { name: e.route.split('/').filter(Boolean).join('-') || 'root', paths: [e.route] },
    service: { name: 'api', host: 'upstream.internal', port: 8080, protocol: 'http' },
    client_ip: e.sourceAddress,
    started_at: e.time,
    source: proxied ? 'upstream' : 'kong',
    workspace_name: 'default',
  }
  if (withConsumer) {
    const consumer: Doc = { custom_id: version === undefined ? keyId : `${keyId}:${version}` }
    if (e.clientId !== '') {
      consumer.id = uuidOf(`consumer:${e.clientId}`)
      consumer.username = e.clientId
      doc.authenticated_entity = { id: uuidOf(`credential:${keyId}:${version}`), consumer_id: consumer.id }
    }
    doc.consumer = consumer
  }
  return doc
}

// ---------------------------------------------------------------------------
// Envoy / Istio JSON access log
// ---------------------------------------------------------------------------

const ENVOY_DETAILS: Record<FailureReason, string> = {
  none: 'via_upstream',
  expired: 'ext_authz_denied{api_key_expired}',
  revoked: 'ext_authz_denied{api_key_revoked}',
  unknown_key: 'ext_authz_denied{unknown_api_key}',
  invalid_signature: 'jwt_authn_access_denied{Jwt_verification_fails}',
  insufficient_scope: 'rbac_access_denied_matched_policy[none]',
  missing_credential: 'jwt_authn_access_denied{Jwt_is_missing}',
  rate_limited: 'request_rate_limited',
  other: 'ext_authz_error',
}

function withPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

const envoy: Formatter = (e, material) => {
  const upstream = e.reason === 'none'
  return {
    start_time: iso(e.time),
    method: e.method,
    path: e.route,
    protocol: 'HTTP/1.1',
    response_code: e.status,
    response_flags: e.reason === 'rate_limited' ? 'RL' : e.outcome === 'failure' ? 'UAEX' : '-',
    response_code_details: ENVOY_DETAILS[e.reason],
    bytes_received: upstream ? 120 + noise(e, 4, 600) : 0,
    bytes_sent: upstream ? 300 + noise(e, 5, 4000) : 58,
    duration: e.latencyMs,
    upstream_service_time: upstream ? String(Math.max(0, e.latencyMs - 1)) : null,
    x_forwarded_for: null,
    downstream_remote_address: withPort(e.sourceAddress, 1024 + noise(e, 6, 60000)),
    user_agent: orUndefined(e.userAgent) ?? null,
    request_id: e.eventId,
    authority: API_HOST,
    upstream_host: upstream ? '10.0.3.17:8080' : null,
    upstream_cluster: 'outbound|8080||api.internal',
    hostname: e.gateway,
    x_api_key: orUndefined(material) ?? null,
    key_id: keyIdOf(e) ?? null,
    key_version: versionOf(e) ?? null,
    x_client_id: orUndefined(e.clientId) ?? null,
  }
}

// ---------------------------------------------------------------------------
// NGINX JSON log_format (variables by name; '-' for empty)
// ---------------------------------------------------------------------------

const NGINX_REASONS: Record<FailureReason, string> = {
  none: '-',
  expired: 'api key expired',
  revoked: 'api key revoked',
  unknown_key: 'unknown api key',
  invalid_signature: 'invalid signature',
  insufficient_scope: 'insufficient scope',
  missing_credential: 'missing api key',
  rate_limited: '-',
  other: 'auth error',
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec']

function clfTime(t: number): string {
  const d = new Date(t)
  const p = (n: number) => String(n).padStart(2, '0')
  return (
    `${p(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} +0000`
  )
}

const dash = (s: string | undefined) => (s === undefined || s === '' ? '-' : s)

const nginx: Formatter = (e, material) => ({
  msec: (e.time / 1000).toFixed(3),
  time_local: clfTime(e.time),
  request_id: e.eventId,
  remote_addr: e.sourceAddress,
  request_method: e.method,
  uri: e.route,
  request_uri: e.route,
  server_protocol: 'HTTP/1.1',
  status: String(e.status),
  body_bytes_sent: String(e.reason === 'none' ? 300 + noise(e, 7, 4000) : 0),
  request_time: (e.latencyMs / 1000).toFixed(3),
  http_user_agent: dash(e.userAgent),
  http_x_forwarded_for: '-',
  hostname: e.gateway,
  http_x_api_key: dash(material),
  http_x_key_id: dash(keyIdOf(e)),
  http_x_key_version: dash(versionOf(e)),
  http_x_client_id: dash(e.clientId),
  auth_reason: e.outcome === 'failure' ? NGINX_REASONS[e.reason] : '-',
})

// ---------------------------------------------------------------------------
// Amazon API Gateway access log (JSON, AWS's example key names)
// ---------------------------------------------------------------------------

const AWS_GATEWAY_RE = /^aws-apigateway:([^/]+)(?:\/(.+))?$/

const AWS_ERRORS: Record<FailureReason, { type?: string; message?: string }> = {
  none: {},
  expired: { type: 'EXPIRED_TOKEN', message: 'The security token included in the request is expired' },
  revoked: { message: 'API key is disabled' },
  unknown_key: { type: 'INVALID_API_KEY', message: 'Forbidden' },
  invalid_signature: { type: 'INVALID_SIGNATURE', message: 'The request signature does not match' },
  insufficient_scope: { type: 'ACCESS_DENIED', message: 'User is not authorized to access this resource' },
  missing_credential: { type: 'MISSING_AUTHENTICATION_TOKEN', message: 'Missing Authentication Token' },
  rate_limited: { type: 'THROTTLED', message: 'Too Many Requests' },
  other: { type: 'UNAUTHORIZED', message: 'Unauthorized' },
}

const awsApiGateway: Formatter = (e, material) => {
  const m = AWS_GATEWAY_RE.exec(e.gateway)
  const err = AWS_ERRORS[e.reason]
  return {
    requestId: e.eventId,
    requestTimeEpoch: e.time,
    requestTime: clfTime(e.time),
    httpMethod: e.method,
    resourcePath: e.route,
    path: `/prod${e.route}`,
    protocol: 'HTTP/1.1',
    status: e.status,
    ip: e.sourceAddress,
    userAgent: orUndefined(e.userAgent),
    apiKeyId: keyIdOf(e),
    apiKey: orUndefined(material),
    keyVersion: versionOf(e),
    principalId: orUndefined(e.clientId),
    errorResponseType: err.type,
    errorMessage: err.message,
    responseLatency: e.latencyMs,
    responseLength: e.reason === 'none' ? 300 + noise(e, 8, 4000) : 40,
    apiId: m?.[1],
    stage: m?.[2],
  }
}

// ---------------------------------------------------------------------------
// Tyk analytics record (tyk-pump JSON names)
// ---------------------------------------------------------------------------

const tyk: Formatter = (e, material) => {
  const keyId = keyIdOf(e)
  const version = versionOf(e)
  const tags = ['env:prod']
  if (keyId !== undefined) tags.push(`key_id:${keyId}`)
  if (version !== undefined) tags.push(`key_version:${version}`)
  return {
    request_id: e.eventId,
    method: e.method,
    host: API_HOST,
    path: e.route,
    raw_path: e.route,
    content_length: 0,
    user_agent: orUndefined(e.userAgent),
    response_code: e.status,
    api_key: orUndefined(material),
    timestamp: iso(e.time),
    api_version: 'Default',
    api_name: 'public-api',
    api_id: 'b3c1f0d2e4a54c7e8d9f0a1b2c3d4e5f',
    org_id: '5e9d9544a1dcd60001d0ed20',
    oauth_id: orUndefined(e.clientId),
    request_time: e.latencyMs,
    latency: { total: e.latencyMs, upstream: Math.max(0, e.latencyMs - 1) },
    ip_address: e.sourceAddress,
    geo: {},
    tags,
  }
}

// ---------------------------------------------------------------------------
// Traefik JSON access log (headers kept as request_<Name>)
// ---------------------------------------------------------------------------

const traefik: Formatter = (e, material) => {
  const start = iso(e.time).replace(/\.(\d{3})Z$/, '.$1000000Z')
  const proxied = e.reason === 'none' || e.reason === 'rate_limited'
  return {
    StartUTC: start,
    RequestMethod: e.method,
    RequestPath: e.route,
    RequestProtocol: 'HTTP/1.1',
    RequestHost: API_HOST,
    DownstreamStatus: e.status,
    OriginStatus: proxied ? e.status : 0,
    Duration: e.latencyMs * 1_000_000,
    ClientHost: e.sourceAddress,
    ClientPort: String(1024 + noise(e, 9, 60000)),
    RouterName: 'api@file',
    ServiceName: proxied ? 'api@file' : undefined,
    entryPointName: 'websecure',
    'request_User-Agent': orUndefined(e.userAgent),
    'request_X-Request-Id': e.eventId,
    'request_X-Api-Key': orUndefined(material),
    'request_X-Key-Id': keyIdOf(e),
    'request_X-Key-Version': versionOf(e),
    'request_X-Client-Id': orUndefined(e.clientId),
  }
}

// ---------------------------------------------------------------------------
// keyshift's canonical event (camelCase, as documented), with the raw key as keyMaterial
// ---------------------------------------------------------------------------

const canonical: Formatter = (e, material) => ({
  eventId: e.eventId,
  time: e.time,
  keyId: keyIdOf(e),
  keyVersion: versionOf(e),
  keyMaterial: orUndefined(material),
  outcome: e.outcome,
  reason: e.reason,
  status: e.status,
  clientId: orUndefined(e.clientId),
  sourceAddress: orUndefined(e.sourceAddress),
  userAgent: orUndefined(e.userAgent),
  method: orUndefined(e.method),
  route: orUndefined(e.route),
  gateway: e.gateway,
  latencyMs: e.latencyMs,
})

const FORMATTERS: Readonly<Record<FormatPreset, Formatter>> = {
  kong,
  envoy,
  nginx,
  'aws-apigateway': awsApiGateway,
  tyk,
  traefik,
  canonical,
}

/** The gateway's JSON document for one event (undefined fields are left out when serialised). */
export function formatDocument(preset: FormatPreset, event: AuthEvent, material: string): Doc {
  const f = FORMATTERS[preset]
  if (f === undefined) {
    throw new ValidationError(`unknown log format "${preset}"; use one of ${FORMAT_PRESETS.join(', ')}`)
  }
  return f(event, material)
}

/** One log line (no trailing newline). `material` is the raw key the client presented, '' for none. */
export function formatLine(preset: FormatPreset, event: AuthEvent, material: string): string {
  return JSON.stringify(formatDocument(preset, event, material))
}

/** A line formatter bound to a preset, for hot loops. */
export function lineFormatter(preset: FormatPreset): (event: AuthEvent, material: string) => string {
  const f = FORMATTERS[preset]
  if (f === undefined) {
    throw new ValidationError(`unknown log format "${preset}"; use one of ${FORMAT_PRESETS.join(', ')}`)
  }
  return (e, m) => JSON.stringify(f(e, m))
}

// ---------------------------------------------------------------------------
// What a format cannot carry
// ---------------------------------------------------------------------------

interface Capabilities {
  /** Logs a failure reason the decoder reads (else it infers one from the status). */
  failureReason: boolean
  /** Logs rate limiting apart from status 429. */
  rateLimitReason: boolean
  /** How the gateway is named: logged as is, the decoder's default, or AWS's `aws-apigateway:<api>/<stage>`. */
  gateway: 'logged' | 'default' | 'aws'
}

const CAPABILITIES: Readonly<Record<FormatPreset, Capabilities>> = {
  kong: { failureReason: false, rateLimitReason: false, gateway: 'default' },
  envoy: { failureReason: true, rateLimitReason: true, gateway: 'logged' },
  nginx: { failureReason: true, rateLimitReason: false, gateway: 'logged' },
  'aws-apigateway': { failureReason: true, rateLimitReason: true, gateway: 'aws' },
  tyk: { failureReason: false, rateLimitReason: false, gateway: 'default' },
  traefik: { failureReason: false, rateLimitReason: false, gateway: 'default' },
  canonical: { failureReason: true, rateLimitReason: true, gateway: 'logged' },
}

/** The decoder's inference when no usable reason was logged (see normalise.ts). */
function inferredReason(status: number, presented: boolean, identified: boolean): FailureReason {
  if (!identified) return presented ? 'unknown_key' : 'missing_credential'
  return status === 403 ? 'insufficient_scope' : 'other'
}

/**
 * Why decoding `formatLine(preset, event)` would not give back `event` exactly, or
 * null when it would. `defaultGateway` is the decoder's default gateway (the source's
 * `default_gateway`), which formats that log no gateway name decode to.
 */
export function formatLoss(preset: FormatPreset, e: AuthEvent, defaultGateway: string): string | null {
  const cap = CAPABILITIES[preset]
  const identified = keyIdOf(e) !== undefined
  const presented = e.keyFingerprint !== ''
  if (e.eventId === '') return 'the event has no id; the decoder would derive one from the source position'
  const carried = cap.failureReason && AUTH_FAILURE_REASONS.has(e.reason)
  const failure = e.status === 401 || e.status === 403 || carried
  if ((e.outcome === 'failure') !== failure) {
    return `a ${e.outcome} with status ${e.status} and reason ${e.reason} decodes as a ${failure ? 'failure' : 'success'}`
  }
  if (failure) {
    const reason = carried ? e.reason : inferredReason(e.status, presented, identified)
    if (reason !== e.reason) {
      return `${preset} cannot carry reason ${e.reason} here: the decoder reads ${reason}`
    }
    if (preset === 'kong' && identified && e.status === 401 && e.clientId !== '') {
      return 'kong logs no consumer for a rejected key, so the client id is lost'
    }
  } else {
    const limited = e.status === 429 || (cap.rateLimitReason && e.reason === 'rate_limited')
    if (e.reason !== (limited ? 'rate_limited' : 'none')) {
      return `${preset} cannot carry reason ${e.reason} with status ${e.status}`
    }
    if (!identified && !presented && e.clientId === '')
      return 'a successful request with no identity at all is skipped (not_auth_traffic)'
  }
  if (cap.gateway === 'default' && e.gateway !== defaultGateway) {
    return `${preset} logs no gateway name; every event decodes with gateway ${defaultGateway}`
  }
  if (cap.gateway === 'aws' && e.gateway !== defaultGateway && !AWS_GATEWAY_RE.test(e.gateway)) {
    return `aws-apigateway names its gateway aws-apigateway:<apiId>/<stage>, not ${e.gateway}`
  }
  if (!Number.isInteger(e.latencyMs) || e.latencyMs < 0)
    return 'latency must be a whole number of milliseconds'
  if (!Number.isInteger(e.time)) return 'time must be a whole number of milliseconds'
  return null
}
