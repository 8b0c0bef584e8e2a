// Every `keyshift` command and the module that registers it. main.ts loads only
// the module of the command being run.
import type { Command } from 'commander'

export type Register = (program: Command) => void

/** Every command, in help order, with the module that registers it. */
export const COMMANDS: readonly { name: string; load: () => Promise<Register> }[] = [
  { name: 'run', load: async () => (await import('./run.ts')).registerRunCommand },
  { name: 'migrate', load: async () => (await import('./migrate.ts')).registerMigrateCommand },
  { name: 'replay', load: async () => (await import('./replay.ts')).registerReplayCommand },
  { name: 'config', load: async () => (await import('./config-check.ts')).registerConfigCommand },
  { name: 'key', load: async () => (await import('./key.ts')).registerKeyCommand },
  { name: 'gate', load: async () => (await import('./gate.ts')).registerGateCommand },
  { name: 'status', load: async () => (await import('./status.ts')).registerStatusCommand },
  { name: 'simulate', load: async () => (await import('./simulate.ts')).registerSimulateCommand },
  { name: 'demo', load: async () => (await import('./demo.ts')).registerDemoCommand },
  { name: 'silence', load: async () => (await import('./silence.ts')).registerSilenceCommand },
  { name: 'notify', load: async () => (await import('./notify.ts')).registerNotifyCommand },
  { name: 'detect', load: async () => (await import('./detect-command.ts')).registerDetectCommand },
  { name: 'healthcheck', load: async () => (await import('./healthcheck.ts')).registerHealthcheckCommand },
  { name: 'incident', load: async () => (await import('./incident.ts')).registerIncidentCommand },
  { name: 'decode', load: async () => (await import('./decode.ts')).registerDecodeCommand },
]

/** Root options come first (`enablePositionalOptions`): the command is the first non-option word. */
export function commandsToLoad(args: readonly string[]): readonly string[] {
  const word = args.find((a) => !a.startsWith('-'))
  const known = COMMANDS.find((c) => c.name === word)
  if (known) return [known.name]
  // `keyshift --version` needs none; help, no command or a mistyped one lists them all.
  if (word === undefined && args.length > 0 && args.every((a) => a === '-V' || a === '--version')) return []
  return COMMANDS.map((c) => c.name)
}
