import { describe, expect, it } from 'vitest'
import { parseConfig } from '../config/load.ts'
import { ConfigError } from '../domain/errors.ts'
import { decoderForPreset } from './source-decoder.ts'

const MAPPING = {
  fields: { time: 'ts', key_material: 'request.url?api_key', status: 'res.code' },
}

const withSources = parseConfig({
  sources: [
    { type: 'stdin', decoder: { preset: 'kong', default_gateway: 'kong-eu', max_record_bytes: 4096 } },
    { type: 'file', path: '/var/log/app.log', decoder: { preset: 'mapping', mapping: MAPPING } },
  ],
})

describe('decoderForPreset', () => {
  it("takes the mapping from the configuration's source that uses the mapping preset", () => {
    const d = decoderForPreset(withSources, 'mapping', undefined)
    expect(d.preset).toBe('mapping')
    expect(d.mapping?.fields).toEqual(MAPPING.fields)
    expect(d.mapping?.time_format).toBe('auto')
  })

  it("keeps a configured source's settings and lets --gateway override its default gateway", () => {
    expect(decoderForPreset(withSources, 'kong', undefined)).toMatchObject({
      preset: 'kong',
      default_gateway: 'kong-eu',
      max_record_bytes: 4096,
    })
    expect(decoderForPreset(withSources, 'kong', 'kong-us')).toMatchObject({
      default_gateway: 'kong-us',
      max_record_bytes: 4096,
    })
  })

  it('uses the defaults for a preset no source uses', () => {
    expect(decoderForPreset(withSources, 'envoy', 'edge-1')).toEqual({
      preset: 'envoy',
      default_gateway: 'edge-1',
      secret_fields: [],
      max_record_bytes: 65_536,
      max_future_skew_ms: 300_000,
    })
  })

  it('says where a mapping comes from when none is configured, not zod JSON', () => {
    const call = () => decoderForPreset(parseConfig({}), 'mapping', undefined)
    expect(call).toThrow(ConfigError)
    expect(call).toThrow(
      '--preset mapping needs a field mapping: pass -c <config file> with a source whose ' +
        'decoder is { preset: mapping, mapping: { fields: … } } (see docs/gateways/README.md)',
    )
  })

  it('names the presets when given an unknown one', () => {
    expect(() => decoderForPreset(parseConfig({}), 'kongg', undefined)).toThrow(
      /^--preset: .*; use one of kong, envoy, nginx, aws-apigateway, tyk, traefik, canonical, mapping$/,
    )
  })
})
