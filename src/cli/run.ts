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
        await app.stop()
        process.exit(0)
      }
      process.on('SIGINT', () => void shutdown('SIGINT'))
      process.on('SIGTERM', () => void shutdown('SIGTERM'))
      await app.start()
    })
}
