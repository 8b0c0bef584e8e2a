// Tyk analytics records as Tyk Pump ships them (Kafka, stdout, HTTP pumps), with the
// JSON names of tyk-pump's `AnalyticsRecord`: `timestamp` (RFC 3339), `method`,
// `path`, `raw_path`, `response_code`, `api_key`, `api_id`, `api_name`, `org_id`,
// `oauth_id`, `ip_address`, `user_agent`, `request_time` (ms), `latency.total` (ms),
// `alias`, `tags`. The MongoDB pump's lower-case names (`responsecode`, `apikey`,
// `ipaddress`, `useragent`, `requesttime`) are read too.
//
// `api_key` is the key as presented, or Tyk's hash of it when `hash_keys` is on; either
// way only its fingerprint is kept (register the fingerprint of the Tyk hash with the
// version, or carry the version in a tag/alias, to resolve hashed keys).
// Key id / version: tags `key_id:<id>` / `key_version:<v>` (Tyk copies key tags into
// records), else the key `alias` as `key-id:version`, else the alias as key id.
// clientId: `oauth_id`, else `alias`. Tyk records carry no reason and no request id.

import type { Extracted, PresetMapper } from '../extracted.ts'
import { at, firstPresent, parseKeyRef, tagValue } from './conventions.ts'

export const tykPreset: PresetMapper = (doc): Extracted => {
  const tags = doc.tags
  const ref = parseKeyRef(doc.alias)
  return {
    // `_id` appears only in MongoDB exports, and is used only when it is a plain string.
    eventId: firstPresent(doc.request_id, typeof doc._id === 'string' ? doc._id : undefined),
    time: doc.timestamp,
    keyId: firstPresent(tagValue(tags, 'key_id'), ref?.keyId),
    keyVersion: firstPresent(tagValue(tags, 'key_version'), ref?.version),
    keyMaterial: firstPresent(doc.api_key, doc.apikey),
    status: firstPresent(doc.response_code, doc.responsecode),
    clientId: firstPresent(doc.oauth_id, doc.oauthid, doc.alias),
    sourceAddress: firstPresent(doc.ip_address, doc.ipaddress),
    userAgent: firstPresent(doc.user_agent, doc.useragent),
    method: doc.method,
    route: firstPresent(doc.path, doc.raw_path, doc.rawpath),
    latencyMs: firstPresent(at(doc, 'latency', 'total'), doc.request_time, doc.requesttime),
  }
}
