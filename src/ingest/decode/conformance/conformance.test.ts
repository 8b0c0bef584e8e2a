import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { AuthEvent } from '../../../domain/auth-event.ts'
import { PRESET_NAMES } from '../decoder.ts'
import { fp } from '../test-kit.ts'
import {
  CONFORMANCE_FIXTURES,
  type ConformanceFixture,
  KONG_CREDENTIAL_V1,
  KONG_CREDENTIAL_V2,
} from './fixtures.ts'
import { conformanceTable, runFixture } from './run.ts'

describe('gateway conformance fixtures', () => {
  it('cover every preset and the mapping', () => {
    expect(new Set(CONFORMANCE_FIXTURES.map((f) => f.preset))).toEqual(new Set([...PRESET_NAMES, 'mapping']))
  })

  for (const f of CONFORMANCE_FIXTURES) {
    it(`${f.preset}: ${f.name}`, () => {
      const r = runFixture(f)
      expect(r.rejected?.reason).toBe(f.expect.rejected)
      expect(r.skipped).toBe(f.expect.skipped ?? 0)
      const want = f.expect.events ?? []
      expect(r.events).toHaveLength(want.length)
      for (const [i, w] of want.entries()) expect(r.events[i]).toMatchObject(w)
      // No raw key survives into an event.
      expect(JSON.stringify(r.events)).not.toMatch(/sk_live_/)
    })
  }

  it('kong: one consumer’s two credentials stay apart under hide_credentials', () => {
    const hidden = CONFORMANCE_FIXTURES.filter((f) => f.name.startsWith('hide_credentials'))
    expect(hidden.map((f) => runFixture(f).events[0]!.keyFingerprint)).toEqual([
      fp(KONG_CREDENTIAL_V2),
      fp(KONG_CREDENTIAL_V1),
    ])
  })
})

// ---------------------------------------------------------------------------
// Never keep failures while dropping successes.
// ---------------------------------------------------------------------------

/** Where each preset reads the status and the gateway's reason, to flip a record's outcome. */
const STATUS_PATHS: Record<string, string[][]> = {
  kong: [['response', 'status']],
  envoy: [['response_code'], ['status']],
  nginx: [['status']],
  'aws-apigateway': [['status'], ['context', 'status']],
  tyk: [['response_code'], ['tyk-analytics-record', 'response_code'], ['analytics', 'response_code']],
  traefik: [['DownstreamStatus']],
  canonical: [['status']],
  mapping: [['res', 'code']],
}
const REASON_PATHS: Record<string, string[][]> = {
  envoy: [['response_code_details'], ['response_flags']],
  nginx: [['auth_reason'], ['auth_error']],
  'aws-apigateway': [
    ['responseType'],
    ['errorResponseType'],
    ['errorMessage'],
    ['authorizerError'],
    ['context', 'error'],
    ['context', 'authorizer', 'error'],
  ],
  canonical: [['reason']],
}

type Json = Record<string, unknown>

function setStatus(doc: Json, preset: string, status: number): Json {
  const out = structuredClone(doc)
  const paths = STATUS_PATHS[preset]!
  const at =
    paths.find((p) => get(out, p.slice(0, -1)) !== undefined && get(out, p) !== undefined) ?? paths[0]!
  const parent = get(out, at.slice(0, -1)) as Json | undefined
  const target = parent ?? (out as Json)
  const old = get(out, at)
  target[at.at(-1)!] = typeof old === 'string' ? String(status) : status
  for (const p of REASON_PATHS[preset] ?? []) {
    const holder = get(out, p.slice(0, -1)) as Json | undefined
    if (holder !== undefined && typeof holder === 'object') delete holder[p.at(-1)!]
  }
  return out
}

function get(doc: unknown, path: string[]): unknown {
  let cur = doc
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return undefined
    cur = (cur as Json)[k]
  }
  return cur
}

function flipped(f: ConformanceFixture, status: number): unknown {
  const r = f.record
  if (Array.isArray(r)) return r.map((d) => setStatus(d as Json, f.preset, status))
  return setStatus(r as Json, f.preset, status)
}

/** What happened to one request: kept under an identity, skipped, or dead-lettered. */
function decisions(f: ConformanceFixture, status: number): string[] {
  const r = runFixture(f, flipped(f, status))
  const out = r.events.map((e: AuthEvent) =>
    JSON.stringify({
      kept: e.identitySource,
      keyId: e.keyId,
      keyVersion: e.keyVersion,
      keyFingerprint: e.keyFingerprint,
      clientId: e.clientId,
    }),
  )
  for (let i = 0; i < r.skipped; i++) out.push('skipped')
  if (r.rejected !== undefined) out.push(`dead:${r.rejected.reason}`)
  return out.sort()
}

describe('never keep failures while dropping successes', () => {
  for (const f of CONFORMANCE_FIXTURES) {
    it(`${f.preset}: ${f.name} — success (200) and failure (401) decided alike`, () => {
      const success = decisions(f, 200)
      const failure = decisions(f, 401)
      // A request with an identity is kept under that identity either way; a
      // dead-letter reason never depends on the outcome. Only a request with no
      // identity at all differs: skipped as routing noise when it succeeds, kept
      // when rejected (missing_credential), attributed to nobody (key unknown,
      // no client), so no client's failure rate can be skewed by it.
      const nobody = JSON.stringify({
        kept: 'none',
        keyId: 'unknown',
        keyVersion: 'unknown',
        keyFingerprint: '',
        clientId: '',
      })
      expect(failure).toEqual(success.map((d) => (d === 'skipped' ? nobody : d)).sort())
      expect(failure.every((d) => d !== 'skipped')).toBe(true)
    })
  }
})

describe('docs/gateways/README.md', () => {
  it('links a setup guide for every gateway preset, and each guide exists', () => {
    const readme = readFileSync(new URL('../../../../docs/gateways/README.md', import.meta.url), 'utf8')
    for (const p of PRESET_NAMES.filter((n) => n !== 'canonical')) {
      expect(readme).toContain(`| \`${p}\` | [${p}.md](${p}.md) |`)
      const guide = readFileSync(new URL(`../../../../docs/gateways/${p}.md`, import.meta.url), 'utf8')
      expect(guide).toContain(`Preset: \`${p}\``)
      expect(guide).toContain(`keyshift decode --preset ${p}`)
    }
  })

  it('holds the current conformance table (regenerate: node --import tsx scripts/gateway-conformance.ts)', () => {
    const readme = readFileSync(new URL('../../../../docs/gateways/README.md', import.meta.url), 'utf8')
    expect(readme).toContain(conformanceTable())
  })
})
