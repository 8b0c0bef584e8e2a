// `keyshift migrate`: apply schema migrations and exit.
import type { Command } from 'commander'
import { createStoreClient, storeUnreachable } from '../store/clickhouse/client.ts'
import { migrate } from '../store/clickhouse/migrations.ts'
import { configFrom, withConfigOption } from './common.ts'

export function registerMigrateCommand(program: Command): void {
  withConfigOption(program.command('migrate'))
    .description('apply numbered schema migrations to the store (idempotent) and exit')
    .action(async (opts: { config?: string }) => {
      const cfg = configFrom(opts)
      const store = createStoreClient(cfg)
      try {
        const r = await migrate(store.client, store.database, {
          rawDays: cfg.clickhouse.retention_days,
          rollupDays: cfg.clickhouse.rollup_retention_days,
        }).catch((err) => {
          throw storeUnreachable(err, store)
        })
        for (const m of r.applied) process.stdout.write(`applied migration ${m.version}: ${m.name}\n`)
        process.stdout.write(
          `schema is at version ${r.current} (${store.mode} store, database ${store.database})\n`,
        )
      } finally {
        await store.close()
      }
    })
}
