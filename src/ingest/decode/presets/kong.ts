// Kong Gateway log plugins (http-log, file-log, tcp-log, kafka-log, …): one JSON
// object per request, built by `kong.log.serialize()`.
//
// Fields read (Kong 2.x/3.x serializer):
// - eventId: `request.id` (3.5+), else the `x-kong-request-id` response/request header,
//   else `x-request-id` (correlation-id plugin)
// - time: `started_at` (epoch ms)
// - keyMaterial: request header `apikey` (key-auth's default key name), `x-api-key`,
//   `authorization`, else query parameter `apikey` / `api_key`
// - keyId / keyVersion: header `x-key-id` / `x-key-version`; else consumer
//   `custom_id` as `key-id:version` (`acme-payments:v2`); version also from a consumer
//   tag `key_version:v2`; key id falls back to the consumer `username`
// - clientId: consumer `username`, else consumer `id`, else
//   `authenticated_entity.consumer_id`
// - status `response.status`, sourceAddress `client_ip`, userAgent request header
//   `user-agent`, method `request.method`, route `request.uri` (query stripped),
//   latencyMs `latencies.request`
// - gateway: not logged by Kong; the decoder's default gateway is used.
// Kong's serializer logs no failure text, so reasons come from the status.

import type { Extracted, PresetMapper } from '../extracted.ts'
import { firstPresent, header, parseKeyRef, prop, tagValue } from './conventions.ts'

export const kongPreset: PresetMapper = (doc): Extracted => {
  const request = doc.request
  const reqHeaders = prop(request, 'headers')
  const response = doc.response
  const consumer = doc.consumer
  const username = prop(consumer, 'username')
  const ref = parseKeyRef(prop(consumer, 'custom_id'))
  const query = prop(request, 'querystring')
  return {
    eventId: firstPresent(
      prop(request, 'id'),
      header(prop(response, 'headers'), 'x-kong-request-id'),
      header(reqHeaders, 'x-kong-request-id'),
      header(reqHeaders, 'x-request-id'),
    ),
    time: doc.started_at,
    keyId: firstPresent(header(reqHeaders, 'x-key-id'), ref?.keyId, username),
    keyVersion: firstPresent(
      header(reqHeaders, 'x-key-version'),
      ref?.version,
      tagValue(prop(consumer, 'tags'), 'key_version'),
    ),
    keyMaterial: firstPresent(
      header(reqHeaders, 'apikey'),
      header(reqHeaders, 'x-api-key'),
      header(reqHeaders, 'authorization'),
      prop(query, 'apikey'),
      prop(query, 'api_key'),
    ),
    status: prop(response, 'status'),
    clientId: firstPresent(username, prop(consumer, 'id'), prop(doc.authenticated_entity, 'consumer_id')),
    sourceAddress: doc.client_ip,
    userAgent: header(reqHeaders, 'user-agent'),
    method: prop(request, 'method'),
    route: prop(request, 'uri'),
    latencyMs: prop(doc.latencies, 'request'),
  }
}
