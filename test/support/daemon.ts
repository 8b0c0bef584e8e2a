// Runs the real keyshift CLI as a child process for tests that kill it
// (SIGKILL at random moments) and restart it, exactly as an operator would.
import { type ChildProcess, spawn } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { stringify } from 'yaml'

export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)))
export const CLI = join(REPO_ROOT, 'bin/keyshift.js')

export function writeConfig(dir: string, doc: Record<string, unknown>): string {
  const path = join(dir, 'keyshift.yaml')
  writeFileSync(path, stringify(doc))
  return path
}

export interface Daemon {
  proc: ChildProcess
  output: () => string
  exited: Promise<number | null>
  kill(signal?: NodeJS.Signals): Promise<number | null>
}

/** `nodeArgs`: flags for node itself (e.g. `--cpu-prof`, which NODE_OPTIONS does not take). */
export function spawnKeyshift(args: string[], env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = []): Daemon {
  const proc = spawn(process.execPath, [...nodeArgs, CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  proc.stdout!.on('data', (d) => {
    out += d
  })
  proc.stderr!.on('data', (d) => {
    out += d
  })
  const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)))
  return {
    proc,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal)
      return exited
    },
  }
}

/** Runs a CLI command to completion; resolves with its exit code and output. */
export async function runKeyshift(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d) => {
    stdout += d
  })
  proc.stderr.on('data', (d) => {
    stderr += d
  })
  // A command that does not read its stdin may exit before all of `input` is written.
  proc.stdin.on('error', () => {})
  proc.stdin.end(opts.input ?? '')
  const code = await new Promise<number | null>((res) => proc.on('exit', (c) => res(c)))
  return { code, stdout, stderr }
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000)
  let last: unknown
  for (;;) {
    try {
      const v = await probe()
      if (v !== undefined && v !== false) return v as T
    } catch (err) {
      last = err
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`)
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 250))
  }
}

/**
 * A loopback port the OS just handed out and nothing listens on any more: for a
 * daemon's http.port, or as a closed port. Never pick ports at random: another
 * test file's daemon on the same port would answer for this one.
 */
export async function freePort(): Promise<number> {
  const srv = createServer()
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r))
  const { port } = srv.address() as { port: number }
  await new Promise<void>((r) => srv.close(() => r()))
  return port
}
