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
