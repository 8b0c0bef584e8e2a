// Loads configuration: YAML file, then KEYSHIFT_* environment overrides, then
// strict validation and a deep freeze. Errors name the field (and the variable
// that set it) and the fix; they never quote a secret or a line of the file.
import { readFileSync } from 'node:fs'
import { parse as parseYaml } from 'yaml'
import type { z } from 'zod'
import { ConfigError } from '../domain/errors.ts'
import { DURATION_HINT, tryParseDuration } from '../shared/duration.ts'
import { isSecretPath, redactValues, secretValues } from './redact.ts'
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
  /** Filled with the variable that set each field (`secrets.pepper` → `KEYSHIFT_SECRETS__PEPPER`). */
  origins: Map<string, string> = new Map(),
): Record<string, unknown> {
  const out = structuredClone(doc)
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(PREFIX) || raw === undefined || NON_CONFIG_ENV.has(name)) continue
    let rest = name.slice(PREFIX.length)
    const topLevel = !rest.includes('__')
    if (topLevel && !['INSTANCE', 'DATA_DIR', 'INSTANCE_FILE'].includes(rest)) continue
    const fromFile = rest.endsWith('_FILE')
    if (fromFile) rest = rest.slice(0, -'_FILE'.length)
    const path = rest.split('__').map((p) => p.toLowerCase())
    origins.set(path.join('.'), name)
    let value: unknown
    if (fromFile) {
      try {
        value = readFileSync(raw, 'utf8').replace(/\r?\n$/, '')
      } catch (cause) {
        throw new ConfigError(`${name}: cannot read file ${raw}; point it at a readable file`, { cause })
      }
    } else if (isSecretLeaf(path)) {
      // A single secret is taken as written: YAML would turn `0123` or `[abc` into something else.
      value = raw
    } else {
      try {
        value = raw === '' ? '' : parseYaml(raw)
      } catch (cause) {
        // The value is not quoted: it may be a secret (a list of tokens).
        // No `cause`: the parser's error quotes the value in a code frame.
        throw new ConfigError(
          `${name}: not a valid YAML value (${yamlReason(cause)}); quote it, or write a list as [a, b]`,
        )
      }
      // A number that does not read back as written (`00123`, long digit ids) stays a string.
      if (typeof value === 'number' && String(value) !== raw.trim()) value = raw
    }
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

/** True when the field at `path` is one secret (not a list of them). */
function isSecretLeaf(path: string[]): boolean {
  return isSecretPath(configSchema, path) && !isSecretPath(configSchema, [...path, 0])
}

/**
 * The reason of a YAML syntax error without its position or code frame: the
 * frame quotes the offending line, which may hold a token.
 */
function yamlReason(err: unknown): string {
  const first = String((err as Error)?.message ?? err).split('\n', 1)[0]!
  return first.split(' at line ', 1)[0]!.split(': ', 1)[0]!.trim()
}

/** The variable that set `path` or one of its parents, if any. */
function variableFor(path: readonly PropertyKey[], origins: ReadonlyMap<string, string>): string | undefined {
  for (let n = path.length; n > 0; n--) {
    const name = origins.get(path.slice(0, n).map(String).join('.'))
    if (name) return name
  }
  return undefined
}

function formatIssues(error: z.ZodError, origin: string, origins: ReadonlyMap<string, string>): string {
  const lines = error.issues.map((issue) => {
    const variable = variableFor(issue.path, origins)
    const field =
      (issue.path.length > 0 ? issue.path.join('.') : '(top level)') + (variable ? ` (${variable})` : '')
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
export function durationFieldsToMs(
  doc: unknown,
  origin = 'config',
  path: string[] = [],
  origins: ReadonlyMap<string, string> = new Map(),
): unknown {
  if (Array.isArray(doc))
    return doc.map((v, i) => durationFieldsToMs(v, origin, [...path, String(i)], origins))
  if (doc === null || typeof doc !== 'object') return doc
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(doc)) {
    if (key.endsWith('_ms') && typeof value === 'string') {
      const ms = tryParseDuration(value)
      if (ms === undefined) {
        const variable = variableFor([...path, key], origins)
        const field = [...path, key].join('.') + (variable ? ` (${variable})` : '')
        throw new ConfigError(
          `invalid configuration (${origin}):\n  - ${field}: "${value}" is not a duration; ${DURATION_HINT}, or a number of milliseconds`,
        )
      }
      out[key] = ms
    } else {
      out[key] = durationFieldsToMs(value, origin, [...path, key], origins)
    }
  }
  return out
}

/** Validates a parsed document (file plus overrides); returns the frozen config. */
export function parseConfig(
  doc: unknown,
  origin = 'config',
  origins: ReadonlyMap<string, string> = new Map(),
): Config {
  const result = configSchema.safeParse(durationFieldsToMs(doc ?? {}, origin, [], origins))
  if (!result.success) {
    // Messages name fields, not values; any secret a message might still quote is cut out.
    const text = formatIssues(result.error, origin, origins)
    throw new ConfigError(redactValues(text, secretValues(configSchema, doc)))
  }
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
      const at = (cause as { linePos?: { line: number; col: number }[] }).linePos?.[0]
      throw new ConfigError(
        `config file ${path} is not valid YAML${at ? ` at line ${at.line}, column ${at.col}` : ''}: ${yamlReason(cause)}`,
      )
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) {
      throw new ConfigError(`config file ${path} must contain a mapping at the top level`)
    }
  }
  const origins = new Map<string, string>()
  const merged = applyEnvOverrides(doc as Record<string, unknown>, env, origins)
  return parseConfig(merged, path ? `${path} + environment` : 'environment', origins)
}
