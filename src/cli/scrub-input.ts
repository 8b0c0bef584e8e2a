// The CLI edge of "no raw secret is stored, logged, echoed or sent": one
// preAction hook scrubs every argument and option value of the command about to
// run, with the same scrubber and pepper as gateway logs, before the command
// sees them. Values that are only consumed (a config path, a URL, a token used
// to authenticate, an output file) are left as given.
import { randomBytes } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { createFingerprinter, type Fingerprinter } from '../ingest/secrets/fingerprint.ts'
import { createInputScrubber } from '../ingest/secrets/input-scrubber.ts'

/** Option attribute names and argument names whose values are used, never stored or printed. */
export const CONSUMED_CLI_VALUES: ReadonlySet<string> = new Set([
  'config',
  'url',
  'token',
  'out',
  'dataDir',
  'file',
])

export function scrubCommandInputs(program: Command): void {
  program.hook('preAction', async (_root, cmd) => {
    const opts = cmd.opts()
    // With --url the values go to a running keyshift, whose API edge scrubs them
    // with the shared pepper; a local pepper would fingerprint them differently.
    if (typeof opts.url === 'string' && opts.url !== '') return
    const scrub = createInputScrubber(await fingerprinterFor(cmd))
    for (const [name, value] of Object.entries(opts)) {
      if (!CONSUMED_CLI_VALUES.has(name)) cmd.setOptionValue(name, scrub(value))
    }
    cmd.registeredArguments.forEach((arg, i) => {
      if (!CONSUMED_CLI_VALUES.has(arg.name()) && i < cmd.processedArgs.length) {
        cmd.processedArgs[i] = scrub(cmd.processedArgs[i])
      }
    })
  })
}

/**
 * The app's pepper when the command reads a configuration and that pepper already
 * exists (configured, or the embedded store's pepper file), so stored values carry
 * the daemon's fingerprints. Otherwise a random one: a key in an argument is still
 * never kept, its fingerprint just cannot be matched. The pepper is only read
 * here, never created: read commands refuse to invent a store, and so must this.
 */
async function fingerprinterFor(cmd: Command): Promise<Fingerprinter> {
  if (cmd.options.some((o) => o.attributeName() === 'config')) {
    try {
      // Loaded lazily: main.ts loads only the module of the command being run.
      const { configFrom } = await import('./common.ts')
      const pepper = existingPepper(configFrom(cmd.opts()))
      if (pepper !== undefined) return createFingerprinter(pepper)
    } catch {
      // fall through: a command whose configuration is invalid reports it itself and stores nothing
    }
  }
  return createFingerprinter(randomBytes(32).toString('hex'))
}

/** The pepper `resolvePepper` (app.ts) would use, without creating one. */
export function existingPepper(config: {
  secrets: { pepper?: { reveal(): string } | undefined }
  clickhouse: { url?: string | undefined }
  data_dir: string
}): string | undefined {
  const configured = config.secrets.pepper?.reveal()
  if (configured) return configured
  if (config.clickhouse.url) return undefined
  const file = join(resolve(config.data_dir), 'pepper')
  return existsSync(file) ? readFileSync(file, 'utf8').trim() : undefined
}
