// keyshift's own canonical event as JSON (the field table of docs/gateway-logs.md): what a
// shipper that already normalises logs, `keyshift simulate --preset canonical`
// and the demo write. camelCase names as documented; snake_case accepted too.
// `keyMaterial` may carry the raw credential: it is fingerprinted like any other.
import type { Extracted, PresetMapper } from '../extracted.ts'
import { firstPresent } from './conventions.ts'

export const canonicalPreset: PresetMapper = (doc): Extracted => ({
  eventId: firstPresent(doc.eventId, doc.event_id),
  time: doc.time,
  keyId: firstPresent(doc.keyId, doc.key_id),
  keyVersion: firstPresent(doc.keyVersion, doc.key_version),
  keyMaterial: firstPresent(doc.keyMaterial, doc.key_material),
  keyFingerprint: firstPresent(doc.keyFingerprint, doc.key_fingerprint),
  status: doc.status,
  reason: doc.reason === 'none' ? undefined : doc.reason,
  clientId: firstPresent(doc.clientId, doc.client_id),
  sourceAddress: firstPresent(doc.sourceAddress, doc.source_address),
  userAgent: firstPresent(doc.userAgent, doc.user_agent),
  method: doc.method,
  route: doc.route,
  gateway: doc.gateway,
  latencyMs: firstPresent(doc.latencyMs, doc.latency_ms),
})
