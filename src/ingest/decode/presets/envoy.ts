// Envoy (and Istio, Envoy Gateway) JSON access logs: `json_format` with command
// operators. Envoy has no fixed key names, so this preset reads the names of the
// two formats most deployments copy, case-insensitively:
// - Istio's default JSON access log (istio.io "Envoy Access Logs", Istio 1.2x):
//   start_time, method, path, response_code, response_code_details,
//   response_flags, duration, x_forwarded_for, downstream_remote_address,
//   user_agent, request_id, authority, upstream_cluster;
// - Envoy Gateway's default (gateway.envoyproxy.io "Proxy Observability", v1.x):
//   the same operators under dashed names: `x-envoy-origin-path`,
//   `x-forwarded-for`, `user-agent`, `x-request-id`, `:authority`.
// Numbers may be strings (`"%RESPONSE_CODE%"` inside a larger string renders as one).
//
// Identity, in this order (docs/gateways/envoy.md):
// 1. key material: `x_api_key` / `x-api-key` / `api_key` / `apikey` / `authorization`
//    (`%REQ(X-API-KEY)%`, …), else a key query parameter in the logged path
//    (`%REQ(:PATH)%` keeps the query string: `?api_key=`, `?key=`, `?access_token=`);
// 2. `key_fingerprint`, a hash computed upstream;
// 3. key id `key_id` / `x_key_id` (`%REQ(X-KEY-ID)%` or `%DYNAMIC_METADATA(…)%`),
//    version `key_version` / `x_key_version`;
// 4. principal: `principal` / `jwt_sub` / `sub` (e.g.
//    `%DYNAMIC_METADATA(envoy.filters.http.jwt_authn:payload:sub)%`), only when no
//    credential is logged;
// 5. client: `client_id` / `x_client_id`.
// `response_code_details` is the reason (`jwt_authn_access_denied{Jwt_is_expired}`,
// `rbac_access_denied_matched_policy[none]`, `request_rate_limited`); `via_upstream`
// carries none. The `RL` response flag counts as rate limiting when no details are
// logged. Gateway: `hostname` (`%HOSTNAME%`).

import type { Extracted, PresetMapper } from '../extracted.ts'
import { caseInsensitive, firstPresent, queryKey } from './conventions.ts'

export const envoyPreset: PresetMapper = (doc): Extracted => {
  const field = caseInsensitive(doc)
  const flags = field('response_flags')
  const rateLimited =
    typeof flags === 'string' && flags.split(',').includes('RL') ? 'rate_limited' : undefined
  const path = field('path', 'x-envoy-origin-path', 'x_envoy_original_path', 'x-envoy-original-path')
  return {
    eventId: field('request_id', 'x_request_id', 'x-request-id'),
    time: field('start_time', 'timestamp', '@timestamp'),
    keyId: field('key_id', 'x_key_id', 'x-key-id'),
    keyVersion: field('key_version', 'x_key_version', 'x-key-version'),
    keyMaterial:
      firstPresent(field('x_api_key', 'x-api-key', 'api_key', 'apikey', 'authorization')) ?? queryKey(path),
    keyFingerprint: field('key_fingerprint'),
    principal: field('principal', 'jwt_sub', 'sub'),
    status: field('response_code', 'status'),
    reason: firstPresent(field('response_code_details'), rateLimited),
    clientId: field('client_id', 'x_client_id', 'x-client-id'),
    sourceAddress: firstPresent(
      field('x_forwarded_for', 'x-forwarded-for'),
      field('downstream_remote_address', 'downstream_remote_address_without_port'),
    ),
    userAgent: field('user_agent', 'user-agent'),
    method: field('method', ':method'),
    route: path,
    gateway: field('hostname'),
    latencyMs: field('duration'),
  }
}
