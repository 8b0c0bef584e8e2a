// NGINX JSON access logs: `log_format keyshift escape=json '{…}'` where each key is
// named after the NGINX variable it holds (every value is a string):
//
//   time_iso8601 | msec | time_local     request_id        remote_addr
//   request_method   uri | request_uri   status            http_user_agent
//   request_time (seconds → ms)          hostname (→ gateway)
//   http_x_api_key | http_apikey | http_authorization | arg_api_key | arg_apikey
//   http_x_forwarded_for (used when remote_addr is missing)
//   remote_user | http_x_client_id (→ clientId)
//   custom: api_key_id | key_id | http_x_key_id, key_version | http_x_key_version,
//           key_fingerprint, auth_reason (e.g. from an auth_request subrequest header)

import type { Extracted, PresetMapper } from '../extracted.ts'
import { caseInsensitive, firstPresent, scaled } from './conventions.ts'

export const nginxPreset: PresetMapper = (doc): Extracted => {
  const field = caseInsensitive(doc)
  return {
    eventId: field('request_id'),
    time: firstPresent(doc.time_iso8601, doc.msec, doc.time_local),
    keyId: field('api_key_id', 'key_id', 'http_x_key_id'),
    keyVersion: field('key_version', 'http_x_key_version'),
    keyMaterial: field('http_x_api_key', 'http_apikey', 'http_authorization', 'arg_api_key', 'arg_apikey'),
    keyFingerprint: field('key_fingerprint'),
    status: doc.status,
    reason: field('auth_reason', 'auth_error'),
    clientId: field('client_id', 'http_x_client_id', 'remote_user'),
    sourceAddress: firstPresent(doc.remote_addr, doc.http_x_forwarded_for),
    userAgent: doc.http_user_agent,
    method: doc.request_method,
    route: firstPresent(doc.uri, doc.request_uri),
    gateway: firstPresent(doc.hostname),
    latencyMs: scaled(doc.request_time, 1000),
  }
}
