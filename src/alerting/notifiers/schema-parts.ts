// Building blocks shared by the receiver config schemas: strict objects whose
// unknown-key message lists the accepted fields, URLs kept as Secrets, and
// timeouts in milliseconds. Messages never echo the value (it may be a secret).
import { z } from 'zod'
import { Secret } from '../../config/secret.ts'
import { isLoopbackAddress } from '../../shared/loopback.ts'

/** A strict object for one receiver type: unknown keys are rejected with the list of accepted ones. */
export function receiverObject<S extends z.ZodRawShape>(type: string, shape: S) {
  const accepted = Object.keys(shape).join(', ')
  const article = /^[aeiou]/.test(type) ? 'an' : 'a'
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}: remove them; ${article} ${type} receiver accepts ${accepted}`
        : undefined,
  })
}

/**
 * A loopback address literal (any spelling, IPv4-mapped included) or the name
 * `localhost`, which RFC 6761 reserves for loopback. Config is checked
 * synchronously, so other names are not resolved here and are not loopback.
 */
export function isLoopbackHost(hostname: string): boolean {
  return hostname.trim().toLowerCase() === 'localhost' || isLoopbackAddress(hostname)
}

function parseUrl(v: string): URL | undefined {
  try {
    return new URL(v)
  } catch {
    return undefined
  }
}

/**
 * An http(s) URL that may carry a token, kept as a Secret. With `httpsOnly`,
 * plain http is accepted only for loopback hosts (local test receivers).
 */
export function httpUrl(opts: { httpsOnly: boolean }) {
  return z
    .string({ error: 'must be a URL string' })
    .refine(
      (v) => {
        const u = parseUrl(v)
        return u !== undefined && (u.protocol === 'https:' || u.protocol === 'http:')
      },
      { error: 'must be an absolute http:// or https:// URL', abort: true },
    )
    .refine((v) => {
      const u = parseUrl(v)
      return !opts.httpsOnly || u === undefined || u.protocol === 'https:' || isLoopbackHost(u.hostname)
    }, 'must use https:// (plain http is accepted only for localhost test receivers)')
    .transform((v) => new Secret(v))
}

/** A per-attempt timeout in milliseconds. */
export function timeoutMs(dflt: number) {
  return z
    .number({ error: 'must be a number of milliseconds' })
    .int('must be a whole number of milliseconds')
    .min(50, 'must be at least 50 ms')
    .max(300_000, 'must be at most 300000 ms (5 minutes)')
    .default(dflt)
}

/** A plain (non-secret) http(s) link, e.g. a dashboard; javascript: and friends are refused. */
export const linkUrl = z.string().refine((v) => {
  const u = parseUrl(v)
  return u !== undefined && (u.protocol === 'https:' || u.protocol === 'http:')
}, 'must be an absolute http:// or https:// URL')
