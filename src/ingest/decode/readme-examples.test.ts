// The "Preset examples" of docs/gateway-logs.md are documentation a user copies: each input line,
// decoded with the pepper and registry the section names, must give exactly the
// canonical event printed under it.
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { createFingerprinter } from '../secrets/fingerprint.ts'
import { createDecoder, type PresetName } from './decoder.ts'
import { fieldMappingSchema } from './mapping.ts'

const DOC = readFileSync(new URL('../../../docs/gateway-logs.md', import.meta.url), 'utf8')
const section = DOC.slice(DOC.indexOf('## Preset examples'))

const fp = createFingerprinter(/`(example-pepper-[^`]+)`/.exec(section)![1]!)
const registry = new Map<string, { keyId: string; version: string }>()
for (const m of section.matchAll(/`(ks_live_\w+)` is (\S+) `(v\d+)`/g)) {
  registry.set(fp(m[1]!), { keyId: m[2]!, version: m[3]! })
}

interface Example {
  preset: string
  defaultGateway: string
  mapping?: unknown
  input: string
  output: string
}

function examples(): Example[] {
  const out: Example[] = []
  const parts = section.split(/^\*\*([a-z-]+)\*\* /m)
  for (let i = 1; i < parts.length; i += 2) {
    const preset = parts[i]!
    const body = parts[i + 1]!
    const json = [...body.matchAll(/```json\n(.*)\n```/g)].map((m) => m[1]!)
    const yaml = /```yaml\n([\s\S]*?)\n```/.exec(body)?.[1]
    const gw = /`default_gateway: ([^`]+)`/.exec(body.split('\n')[0]!)?.[1]
    out.push({
      preset,
      defaultGateway: gw ?? preset,
      mapping: yaml === undefined ? undefined : parseYaml(yaml).decoder.mapping,
      input: json[0]!,
      output: json[1]!,
    })
  }
  return out
}

describe('docs/gateway-logs.md preset examples', () => {
  const all = examples()

  it('show every preset with an input and its canonical event', () => {
    expect(all.map((e) => e.preset)).toEqual([
      'kong',
      'envoy',
      'nginx',
      'aws-apigateway',
      'tyk',
      'traefik',
      'canonical',
      'mapping',
    ])
    expect(registry.size).toBe(2)
  })

  for (const e of all) {
    it(`${e.preset}: the input decodes to exactly the event shown`, () => {
      const decoder = createDecoder({
        preset: e.preset as PresetName | 'mapping',
        mapping: e.mapping === undefined ? undefined : fieldMappingSchema.parse(e.mapping),
        fingerprint: fp,
        resolveFingerprint: (f) => registry.get(f),
        defaultGateway: e.defaultGateway,
      })
      const r = decoder.decodeAll(Buffer.from(e.input), {
        now: Date.UTC(2026, 0, 1),
        fallbackEventId: 'kafka:auth-events:3:1042',
      })
      expect(r.rejected).toBeUndefined()
      expect(r.events).toHaveLength(1)
      expect(r.events[0]).toEqual(JSON.parse(e.output))
    })
  }
})
