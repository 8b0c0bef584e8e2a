// Runs the conformance fixtures through the real decoders and renders what they
// became as the markdown table of docs/gateways/README.md. Test support only (the
// registry is test-kit's, plus one Kong credential id registered as a version).

import type { AuthEvent } from '../../../domain/auth-event.ts'
import { createDecoder, type DecodedRecord, type Decoder } from '../decoder.ts'
import { fp, NOW, resolveFingerprint } from '../test-kit.ts'
import { CONFORMANCE_FIXTURES, type ConformanceFixture, KONG_CREDENTIAL_V2 } from './fixtures.ts'

const FP_CREDENTIAL_V2 = fp(KONG_CREDENTIAL_V2)

/** test-kit's registry, plus a Kong credential id registered as acme-payments v2. */
export const conformanceResolver = (f: string) =>
  f === FP_CREDENTIAL_V2 ? { keyId: 'acme-payments', version: 'v2' } : resolveFingerprint(f)

const decoders = new Map<ConformanceFixture, Decoder>()

export function decoderOf(f: ConformanceFixture): Decoder {
  let d = decoders.get(f)
  if (d === undefined) {
    d = createDecoder({
      preset: f.preset,
      mapping: f.mapping,
      fingerprint: fp,
      resolveFingerprint: conformanceResolver,
      defaultGateway: `${f.preset}-gw`,
    })
    decoders.set(f, d)
  }
  return d
}

export function recordBytes(record: unknown): Buffer {
  return Buffer.from(typeof record === 'string' ? record : JSON.stringify(record), 'utf8')
}

export function runFixture(f: ConformanceFixture, record: unknown = f.record): DecodedRecord {
  return decoderOf(f).decodeAll(recordBytes(record), { now: NOW, fallbackEventId: 'fixture:0:0' })
}

/** Canonical fields a fixture filled: anything not at its "unknown" value. */
export function filledFields(e: AuthEvent, defaultGateway: string): string[] {
  const out: string[] = []
  if (!e.eventId.startsWith('fixture:')) out.push('eventId')
  out.push('time')
  if (e.keyId !== 'unknown') out.push('keyId')
  if (e.keyVersion !== 'unknown') out.push('keyVersion')
  if (e.keyFingerprint !== '') out.push('keyFingerprint')
  if (e.status !== 0) out.push('status')
  if (e.reason !== 'none') out.push('reason')
  for (const k of ['clientId', 'sourceAddress', 'userAgent', 'method', 'route'] as const)
    if (e[k] !== '') out.push(k)
  if (e.gateway !== defaultGateway) out.push('gateway')
  if (e.latencyMs !== 0) out.push('latencyMs')
  return out
}

/** The conformance table: per preset totals, then one row per fixture. */
export function conformanceTable(): string {
  const presets = [...new Set(CONFORMANCE_FIXTURES.map((f) => f.preset))]
  const lines: string[] = []
  lines.push('| preset | fixtures | events stored | dead-lettered | skipped (`not_auth_traffic`) |')
  lines.push('|---|---:|---:|---:|---:|')
  const rows: string[] = []
  for (const p of presets) {
    let events = 0
    let dead = 0
    let skipped = 0
    const fixtures = CONFORMANCE_FIXTURES.filter((f) => f.preset === p)
    for (const f of fixtures) {
      const r = runFixture(f)
      events += r.events.length
      skipped += r.skipped
      if (r.rejected !== undefined) dead++
      const outcome =
        r.rejected !== undefined
          ? `dead-lettered: ${r.rejected.reason}`
          : r.events.length === 0
            ? 'skipped'
            : r.events.map((e) => `${e.outcome} via \`${e.identitySource}\``).join('; ')
      const fields =
        r.events.length === 0
          ? '—'
          : [...new Set(r.events.flatMap((e) => filledFields(e, `${p}-gw`)))].join(', ')
      rows.push(`| ${p} | ${f.name} | ${outcome} | ${fields} |`)
    }
    lines.push(`| ${p} | ${fixtures.length} | ${events} | ${dead} | ${skipped} |`)
  }
  lines.push('')
  lines.push('| preset | shape | result | canonical fields filled |')
  lines.push('|---|---|---|---|')
  lines.push(...rows)
  return lines.join('\n')
}
