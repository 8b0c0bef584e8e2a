// Tyk analytics records as Tyk Pump ships them ("Tyk Analytics Record Fields",
// tyk.io docs 5.x; tyk-pump `analytics.AnalyticsRecord` JSON names): `timestamp`
// (RFC 3339), `method`, `path`, `raw_path`, `response_code`, `api_key`, `api_id`,
// `api_name`, `org_id`, `oauth_id`, `ip_address`, `user_agent`, `request_time` (ms),
// `latency.total` (ms), `alias`, `tags`. The MongoDB pump's lower-case names
// (`responsecode`, `apikey`, `ipaddress`, `useragent`, `requesttime`) are read too.
//
// Shapes:
// - Kafka pump (tyk-pump pumps/kafka.go): one message per record, a subset of its
//   fields with `request_time_ms` for the latency (older pumps: `@timestamp` for
//   the time), plus the pump's static `meta_data` fields;
// - stdout pump (`format: json`, tyk-pump pumps/stdout.go): a logrus line
//   `{"level":"info","msg":"","time":…,"tyk-analytics-record":{…}}`; the record is
//   unwrapped from `tyk-analytics-record`, or from whatever `log_field_name` names
//   (the one object field holding a `response_code`); tyk-pump before 1.6 wrote
//   `request_time_ms` there;
// - http pump: a JSON array of records, split by the decoder.
//
// Identity, in this order (docs/gateways/tyk.md):
// 1. key material `api_key`: the key as presented, or Tyk's hash of it when
//    `hash_keys` is on; only its fingerprint is kept. `00000000` is Tyk's
//    placeholder for "no key" (keyless APIs, errors before the key was read:
//    tyk.io "Traffic per Key"), never a key;
// 2. key id / version: tags `key_id:<id>` / `key_version:<v>` (Tyk copies key tags
//    into records), else the key `alias` in the `key-id:version` form;
// 3. client name: any other `alias` (the name given to the key);
// 4. client: `oauth_id`.
// Tyk records carry no reason and no request id.

import type { Extracted, PresetMapper } from '../extracted.ts'
import { at, firstPresent, parseKeyRef, tagValue } from './conventions.ts'

/** Tyk's analytics value for "no key" (keyless APIs, errors before authentication). */
export const TYK_NO_KEY = '00000000'

function unwrap(doc: Record<string, unknown>): Record<string, unknown> {
  const named = doc['tyk-analytics-record']
  if (named !== null && typeof named === 'object' && !Array.isArray(named)) {
    return named as Record<string, unknown>
  }
  if (doc.response_code !== undefined || doc.responsecode !== undefined) return doc
  // A renamed `log_field_name`: the one object field that is an analytics record.
  for (const v of Object.values(doc)) {
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && 'response_code' in v) {
      return v as Record<string, unknown>
    }
  }
  return doc
}

function key(v: unknown): unknown {
  return typeof v === 'string' && /^0{8}$/.test(v.trim()) ? undefined : v
}

export const tykPreset: PresetMapper = (outer): Extracted => {
  const doc = unwrap(outer)
  const tags = doc.tags
  const ref = parseKeyRef(doc.alias)
  const versioned = ref?.version !== undefined
  return {
    // `_id` appears only in MongoDB exports, and is used only when it is a plain string.
    eventId: firstPresent(doc.request_id, typeof doc._id === 'string' ? doc._id : undefined),
    // `@timestamp`: the Kafka pump before it switched to `timestamp`, and the Logz.io pump.
    time: firstPresent(doc.timestamp, doc['@timestamp'], outer === doc ? undefined : outer.time),
    keyId: firstPresent(tagValue(tags, 'key_id'), versioned ? ref.keyId : undefined),
    keyVersion: firstPresent(tagValue(tags, 'key_version'), ref?.version),
    keyMaterial: key(firstPresent(doc.api_key, doc.apikey)),
    clientName: versioned ? undefined : doc.alias,
    status: firstPresent(doc.response_code, doc.responsecode),
    clientId: firstPresent(doc.oauth_id, doc.oauthid, doc.alias),
    sourceAddress: firstPresent(doc.ip_address, doc.ipaddress),
    userAgent: firstPresent(doc.user_agent, doc.useragent),
    method: doc.method,
    route: firstPresent(doc.path, doc.raw_path, doc.rawpath),
    latencyMs: firstPresent(
      at(doc, 'latency', 'total'),
      doc.request_time,
      doc.request_time_ms,
      doc.requesttime,
    ),
  }
}
