// `keyshift run`: the daemon. Stops cleanly on SIGINT/SIGTERM: sources stop,
// buffered records are stored, positions committed.
import type { Command } from 'commander'
import { createApp } from '../app.ts'
import { configFrom, withConfigOption } from './common.ts'

export function registerRunCommand(program: Command): void {
  withConfigOption(program.command('run'))
    .description('run the keyshift daemon: ingest, analyse, alert, serve HTTP')
    .action(async (opts: { config?: string }) => {
      const app = await createApp(configFrom(opts))
      let stopping = false
      const shutdown = async (signal: string) => {
        if (stopping) return
        stopping = true
        app.logger.info({ signal }, 'Shutting down: storing buffered events first.')
        // The pipeline gives a failing or hanging store 5 s; this bounds the rest
        // (alerting, HTTP, closing the store), so a stop never hangs. Anything not
        // stored is still pending in the store and rebuilt at the next start.
        setTimeout(() => {
          app.logger.error({ signal }, 'Shutdown did not finish within 9 s; exiting now.')
          process.exit(1)
        }, 9_000).unref()
        await app.stop()
        process.exit(0)
      }
      process.on('SIGINT', () => void shutdown('SIGINT'))
      process.on('SIGTERM', () => void shutdown('SIGTERM'))
      await app.start()
    })
}
