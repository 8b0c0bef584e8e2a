// Keeps the embedded store away from fd 0. chDB runs inside this process and, for
// any INSERT with inline data, reads fd 0 as more insert data when it is not a
// terminal: it swallows up to 64 KiB of a piped log and refuses async inserts
// ("Processing async inserts with both inlined and external data ..."). No chDB
// setting turns that off, and Node cannot dup2, so when fd 0 is something the
// engine would read (a pipe, FIFO, socket or regular file) the CLI runs itself
// again: fd 0 on /dev/null, the original stdin handed over as fd 3 (read through
// `hostStdin()`), stdout/stderr shared. This process only relays signals and the
// exit status. If it is killed outright (SIGKILL), the child kills itself too, so
// `kill -9` of the pid an operator sees still stops keyshift at once.
import { spawn } from 'node:child_process'
import { fstatSync } from 'node:fs'
import { handedOverStdinFd, STDIN_FD_ENV } from '../shared/host-stdin.ts'

/** fd the original stdin is handed over on (0-2 are stdio, 3 is the first free one). */
const HANDOVER_FD = 3
const RELAYED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2']

/** True when the engine would read fd 0: anything but a terminal, /dev/null or a closed fd. */
export function stdinNeedsHandover(fd = 0): boolean {
  try {
    // Character devices are terminals (the engine leaves those alone) and
    // /dev/null (nothing to swallow); everything else holds data it would read.
    return !fstatSync(fd).isCharacterDevice()
  } catch {
    return false
  }
}

export type Handover = { role: 'parent'; exited: Promise<never> } | { role: 'direct' | 'child' }

/**
 * Called first thing by the CLI entry point. Returns `direct` when no handover is
 * needed, `child` in the re-executed process, or `parent` after spawning it (the
 * caller must then do nothing else: this process exits as the child does).
 */
export function handOverStdin(): Handover {
  if (handedOverStdinFd() !== undefined) {
    watchParent()
    return { role: 'child' }
  }
  if (!stdinNeedsHandover()) return { role: 'direct' }
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['ignore', 'inherit', 'inherit', 0, 'ipc'],
    env: { ...process.env, [STDIN_FD_ENV]: String(HANDOVER_FD) },
  })
  const relay = (signal: NodeJS.Signals) => () => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
  }
  for (const s of RELAYED_SIGNALS) process.on(s, relay(s))
  const exited = new Promise<never>(() => {
    child.on('error', (err) => {
      process.stderr.write(`keyshift: could not start: ${err.message}\n`)
      process.exit(2)
    })
    child.on('exit', (code, signal) => {
      if (signal) {
        // Die the way the child did, so callers see the same signal.
        for (const s of RELAYED_SIGNALS) process.removeAllListeners(s)
        process.kill(process.pid, signal)
        return
      }
      process.exit(code ?? 1)
    })
  })
  return { role: 'parent', exited }
}

/**
 * In the re-executed process: the IPC channel to the parent closes only when the
 * parent is gone without waiting for us, i.e. it was killed outright. Mirror that.
 */
function watchParent(): void {
  const channel = process.channel
  if (!channel) return
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'))
  // The channel must not keep a finished command alive.
  channel.unref()
}
