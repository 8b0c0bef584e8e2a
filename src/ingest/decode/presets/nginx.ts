// NGINX JSON access logs: `log_format <name> escape=json '{…}'` (nginx.org
// ngx_http_log_module, `escape=json` since 1.11.8). Key names are chosen by whoever
// writes the log_format, so this preset reads, case-insensitively, the variable's
// own name and the short names common formats use (every value may be a string):
//
//   time: time_iso8601 | time | timestamp | @timestamp | msec | time_local
//   request_id   remote_addr (else http_x_forwarded_for)   status
//   method: request_method, else the first word of `request` ("GET /p?q HTTP/1.1")
//   route: uri | request_uri | request (path part)        http_user_agent | user_agent
//   request_time (seconds → ms)                           hostname (→ gateway)
//
// Identity, in this order (docs/gateways/nginx.md):
// 1. key material: http_x_api_key | http_apikey | http_authorization |
//    arg_api_key | arg_apikey | arg_key | arg_access_token, else a key query
//    parameter in request_uri / request / args / query_string (read after scrubbing);
// 2. key_fingerprint (a hash computed upstream);
// 3. key id: api_key_id | key_id | http_x_key_id; version key_version | http_x_key_version;
// 4. client name: api_client_name | client_name — the `$api_client_name` of NGINX's
//    API-gateway pattern (`map $http_apikey $api_client_name {…}`, "Deploying NGINX
//    as an API Gateway, Part 1", nginx.com blog): the key's name, so a 403 for a
//    known client is `insufficient_scope`, not `unknown_key`;
// 5. principal: remote_user (auth_basic), only when no credential is logged;
// 6. client: client_id | http_x_client_id (clientId is that, else the client name or user).
// Reason: auth_reason | auth_error (e.g. from an auth_request subrequest header).

import type { Extracted, PresetMapper } from '../extracted.ts'
import { caseInsensitive, firstPresent, queryKey, scaled } from './conventions.ts'

const REQUEST_LINE_RE = /^([A-Z]{3,16}) (\S+)(?: HTTP\/[\d.]+)?$/

export const nginxPreset: PresetMapper = (doc): Extracted => {
  const field = caseInsensitive(doc)
  const requestLine = field('request')
  const line = typeof requestLine === 'string' ? REQUEST_LINE_RE.exec(requestLine.trim()) : null
  const requestUri = field('request_uri')
  return {
    eventId: field('request_id'),
    time: field('time_iso8601', 'time', 'timestamp', '@timestamp', 'msec', 'time_local'),
    keyId: field('api_key_id', 'key_id', 'http_x_key_id'),
    keyVersion: field('key_version', 'http_x_key_version'),
    // Query strings are parsed only when no key variable is logged.
    keyMaterial:
      firstPresent(
        field(
          'http_x_api_key',
          'http_apikey',
          'http_authorization',
          'arg_api_key',
          'arg_apikey',
          'arg_key',
          'arg_access_token',
        ),
      ) ??
      queryKey(requestUri) ??
      queryKey(line?.[2]) ??
      queryKey(field('args', 'query_string')),
    keyFingerprint: field('key_fingerprint'),
    clientName: field('api_client_name', 'client_name'),
    principal: field('remote_user'),
    status: field('status'),
    reason: field('auth_reason', 'auth_error'),
    clientId: field('client_id', 'http_x_client_id', 'api_client_name', 'client_name', 'remote_user'),
    sourceAddress: firstPresent(field('remote_addr'), field('http_x_forwarded_for')),
    userAgent: field('http_user_agent', 'user_agent'),
    method: firstPresent(field('request_method'), line?.[1]),
    route: firstPresent(field('uri'), requestUri, line?.[2]),
    gateway: field('hostname'),
    latencyMs: scaled(field('request_time'), 1000),
  }
}
