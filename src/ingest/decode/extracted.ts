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
  /** Logical key id, when the gateway logs one (AWS apiKeyId, a header, a tag). */
  keyId?: unknown
  /** Version label, when the gateway logs one (header, consumer tag, custom_id suffix). */
  keyVersion?: unknown
  /** The credential the client presented (raw or already fingerprinted); only its fingerprint is kept. */
  keyMaterial?: unknown
  /** A fingerprint or hash the gateway already computed (`fp_…`, Tyk's hashed key). */
  keyFingerprint?: unknown
  /**
   * The gateway's id of the credential it authenticated (Kong `authenticated_entity.id`).
   * Not a secret, but fingerprinted like one, so a version can be registered by it
   * (`keyshift key fingerprint` of the id) when the gateway hides the key itself.
   */
  credentialId?: unknown
  /** A name the gateway mapped the key to (NGINX `$api_client_name`): the key id when none is logged. */
  clientName?: unknown
  /** The gateway's consumer (Kong consumer username or id): the key id when none is logged. */
  consumer?: unknown
  /** Who authenticated (AWS principalId / claims, a basic-auth user): the key id when none is logged. */
  principal?: unknown
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
