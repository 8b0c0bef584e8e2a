// The canonical authentication event every gateway preset maps onto. Everything
// downstream (store, analysis, alerts) reads this shape and nothing else.

export const OUTCOMES = ['success', 'failure'] as const
export type Outcome = (typeof OUTCOMES)[number]

/** Normalised failure reasons. `none` is used for successful requests. */
export const FAILURE_REASONS = [
  'none',
  'expired',
  'revoked',
  'unknown_key',
  'invalid_signature',
  'insufficient_scope',
  'missing_credential',
  'rate_limited',
  'other',
] as const
export type FailureReason = (typeof FAILURE_REASONS)[number]

/**
 * What attributed an event to a key, strongest first when a record carries several:
 * - `key_material`: the fingerprint of the credential the client presented;
 * - `fingerprint`: a hash or fingerprint the gateway computed (Tyk's hashed key);
 * - `credential`: the gateway's id of the credential (Kong `authenticated_entity.id`);
 * - `key_id`: a key id the record names (AWS `apiKeyId`, `X-Key-Id`, tags);
 * - `client_name`: a name the gateway mapped the key to (NGINX `$api_client_name`);
 * - `consumer`: the gateway's consumer (Kong consumer username/id);
 * - `principal`: who authenticated (AWS `principalId`/claims, Traefik/NGINX basic-auth user);
 * - `client`: only a client id the gateway logged (key stays `unknown`);
 * - `none`: nothing at all (only failures are kept: `missing_credential`).
 * A fingerprint the registry resolves wins over a key id; otherwise the first present
 * in this order names the key. Each preset documents which of these it reads.
 */
export const IDENTITY_SOURCES = [
  'key_material',
  'fingerprint',
  'credential',
  'key_id',
  'client_name',
  'consumer',
  'principal',
  'client',
  'none',
] as const
export type IdentitySource = (typeof IDENTITY_SOURCES)[number]

/** Version label used when an event's key material cannot be resolved to a version. */
export const UNKNOWN_VERSION = 'unknown'
/** Key id used when nothing in the event identifies a key. */
export const UNKNOWN_KEY = 'unknown'

export interface AuthEvent {
  /** Stable id: the gateway's request id when present, else derived from the source position. */
  eventId: string
  /** Event time, epoch milliseconds (UTC). */
  time: number
  keyId: string
  /** Version label (`v2`), or `unknown` when it could not be resolved. */
  keyVersion: string
  /** Keyed fingerprint (`fp_…`) of the presented key material, '' when none was seen. Never raw material. */
  keyFingerprint: string
  outcome: Outcome
  reason: FailureReason
  /** HTTP status code returned to the client, 0 when unknown. */
  status: number
  clientId: string
  sourceAddress: string
  userAgent: string
  method: string
  route: string
  gateway: string
  /** Request latency in milliseconds, 0 when unknown. */
  latencyMs: number
  /** What identified the key (see `IDENTITY_SOURCES`). */
  identitySource: IdentitySource
}

/** Where an event came from, used for exactly-once positions and dead-letter headers. */
export interface SourcePosition {
  /** Source stream id, e.g. `kafka:auth-events` or `file:/var/log/kong.log#ino`. */
  source: string
  /** Partition within the source (Kafka partition, or 0 for files). */
  partition: number
  /** Offset of the record within the partition (Kafka offset or byte offset of the line). */
  offset: bigint
}
