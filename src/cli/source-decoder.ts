// Which decoder a one-shot command (`replay`, `decode`) uses: the `--preset` it
// was given, with the settings of the configuration's source that uses that preset
// (its mapping, secret_fields, limits), so `--preset mapping -c keyshift.yaml`
// finds the mapping where the daemon would. Errors name the field and the fix.
import { type Config, type DecoderConfig, decoderSchema } from '../config/schema.ts'
import { ConfigError } from '../domain/errors.ts'
import { PRESET_NAMES } from '../ingest/decode/decoder.ts'
import { formatIssues } from '../ingest/decode/mapping.ts'

export const PRESET_CHOICES = [...PRESET_NAMES, 'mapping'].join(', ')

export function decoderForPreset(config: Config, preset: string, gateway: string | undefined): DecoderConfig {
  const configured = config.sources.find((s) => s.decoder.preset === preset)?.decoder
  if (configured !== undefined) {
    return gateway === undefined ? configured : { ...configured, default_gateway: gateway }
  }
  const r = decoderSchema.safeParse({ preset, default_gateway: gateway })
  if (r.success) return r.data
  if (preset === 'mapping') {
    throw new ConfigError(
      '--preset mapping needs a field mapping: pass -c <config file> with a source whose ' +
        'decoder is { preset: mapping, mapping: { fields: … } } (see docs/gateways/README.md)',
    )
  }
  throw new ConfigError(`--preset: ${formatIssues('', r.error)}; use one of ${PRESET_CHOICES}`)
}
