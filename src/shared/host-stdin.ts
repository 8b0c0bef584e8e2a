// The process's real standard input. The embedded store (chDB, in-process)
// treats fd 0 as extra data for any INSERT that carries inline data: it peeks at
// it (a 64 KiB read that swallows input meant for the stdin source) and refuses
// async inserts outright. So the CLI keeps the engine away from fd 0: it runs
// itself again with fd 0 on /dev/null and the original stdin on another fd
// (`src/cli/stdin-handover.ts`), named by STDIN_FD_ENV. Everything that reads
// stdin reads it through `hostStdin()`.
import { createReadStream, fstatSync } from 'node:fs'
import { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import { isatty, ReadStream as TtyReadStream } from 'node:tty'

/** Set by the CLI in the process it re-executes: the fd holding the original stdin. */
export const STDIN_FD_ENV = 'KEYSHIFT_STDIN_FD'

/** A Node Readable, as `process.stdin` is (a TTY stream, a socket or a file stream). */
export type HostStdin = Readable & { isTTY?: boolean }

let handedOver: HostStdin | undefined

/** The fd the original stdin was handed over on, or undefined when fd 0 is it. */
export function handedOverStdinFd(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env[STDIN_FD_ENV]
  if (raw === undefined || raw === '') return undefined
  const fd = Number(raw)
  return Number.isSafeInteger(fd) && fd > 2 ? fd : undefined
}

/**
 * A readable stream over the process's real stdin: `process.stdin`, or the fd the
 * CLI handed it over on. Built the way Node builds `process.stdin` for each kind of
 * file: a TTY stream, a socket for pipes, FIFOs and sockets, a file stream for
 * regular files. Created once and cached, like `process.stdin`.
 */
export function hostStdin(): HostStdin {
  const fd = handedOverStdinFd()
  if (fd === undefined) return process.stdin
  if (handedOver === undefined) handedOver = streamForFd(fd)
  return handedOver
}

function streamForFd(fd: number): HostStdin {
  if (isatty(fd)) return new TtyReadStream(fd)
  let pipe: boolean
  try {
    const st = fstatSync(fd)
    pipe = st.isFIFO() || st.isSocket()
  } catch {
    // The fd is not open (the parent had no stdin): an empty input, like a closed stdin.
    return createReadStream('/dev/null')
  }
  // Pipes, FIFOs and sockets are read without blocking a thread-pool thread (they
  // may stay silent for hours); a regular file always ends, so plain reads suit it.
  if (pipe) return new Socket({ fd, readable: true, writable: false })
  return createReadStream('', { fd, autoClose: true })
}
