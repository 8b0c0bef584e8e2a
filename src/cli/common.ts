// Shared CLI plumbing: --config handling and one-shot app lifecycles.
import type { Command } from 'commander'
import { loadConfig } from '../config/load.ts'
import type { Config } from '../config/schema.ts'

export function withConfigOption(cmd: Command): Command {
  return cmd.option(
    '-c, --config <file>',
    'configuration file (YAML); default $KEYSHIFT_CONFIG or built-in defaults',
  )
}

export function configFrom(opts: { config?: string }): Config {
  return loadConfig(opts.config ?? process.env.KEYSHIFT_CONFIG)
}

/** Same config with ingestion sources and HTTP switched off, for one-shot commands. */
export function offlineConfig(cfg: Config): Config {
  return { ...cfg, sources: [], http: { ...cfg.http, enabled: false }, kafka: { ...cfg.kafka, brokers: [] } }
}
