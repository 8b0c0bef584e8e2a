// Kong Gateway log plugins (http-log, file-log, tcp-log, kafka-log, …): one JSON
// object per request, built by `kong.log.serialize()` (Kong 2.x/3.x; the sample
// object on https://developer.konghq.com/plugins/http-log, Kong Gateway 3.8). The
// http-log plugin sends a JSON array when `queue.max_batch_size` > 1: the decoder
// splits arrays into their elements before this preset sees them.
//
// Identity, in this order (see docs/gateways/kong.md):
// 1. key material: request header `apikey` (key-auth's default `key_names`),
//    `x-api-key`, `authorization`, else a key query parameter (`querystring.apikey`,
//    `api_key`, `key`, `access_token`, …). Gone when the auth plugin has
//    `hide_credentials: true`, which strips it before the log phase.
// 2. credential: `authenticated_entity.id`, the id of the credential Kong
//    authenticated. It survives `hide_credentials`, tells one consumer's two
//    credentials apart, and is fingerprinted like material so a version can be
//    registered by it. The registry is asked about the material, then the credential.
// 3. key id / version: header `x-key-id` / `x-key-version`; consumer tags
//    `key_id:…` / `key_version:…`; consumer `custom_id` only in the explicit
//    `key-id:version` form (`acme-payments:v2`): a plain custom_id is the consumer's
//    id in some other system, never a key id.
// 4. consumer: `consumer.username`, else `consumer.id`, else
//    `authenticated_entity.consumer_id` (source `consumer`).
// Other fields: eventId `request.id` (3.5+), else `x-kong-request-id`, else
// `x-request-id`; time `started_at` (epoch ms); status `response.status`;
// sourceAddress `client_ip`; userAgent header `user-agent`; method `request.method`;
// route `request.uri` (query stripped); latencyMs `latencies.request`; clientId the
// consumer. Kong logs no gateway name and no failure text.

import type { Extracted, PresetMapper } from '../extracted.ts'
import {
  firstPresent,
  header,
  parseKeyRef,
  prop,
  QUERY_KEY_PARAMS,
  queryKey,
  tagValue,
} from './conventions.ts'

function queryStringKey(query: unknown, uri: unknown): unknown {
  if (query !== null && typeof query === 'object' && !Array.isArray(query)) {
    for (const name of QUERY_KEY_PARAMS) {
      let v = prop(query, name)
      if (Array.isArray(v)) v = v[0]
      // Kong logs a flag without a value (`?apikey`) as `true`: no credential.
      if (typeof v === 'string' && v !== '') return v
    }
  }
  return queryKey(uri)
}

export const kongPreset: PresetMapper = (doc): Extracted => {
  const request = doc.request
  const reqHeaders = prop(request, 'headers')
  const response = doc.response
  const consumer = doc.consumer
  const entity = doc.authenticated_entity
  const tags = prop(consumer, 'tags')
  const ref = parseKeyRef(prop(consumer, 'custom_id'))
  const consumerName = firstPresent(
    prop(consumer, 'username'),
    prop(consumer, 'id'),
    prop(entity, 'consumer_id'),
  )
  return {
    eventId: firstPresent(
      prop(request, 'id'),
      header(prop(response, 'headers'), 'x-kong-request-id'),
      header(reqHeaders, 'x-kong-request-id'),
      header(reqHeaders, 'x-request-id'),
    ),
    time: doc.started_at,
    keyId: firstPresent(
      header(reqHeaders, 'x-key-id'),
      tagValue(tags, 'key_id'),
      ref?.version !== undefined ? ref.keyId : undefined,
    ),
    keyVersion: firstPresent(
      header(reqHeaders, 'x-key-version'),
      tagValue(tags, 'key_version'),
      ref?.version,
    ),
    // The query string is parsed only when no key header is logged (most records have one).
    keyMaterial:
      firstPresent(
        header(reqHeaders, 'apikey'),
        header(reqHeaders, 'x-api-key'),
        header(reqHeaders, 'authorization'),
      ) ?? queryStringKey(prop(request, 'querystring'), prop(request, 'uri')),
    credentialId: prop(entity, 'id'),
    consumer: consumerName,
    status: prop(response, 'status'),
    clientId: consumerName,
    sourceAddress: doc.client_ip,
    userAgent: header(reqHeaders, 'user-agent'),
    method: prop(request, 'method'),
    route: prop(request, 'uri'),
    latencyMs: prop(doc.latencies, 'request'),
  }
}
