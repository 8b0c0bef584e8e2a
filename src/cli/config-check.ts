// `keyshift config check <file>`: validate a configuration without starting anything.
import type { Command } from 'commander'
import { validateAlertingConfig } from '../alerting/config.ts'
import { loadConfig } from '../config/load.ts'
import { printableConfig } from '../config/redact.ts'

export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('inspect configuration')
  config
    .command('check')
    .argument('[file]', 'configuration file (YAML); default $KEYSHIFT_CONFIG')
    .option('--print', 'print the effective configuration (secrets and URL credentials redacted)')
    .description('validate a configuration file plus KEYSHIFT_* overrides, without starting anything')
    .action((file: string | undefined, opts: { print?: boolean }) => {
      const path = file ?? process.env.KEYSHIFT_CONFIG
      try {
        const cfg = loadConfig(path)
        // Cross-field rules the schema cannot express (routes naming unknown receivers).
        validateAlertingConfig(cfg.alerting)
        process.stdout.write(`configuration ${path ?? '(defaults + environment)'} is valid\n`)
        if (opts.print) process.stdout.write(`${printableConfig(cfg)}\n`)
      } catch (err) {
        process.stderr.write(`${(err as Error).message}\n`)
        process.exitCode = 1
      }
    })
}
