// Keeps secrets out of configuration messages and printouts: which fields are
// secrets is read from the schema (fields whose value becomes a `Secret`), and
// URLs lose their userinfo and credential-like query values wherever printed.
import type { z } from 'zod'
import { Secret } from './secret.ts'

const REDACTED = '[redacted]'
/** Query parameter names whose values are credentials (ClickHouse takes `?password=`). */
const CREDENTIAL_PARAM = /pass|secret|token|key|auth|sig/i

/** `url` without userinfo or credential query values; non-URLs unchanged. */
export function redactUrl(url: string): string {
  let u: URL
  try {
    u = new URL(url)
  } catch {
    return url
  }
  const hasUserinfo = u.username !== '' || u.password !== ''
  const params = [...u.searchParams.keys()].filter((k) => CREDENTIAL_PARAM.test(k))
  if (!hasUserinfo && params.length === 0) return url
  for (const k of params) u.searchParams.set(k, REDACTED)
  const search = u.search.replaceAll(encodeURIComponent(REDACTED), REDACTED)
  return `${u.protocol}//${hasUserinfo ? `${REDACTED}@` : ''}${u.host}${u.pathname}${search}${u.hash}`
}

/** A JSON printout of a parsed configuration: Secrets redact themselves, URLs are redacted here. */
export function printableConfig(config: unknown): string {
  return JSON.stringify(
    config,
    (_key, value) => (typeof value === 'string' && value.includes('://') ? redactUrl(value) : value),
    2,
  )
}

type Def = { type?: string; [k: string]: unknown }
const defOf = (s: unknown): Def | undefined => (s as { _zod?: { def?: Def } })?._zod?.def

/** True when `schema` turns its input into a `Secret` (the transform is tried on a probe). */
function makesSecret(schema: unknown): boolean {
  const def = defOf(schema)
  if (def?.type !== 'pipe') return false
  const out = defOf(def.out)
  if (out?.type !== 'transform' || typeof out.transform !== 'function') return false
  try {
    return (
      (out.transform as (v: string, ctx: unknown) => unknown)('probe', {
        issues: [],
        value: 'probe',
      }) instanceof Secret
    )
  } catch {
    return false
  }
}

/** The schemas a value at `key` below `schema` may be validated by (unions give several). */
function children(schema: unknown, key: string | number): unknown[] {
  const def = defOf(schema)
  if (!def) return []
  switch (def.type) {
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'catch':
    case 'nonoptional':
      return children(def.innerType, key)
    case 'pipe':
      return children(def.in, key)
    case 'object': {
      const shape = def.shape as Record<string, unknown>
      return typeof key === 'string' && key in shape ? [shape[key]] : []
    }
    case 'array':
      return typeof key === 'number' ? [def.element] : []
    case 'record':
      return [def.valueType]
    case 'union':
      return (def.options as unknown[]).flatMap((o) => children(o, key))
    default:
      return []
  }
}

function unwrap(schema: unknown): unknown[] {
  const def = defOf(schema)
  if (!def) return []
  if (
    ['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional'].includes(
      def.type ?? '',
    )
  )
    return [schema, ...unwrap(def.innerType)]
  if (def.type === 'union') return [schema, ...(def.options as unknown[]).flatMap(unwrap)]
  return [schema]
}

/** True when the field at `path` holds a secret, or a list or map of secrets. */
export function isSecretPath(schema: z.ZodType, path: readonly (string | number)[]): boolean {
  let nodes: unknown[] = [schema]
  for (const key of path) nodes = nodes.flatMap((n) => children(n, key))
  const leaves = nodes.flatMap(unwrap)
  return leaves.some(
    (n) =>
      makesSecret(n) ||
      (defOf(n)?.type === 'array' && unwrap(defOf(n)!.element).some(makesSecret)) ||
      (defOf(n)?.type === 'record' && unwrap(defOf(n)!.valueType).some(makesSecret)),
  )
}

/** Every string in `doc` that sits at a secret field of `schema`. */
export function secretValues(schema: z.ZodType, doc: unknown): string[] {
  const found: string[] = []
  const walk = (value: unknown, path: (string | number)[]) => {
    if (typeof value === 'string') {
      if (value !== '' && isSecretPath(schema, path)) found.push(value)
    } else if (Array.isArray(value)) {
      for (const [i, v] of value.entries()) walk(v, [...path, i])
    } else if (value && typeof value === 'object') {
      for (const [k, v] of Object.entries(value)) walk(v, [...path, k])
    }
  }
  walk(doc, [])
  return found
}

/** `text` with every occurrence of the given secrets replaced (longest first). */
export function redactValues(text: string, secrets: readonly string[]): string {
  let out = text
  for (const s of [...secrets].sort((a, b) => b.length - a.length)) out = out.split(s).join(REDACTED)
  return out
}
