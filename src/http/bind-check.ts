// An API without tokens is open to whoever can connect: it may only listen on
// loopback. The host is resolved (every address must be loopback), so a name
// like "127.evil.example" or one that also resolves to a public address fails.
import { ConfigError } from '../domain/errors.ts'
import { type HostLookup, resolvesToLoopback } from '../shared/loopback.ts'

export async function checkOpenApiBinding(opts: {
  host: string
  /** True when no read or admin token is configured. */
  open: boolean
  lookup?: HostLookup
}): Promise<void> {
  if (!opts.open || (await resolvesToLoopback(opts.host, opts.lookup))) return
  throw new ConfigError(
    `http.host: no read_tokens/admin_tokens are configured but http.host ${JSON.stringify(opts.host)} is not ` +
      'a loopback address (nor a name whose every address is loopback); ' +
      'configure tokens (KEYSHIFT_HTTP__ADMIN_TOKENS) or bind to 127.0.0.1',
  )
}
