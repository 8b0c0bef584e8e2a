// `keyshift healthcheck`: the container's liveness probe. Asks /healthz of the
// daemon this configuration describes (http.host/http.port, environment
// overrides included), so the probe follows the configured port. Exit 0 healthy,
// 1 unhealthy or unreachable, 2 bad configuration.
import type { Command } from 'commander'
import { localBaseUrl } from '../shared/local-url.ts'
import { configFrom, withConfigOption } from './common.ts'

/** The address a local probe dials: wildcard listen addresses are reached on loopback. */
export function probeUrl(host: string, port: number): string {
  return `${localBaseUrl(host, port)}/healthz`
}

export function registerHealthcheckCommand(program: Command): void {
  withConfigOption(program.command('healthcheck'))
    .description("probe the configured daemon's /healthz (exit 0 healthy, 1 not); for container healthchecks")
    .option('--timeout <ms>', 'give up after this many milliseconds', '4000')
    .action(async (opts: { config?: string; timeout: string }) => {
      const cfg = configFrom(opts)
      const url = probeUrl(cfg.http.host, cfg.http.port)
      try {
        const res = await fetch(url, { signal: AbortSignal.timeout(Number(opts.timeout) || 4000) })
        if (res.ok) return
        process.stderr.write(`keyshift healthcheck: ${url} answered ${res.status}\n`)
      } catch (err) {
        const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name
        process.stderr.write(`keyshift healthcheck: ${url} unreachable (${cause})\n`)
      }
      process.exitCode = 1
    })
}
