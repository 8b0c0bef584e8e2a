import { join } from 'node:path'
import { type App, createApp } from '../../src/app.ts'
import { parseConfig } from '../../src/config/load.ts'
import { silentLogger } from '../../src/telemetry/logger.ts'

/**
 * keyshift on the embedded store in `dir`/data, no HTTP, silent, with a pepper
 * fixed per instance (so a reopened store fingerprints keys as before).
 */
export function openEmbeddedApp(instance: string, dir: string): Promise<App> {
  return createApp(
    parseConfig({
      instance,
      data_dir: join(dir, 'data'),
      log: { level: 'silent' },
      http: { enabled: false },
      secrets: { pepper: `${instance}-test-pepper-0123456789` },
    }),
    { logger: silentLogger() },
  )
}
