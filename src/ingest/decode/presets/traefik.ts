// Traefik access logs with `format: json`. Fields are Traefik's documented names;
// request headers appear as `request_<Canonical-Name>` only when
// `accessLog.fields.headers` keeps them (the default drops headers; `redact` logs
// `REDACTED`, which counts as no credential):
//
//   StartUTC (RFC 3339, ns precision)   RequestMethod   RequestPath   DownstreamStatus
//   ClientHost                          Duration (ns → ms)            ClientUsername
//   request_User-Agent   request_X-Request-Id (else TraceId)
//   request_X-Api-Key | request_Apikey | request_Authorization  (key material)
//   request_X-Key-Id, request_X-Key-Version, request_X-Client-Id
//
// Traefik logs no auth failure text (ForwardAuth/BasicAuth rejections show as a
// DownstreamStatus of 401/403 with OriginStatus 0), so reasons come from the status.
// Gateway: not logged; the decoder's default gateway is used.

import type { Extracted, PresetMapper } from '../extracted.ts'
import { caseInsensitive, firstPresent, scaled } from './conventions.ts'

export const traefikPreset: PresetMapper = (doc): Extracted => {
  const field = caseInsensitive(doc)
  return {
    eventId: firstPresent(field('request_X-Request-Id'), doc.TraceId),
    time: firstPresent(doc.StartUTC, doc.StartLocal),
    keyId: field('request_X-Key-Id'),
    keyVersion: field('request_X-Key-Version'),
    keyMaterial: field('request_X-Api-Key', 'request_Apikey', 'request_Authorization'),
    status: doc.DownstreamStatus,
    clientId: firstPresent(field('request_X-Client-Id'), doc.ClientUsername),
    sourceAddress: firstPresent(doc.ClientHost, doc.ClientAddr),
    userAgent: field('request_User-Agent'),
    method: doc.RequestMethod,
    route: doc.RequestPath,
    latencyMs: scaled(doc.Duration, 1e-6),
  }
}
