// Runs the test ClickHouse server (server.ts) in a child process and drives it:
// outages, restore, request counts, shutdown.
import { type ChildProcess, fork } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import type { OutageMode, OutageOptions, ServerStats } from './server.ts'

export interface ClickHouseHttpServerProcess {
  readonly url: string
  readonly proc: ChildProcess
  outage(mode: OutageMode, opts?: OutageOptions): Promise<void>
  restore(): Promise<void>
  stats(): Promise<ServerStats>
  close(): Promise<void>
}

const MAIN = fileURLToPath(new URL('./main.ts', import.meta.url))

export async function spawnClickHouseHttpServer(
  path: string,
  opts: { users?: Record<string, string> } = {},
): Promise<ClickHouseHttpServerProcess> {
  const proc = fork(MAIN, [path, '0'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, KS_TEST_CH_USERS: opts.users ? JSON.stringify(opts.users) : '' },
  })
  const [ready] = (await Promise.race([
    once(proc, 'message'),
    once(proc, 'exit').then(([code]) => {
      throw new Error(`test ClickHouse server exited (${code}) before listening`)
    }),
  ])) as [{ url: string }]
  let next = 0
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  proc.on('message', (m: { id?: number; ok?: boolean; result?: unknown; error?: string }) => {
    if (m.id === undefined) return
    const p = pending.get(m.id)
    pending.delete(m.id)
    if (m.ok) p?.resolve(m.result)
    else p?.reject(new Error(m.error))
  })
  const call = (cmd: Record<string, unknown>) =>
    new Promise<unknown>((resolve, reject) => {
      const id = next++
      pending.set(id, { resolve, reject })
      proc.send({ id, ...cmd })
    })
  return {
    url: ready.url,
    proc,
    outage: async (mode, opts) => {
      await call({ op: 'outage', mode, opts })
    },
    restore: async () => {
      await call({ op: 'restore' })
    },
    stats: () => call({ op: 'stats' }) as ReturnType<ClickHouseHttpServerProcess['stats']>,
    async close() {
      if (proc.exitCode !== null) return
      const exited = once(proc, 'exit')
      await call({ op: 'close' }).catch(() => undefined)
      await exited
    },
  }
}
