// The `keyshift` command line: one file per command, each calling the same
// modules as the daemon. Exit codes: 0 ok, 1 failure/not ready, 2 usage/unknown.
// Only the module of the command being run is loaded (a command's module pulls in
// the store engine, HTTP server, Kafka client...): `--version` and light commands
// such as `detect` start in a fraction of the time a full load takes.
import { Command, CommanderError } from 'commander'
import { PACKAGE_VERSION as version } from '../shared/package-version.ts'
import { COMMANDS, commandsToLoad } from './commands.ts'
import { scrubCommandInputs } from './scrub-input.ts'
import { handOverStdin } from './stdin-handover.ts'

// The embedded store must not see the real stdin (see stdin-handover.ts): when it
// would, this process only runs the CLI again and ends the way that run ends.
const handover = handOverStdin()
if (handover.role === 'parent') await handover.exited

const program = new Command()
program
  .name('keyshift')
  .description(
    'Makes API key rotation safe: traffic share per key version, stragglers, failure spikes, readiness gate.',
  )
  .version(version)
  .showHelpAfterError()
  // Root options go before the command, so `keyshift gate --version v1` means the key version.
  .enablePositionalOptions()
  // Usage errors throw instead of exiting 1, which is the gate's "not ready": they exit 2.
  .exitOverride()

const wanted = new Set(commandsToLoad(process.argv.slice(2)))
for (const register of await Promise.all(COMMANDS.filter((c) => wanted.has(c.name)).map((c) => c.load())))
  register(program)
// Every command's arguments and options are scrubbed before its action runs (the CLI edge).
scrubCommandInputs(program)

program.parseAsync(process.argv).catch((err: Error) => {
  if (err instanceof CommanderError) {
    // Commander has printed the usage error (or the help / version asked for).
    process.exitCode = err.exitCode === 0 ? 0 : 2
    return
  }
  process.stderr.write(`keyshift: ${err.message}\n`)
  process.exitCode = process.exitCode || 2
})
