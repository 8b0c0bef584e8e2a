// Traefik access logs with `accessLog.format: json` (doc.traefik.io "Access Logs",
// Traefik v2.x/v3.x). Fields are Traefik's documented names; request headers appear
// as `request_<Canonical-Name>` only when `accessLog.fields.headers` keeps them. The
// default `fields.headers.defaultMode` is `drop`, and `redact` logs `REDACTED`
// (no credential), so out of the box a record carries no key header at all.
//
//   StartUTC | StartLocal (RFC 3339, ns precision), else `time`
//   RequestMethod   RequestPath (with its query string)   DownstreamStatus
//   ClientHost (else ClientAddr)   Duration (ns → ms)    request_User-Agent
//   request_X-Request-Id (else TraceId)
//
// Identity, in this order (docs/gateways/traefik.md):
// 1. key material: request_X-Api-Key | request_Apikey | request_Authorization |
//    request_X-Auth-Token (kept headers), else a key query parameter in RequestPath
//    (`?api_key=`, `?key=`, `?access_token=`, read after scrubbing);
// 2. key id / version: request_X-Key-Id / request_X-Key-Version;
// 3. principal: `ClientUsername`, the user BasicAuth / DigestAuth authenticated
//    (logged by default), only when no credential header is kept. Under the default
//    header mode this is what identifies a BasicAuth request, so a successful one
//    is stored like a failed one;
// 4. client: request_X-Client-Id.
// Traefik logs no auth failure text (ForwardAuth/BasicAuth rejections show as a
// DownstreamStatus of 401/403 with OriginStatus 0), so reasons come from the status.
// Gateway: not logged; the decoder's default gateway is used.

import type { Extracted, PresetMapper } from '../extracted.ts'
import { caseInsensitive, firstPresent, queryKey, scaled } from './conventions.ts'

export const traefikPreset: PresetMapper = (doc): Extracted => {
  const field = caseInsensitive(doc)
  const user = field('ClientUsername')
  return {
    eventId: firstPresent(field('request_X-Request-Id'), doc.TraceId),
    time: firstPresent(doc.StartUTC, doc.StartLocal, doc.time),
    keyId: field('request_X-Key-Id'),
    keyVersion: field('request_X-Key-Version'),
    keyMaterial:
      firstPresent(
        field('request_X-Api-Key', 'request_Apikey', 'request_Authorization', 'request_X-Auth-Token'),
      ) ?? queryKey(doc.RequestPath),
    principal: user,
    status: doc.DownstreamStatus,
    clientId: firstPresent(field('request_X-Client-Id'), user),
    sourceAddress: firstPresent(doc.ClientHost, doc.ClientAddr),
    userAgent: field('request_User-Agent'),
    method: doc.RequestMethod,
    route: doc.RequestPath,
    latencyMs: scaled(doc.Duration, 1e-6),
  }
}
