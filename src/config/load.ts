// Loads configuration: YAML file, then KEYSHIFT_* environment overrides, then
// strict validation and a deep freeze. Errors name the field and the fix.
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../domain/errors.ts'
import { DURATION_HINT, tryParseDuration } from '../shared/duration.ts'
import { type Config, configSchema } from './schema.ts'

const PREFIX = 'KEYSHIFT_'
/** Environment variables read by other tools (scripts, tests), not config overrides. */
const NON_CONFIG_ENV = new Set(['KEYSHIFT_CONFIG'])

/**
 * Applies `KEYSHIFT_SECTION__FIELD=value` overrides (double underscore between
 * levels; single underscores belong to field names). `…_FILE` reads the value
 * from a file, for secrets mounted by an orchestrator. Values are parsed as YAML
 * scalars, so `true`, `5000` and `[a, b]` work. Top-level fields: `KEYSHIFT_INSTANCE`.
 */
export function applyEnvOverrides(
  doc: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, unknown> {
  const out = structuredClone(doc)
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || raw === undefined || NON_CONFIG_ENV.has(name)) continue
    let rest = name.slice(PREFIX.length)
    const topLevel = !rest.includes('__')
    if (topLevel && !['INSTANCE', 'DATA_DIR', 'INSTANCE_FILE'].includes(rest)) continue
    let value: unknown
    if (rest.endsWith('_FILE')) {
      rest = rest.slice(0, -'_FILE'.length)
      try {
        value = readFileSync(raw, 'utf8').replace(/\r?\n$/, '')
      } catch (cause) {
        throw new ConfigError(`${name}: cannot read file ${raw}; point it at a readable file`, { cause })
      }
    } else {
      value = raw === '' ? '' : parseYaml(raw)
      // A number that does not read back as written (`00123`, long digit ids) stays a string.
      if (typeof value === 'number' && String(value) !== raw.trim()) value = raw
    }
    const path = rest.split('__').map((p) => p.toLowerCase())
    let node: Record<string, unknown> = out
    for (const [i, key] of path.entries()) {
      if (i === path.length - 1) {
        node[key] = value
      } else {
        const next = node[key]
        if (next === undefined) node[key] = {}
        else if (typeof next !== 'object' || next === null || Array.isArray(next)) {
          throw new ConfigError(`${name}: ${path.slice(0, i + 1).join('.')} is not a section`)
        }
        node = node[key] as Record<string, unknown>
      }
    }
  }
  return out
}

function formatIssues(error: z.ZodError, origin: string): string {
  const lines = error.issues.map((issue) => {
    const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)'
    let msg = issue.message
    if (issue.code === 'unrecognized_keys') {
      msg = `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}; remove them or check the spelling against the configuration reference`
    }
    return `  - ${field}: ${msg}`
  })
  return `invalid configuration (${origin}):\n${lines.join('\n')}`
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const v of Object.values(value)) deepFreeze(v)
  }
  return value
}

/**
 * Every field named `…_ms` also takes a duration in the one grammar keyshift reads
 * everywhere (`90s`, `15m`, `24h`, `7d`; src/shared/duration.ts), turned into
 * milliseconds before validation; a string outside the grammar names its field.
 */
export function durationFieldsToMs(doc: unknown, origin = 'config', path: string[] = []): unknown {
  if (Array.isArray(doc)) return doc.map((v, i) => durationFieldsToMs(v, origin, [...path, String(i)]))
  if (doc === null || typeof doc !== 'object') return doc
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(doc)) {
    if (key.endsWith('_ms') && typeof value === 'string') {
      const ms = tryParseDuration(value)
      if (ms === undefined) {
        const field = [...path, key].join('.')
        throw new ConfigError(
          `invalid configuration (${origin}):\n  - ${field}: "${value}" is not a duration; ${DURATION_HINT}, or a number of milliseconds`,
        )
      }
      out[key] = ms
    } else {
      out[key] = durationFieldsToMs(value, origin, [...path, key])
    }
  }
  return out
}

/** Validates a parsed document (file plus overrides); returns the frozen config. */
export function parseConfig(doc: unknown, origin = 'config'): Config {
  const result = configSchema.safeParse(durationFieldsToMs(doc ?? {}, origin))
  if (!result.success) throw new ConfigError(formatIssues(result.error, origin))
  return deepFreeze(result.data)
}

/** Reads `path` (optional) and the environment; validates strictly. */
export function loadConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Config {
  let doc: unknown = {}
  if (path) {
    let text: string
    try {
      text = readFileSync(path, 'utf8')
    } catch (cause) {
      throw new ConfigError(`cannot read config file ${path}; check the path or pass --config`, { cause })
    }
    try {
      doc = parseYaml(text) ?? {}
    } catch (cause) {
      throw new ConfigError(`config file ${path} is not valid YAML: ${(cause as Error).message}`, { cause })
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ConfigError(`config file ${path} must contain a mapping at the top level`)
    }
  }
  const merged = applyEnvOverrides(doc as Record<string, unknown>, env)
  return parseConfig(merged, path ? `${path} + environment` : 'environment')
}
