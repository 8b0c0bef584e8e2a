// Envoy (and Istio) JSON access logs: `json_format` with command operators. Envoy
// has no fixed key names, so this preset reads the names of Istio's default JSON
// access log format, which most Envoy deployments copy, plus a few conventional
// extras for keys:
//
//   start_time: %START_TIME%                      method: %REQ(:METHOD)%
//   path: %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%       response_code: %RESPONSE_CODE%
//   response_code_details: %RESPONSE_CODE_DETAILS% response_flags: %RESPONSE_FLAGS%
//   duration: %DURATION%                           x_forwarded_for: %REQ(X-FORWARDED-FOR)%
//   downstream_remote_address: %DOWNSTREAM_REMOTE_ADDRESS%
//   user_agent: %REQ(USER-AGENT)%                  request_id: %REQ(X-REQUEST-ID)%
//   hostname: %HOSTNAME% (→ gateway)
//   key material: x_api_key / api_key / authorization  (%REQ(X-API-KEY)%, …)
//   key id / version: key_id / x_key_id, key_version / x_key_version
//     (%REQ(X-KEY-VERSION)% or %DYNAMIC_METADATA(…)%)
//   client: client_id / x_client_id
//
// `response_code_details` is the reason (`jwt_authn_access_denied{Jwt_is_expired}`,
// `rbac_access_denied_matched_policy[none]`, `request_rate_limited`); `via_upstream`
// means the upstream answered and carries no reason. The `RL` response flag counts
// as rate limiting when no details are logged.

import type { Extracted, PresetMapper } from '../extracted.ts'
import { caseInsensitive, firstPresent } from './conventions.ts'

export const envoyPreset: PresetMapper = (doc): Extracted => {
  const field = caseInsensitive(doc)
  const flags = doc.response_flags
  const rateLimited =
    typeof flags === 'string' && flags.split(',').includes('RL') ? 'rate_limited' : undefined
  return {
    eventId: field('request_id', 'x_request_id'),
    time: doc.start_time,
    keyId: field('key_id', 'x_key_id'),
    keyVersion: field('key_version', 'x_key_version'),
    keyMaterial: field('x_api_key', 'api_key', 'apikey', 'authorization'),
    keyFingerprint: field('key_fingerprint'),
    status: doc.response_code,
    reason: firstPresent(doc.response_code_details, rateLimited),
    clientId: field('client_id', 'x_client_id'),
    sourceAddress: firstPresent(doc.x_forwarded_for, doc.downstream_remote_address),
    userAgent: doc.user_agent,
    method: doc.method,
    route: doc.path,
    gateway: doc.hostname,
    latencyMs: doc.duration,
  }
}
