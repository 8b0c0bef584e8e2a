// The loosely typed middle step between a gateway's own log shape and the canonical
// AuthEvent. A preset only picks values out of a (scrubbed) document; all checking,
// typing and inference happens once, in `normalise`.

import type { TimeFormat } from './time.ts'

/**
 * Values a preset pulled out of a gateway document. Every field is `unknown`
 * because gateways log numbers as strings, `-` for "none", and so on; absent
 * fields are `undefined`. `normalise` decides what is acceptable.
 */
export interface Extracted {
  /** The gateway's request id. */
  eventId?: unknown
  /** Event time: ISO 8601 / CLF string, or epoch number / numeric string. */
  time?: unknown
  /** How to read `time`; `auto` (the default) detects the format and epoch unit. */
  timeFormat?: TimeFormat
  /** Logical key id, when the gateway logs one (AWS apiKeyId, a consumer, a header). */
  keyId?: unknown
  /** Version label, when the gateway logs one (header, consumer tag, custom_id suffix). */
  keyVersion?: unknown
  /** The credential the client presented (raw or already fingerprinted); only its fingerprint is kept. */
  keyMaterial?: unknown
  /** A fingerprint the gateway already computed (`fp_…`). */
  keyFingerprint?: unknown
  /** HTTP status returned to the client. */
  status?: unknown
  /** The gateway's own reason code or text (`INVALID_API_KEY`, `jwt_authn_access_denied{Jwt_is_expired}`). */
  reason?: unknown
  clientId?: unknown
  sourceAddress?: unknown
  userAgent?: unknown
  method?: unknown
  /** Request path (a query string is stripped) or the gateway's route template. */
  route?: unknown
  gateway?: unknown
  /** Latency already in milliseconds. */
  latencyMs?: unknown
}

/** Maps one scrubbed gateway document to extracted values. Pure; never throws. */
export type PresetMapper = (doc: Record<string, unknown>) => Extracted
