// The `keyshift` command line: one file per command, each calling the same
// modules as the daemon. Exit codes: 0 ok, 1 failure/not ready, 2 usage/unknown.
import { Command } from 'commander'
import { registerConfigCommand } from './config-check.ts'
import { registerDecodeCommand } from './decode.ts'
import { registerDemoCommand } from './demo.ts'
import { registerDetectCommand } from './detect-command.ts'
import { registerGateCommand } from './gate.ts'
import { registerKeyCommand } from './key.ts'
import { registerMigrateCommand } from './migrate.ts'
import { registerNotifyCommand } from './notify.ts'
import { registerReplayCommand } from './replay.ts'
import { registerRunCommand } from './run.ts'
import { registerSilenceCommand } from './silence.ts'
import { registerSimulateCommand } from './simulate.ts'
import { registerStatusCommand } from './status.ts'

const program = new Command()
program
  .name('keyshift')
  .description(
    'Makes API key rotation safe: traffic share per key version, stragglers, failure spikes, readiness gate.',
  )
  .version('0.1.0')
  .showHelpAfterError()
  // Root options go before the command, so `keyshift gate --version v1` means the key version.
  .enablePositionalOptions()

registerRunCommand(program)
registerMigrateCommand(program)
registerReplayCommand(program)
registerConfigCommand(program)
registerKeyCommand(program)
registerGateCommand(program)
registerStatusCommand(program)
registerSimulateCommand(program)
registerDemoCommand(program)
registerSilenceCommand(program)
registerNotifyCommand(program)
registerDetectCommand(program)
registerDecodeCommand(program)

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`keyshift: ${err.message}\n`)
  process.exitCode = process.exitCode || 2
})
