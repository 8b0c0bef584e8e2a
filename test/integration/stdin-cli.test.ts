// stdin through the real CLI on the embedded store. The engine runs in-process
// and used to read fd 0 as extra insert data: `run` with a stdin source (and
// `migrate`, `replay`) exited 2 on a piped stdin, and input arriving through a
// FIFO lost 64 KiB at a time. Every case here counts lines exactly: stored plus
// dead-lettered equals written, whatever kind of file stdin is. One case runs the
// same against a ClickHouse server store (the test server, clickhouse.url).
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, createWriteStream, mkdtempSync, openSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ClickHouseClient } from '@clickhouse/client'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../../src/config/load.ts'
import { createStoreClient } from '../../src/store/clickhouse/client.ts'
import { spawnClickHouseHttpServer } from '../support/clickhouse-http/process.ts'
import { CLI, REPO_ROOT, runKeyshift, waitFor, writeConfig } from '../support/daemon.ts'
import { kongLine, MALFORMED_KINDS, type MalformedKind, malformed, prng } from '../support/records.ts'
import { queryRows, withStore } from '../support/store-probe.ts'

const PEPPER = 'stdin-cli-pepper-0123456789'
const WHOLE_INPUT = 'Stdin source read the whole input.'

/**
 * `total` lines, every `garbageEvery`-th one malformed (every kind in turn), the
 * rest valid Kong records with unique request ids. No line contains a newline.
 */
function mixedLines(total: number, garbageEvery: number, seed: number): { lines: Buffer[]; bad: number } {
  const now = Date.now()
  const rnd = prng(seed)
  const lines: Buffer[] = []
  let bad = 0
  for (let i = 0; i < total; i++) {
    if (i % garbageEvery === garbageEvery - 1) {
      const kind: MalformedKind = MALFORMED_KINDS[bad % MALFORMED_KINDS.length]!
      const b = malformed(kind, i, now, rnd)
      // Random bytes may hold line breaks: they would split one written line into several.
      for (let j = 0; j < b.length; j++) if (b[j] === 0x0a || b[j] === 0x0d) b[j] = 0x20
      lines.push(b)
      bad++
    } else {
      lines.push(Buffer.from(kongLine({ i, time: now - 3_600_000 + (i % 3_000_000) })))
    }
  }
  return { lines, bad }
}

function stdinConfig(dir: string, name: string): { cfg: string; data: string } {
  const data = join(dir, 'data')
  const cfg = writeConfig(dir, {
    instance: name,
    data_dir: data,
    log: { level: 'info' },
    // The HTTP server keeps the daemon running after its input ends (with nothing
    // to serve it would exit on its own, racing the SIGTERM the test sends).
    http: { enabled: true, port: 0 },
    sources: [{ type: 'stdin', decoder: { preset: 'kong', default_gateway: 'kong-stdin' } }],
    ingest: { batch_max_events: 5_000, batch_max_wait_ms: 100 },
    secrets: { pepper: PEPPER },
  })
  return { cfg, data }
}

interface Proc {
  child: ChildProcess
  output: () => string
  /** The exit code, or the signal that ended the process. */
  exited: Promise<number | NodeJS.Signals | null>
}

/** Runs `sh -c script` (for `< fifo` / `< file` redirections) and collects its output. */
function shell(script: string, stdin: 'pipe' | 'ignore' = 'ignore'): Proc {
  const child = spawn('sh', ['-c', script], { cwd: REPO_ROOT, stdio: [stdin, 'pipe', 'pipe'] })
  let out = ''
  child.stdout!.on('data', (d) => {
    out += d
  })
  child.stderr!.on('data', (d) => {
    out += d
  })
  const exited = once(child, 'exit').then(
    ([code, signal]) => (code ?? signal) as number | NodeJS.Signals | null,
  )
  return { child, output: () => out, exited }
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
const keyshift = (args: string[]) => `exec ${q(process.execPath)} ${q(CLI)} ${args.map(q).join(' ')}`

/** Waits for the daemon to log that its stdin was read and stored; fails at once if it exits first. */
async function readWholeInput(p: Proc, timeoutMs = 480_000): Promise<void> {
  const early = p.exited.then((code) => {
    throw new Error(`keyshift exited (${code}) before reading its whole input:\n${p.output()}`)
  })
  early.catch(() => undefined)
  await Promise.race([
    waitFor(`"${WHOLE_INPUT}"`, async () => p.output().includes(WHOLE_INPUT) || undefined, {
      timeoutMs,
      intervalMs: 200,
    }),
    early,
  ])
}

/** Waits until the daemon read its whole stdin and stored it, then stops it with SIGTERM. */
async function finish(p: Proc): Promise<void> {
  await readWholeInput(p)
  p.child.kill('SIGTERM')
  const code = await p.exited
  expect(code, p.output()).toBe(0)
}

type StdinCounts = { stored: number; distinct: number; deadLettered: number }

async function countsOver(c: ClickHouseClient): Promise<StdinCounts> {
  const [r] = await queryRows<StdinCounts>(
    c,
    `SELECT
      (SELECT count() FROM keyshift.auth_events WHERE src = 'stdin') AS stored,
      (SELECT uniqExact(event_id) FROM keyshift.auth_events WHERE src = 'stdin') AS distinct,
      (SELECT count() FROM keyshift.dead_letters WHERE src = 'stdin') AS deadLettered`,
  )
  return { stored: Number(r!.stored), distinct: Number(r!.distinct), deadLettered: Number(r!.deadLettered) }
}

function countsIn(data: string): Promise<StdinCounts> {
  return withStore(data, countsOver)
}

describe('stdin through the CLI on the embedded store', () => {
  it('a FIFO opened after start: 105 000 lines, stored + dead-lettered == written exactly', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-stdin-fifo-'))
    const { cfg, data } = stdinConfig(dir, 'stdin-fifo')
    const fifo = join(dir, 'in.fifo')
    const mk = spawn('mkfifo', [fifo])
    expect((await once(mk, 'exit'))[0]).toBe(0)
    const { lines, bad } = mixedLines(105_000, 7, 11)
    // The shell opens the FIFO (and so starts keyshift) only once a writer opens it.
    const daemon = shell(`${keyshift(['run', '-c', cfg])} < ${q(fifo)}`)
    const writer = createWriteStream(fifo)
    const write = async (part: Buffer[]) => {
      for (const l of part) {
        if (!writer.write(Buffer.concat([l, Buffer.from('\n')]))) await once(writer, 'drain')
      }
    }
    // Half while the daemon starts (migrations, first inserts), half once it runs
    // (heartbeats, evaluation and alerting write to the store between batches).
    await write(lines.slice(0, lines.length / 2))
    await waitFor(
      'keyshift started',
      async () => daemon.output().includes('keyshift started.') || undefined,
      {
        timeoutMs: 240_000,
      },
    )
    await write(lines.slice(lines.length / 2))
    writer.end()
    await once(writer, 'close')
    await finish(daemon)
    const c = await countsIn(data)
    expect(bad).toBe(15_000)
    expect(c).toEqual({ stored: 90_000, distinct: 90_000, deadLettered: 15_000 })
    expect(c.stored + c.deadLettered).toBe(lines.length)
  }, 900_000)

  it('run: stdin a pipe and stdin a regular file, each line counted once', async () => {
    for (const mode of ['pipe', 'file'] as const) {
      const dir = mkdtempSync(join(tmpdir(), `ks-stdin-${mode}-`))
      const { cfg, data } = stdinConfig(dir, `stdin-${mode}`)
      const { lines, bad } = mixedLines(6_000, 5, 3)
      const text = Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')]))
      let daemon: Proc
      if (mode === 'pipe') {
        daemon = shell(keyshift(['run', '-c', cfg]), 'pipe')
        daemon.child.stdin!.end(text)
      } else {
        const file = join(dir, 'in.log')
        writeFileSync(file, text)
        daemon = shell(`${keyshift(['run', '-c', cfg])} < ${q(file)}`)
      }
      await finish(daemon)
      expect(await countsIn(data), mode).toEqual({ stored: 4_800, distinct: 4_800, deadLettered: bad })
      expect(bad).toBe(1_200)
    }
  })

  it('migrate and replay work with stdin a pipe (carrying data) and a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-stdin-oneshot-'))
    const { cfg, data } = stdinConfig(dir, 'stdin-oneshot')
    const piped = await runKeyshift(['migrate', '-c', cfg], {
      input: 'unrelated data on stdin\n'.repeat(5_000),
    })
    expect(piped.stderr).toBe('')
    expect(piped.code).toBe(0)
    expect(piped.stdout).toMatch(/schema is at version \d+ \(embedded store, database keyshift\)/)

    const junk = join(dir, 'junk.txt')
    writeFileSync(junk, 'x'.repeat(200_000))
    const fd = openSync(junk, 'r')
    const fromFile = await new Promise<{ code: number | null; out: string }>((res) => {
      const p = spawn(process.execPath, [CLI, 'migrate', '-c', cfg], {
        cwd: REPO_ROOT,
        stdio: [fd, 'pipe', 'pipe'],
      })
      let out = ''
      p.stdout!.on('data', (d) => {
        out += d
      })
      p.stderr!.on('data', (d) => {
        out += d
      })
      p.on('exit', (code) => res({ code, out }))
    })
    closeSync(fd)
    expect(fromFile.code, fromFile.out).toBe(0)

    const log = join(dir, 'replay.log')
    const { lines, bad } = mixedLines(3_000, 6, 5)
    writeFileSync(log, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])))
    const replay = await runKeyshift(['replay', log, '-c', cfg, '--preset', 'kong', '--json'], {
      input: readFileSync(log, 'utf8'),
    })
    expect(replay.code, replay.stderr).toBe(0)
    const summary = JSON.parse(replay.stdout) as { lines: number; stored: number; deadLettered: number }
    expect({ lines: summary.lines, stored: summary.stored, deadLettered: summary.deadLettered }).toEqual({
      lines: 3_000,
      stored: 2_500,
      deadLettered: bad,
    })
    const [r] = await withStore(data, (c) =>
      queryRows<{ n: number }>(c, `SELECT count() AS n FROM keyshift.auth_events WHERE src LIKE 'replay:%'`),
    )
    expect(Number(r!.n)).toBe(2_500)
  })

  it('a TTY as stdin: migrate and a stdin source reading lines typed at the terminal', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-stdin-tty-'))
    const { cfg, data } = stdinConfig(dir, 'stdin-tty')
    // script(1) runs the command on a new pseudo-terminal and copies its own stdin to it.
    const migrate = shell(`script -qec ${q(keyshift(['migrate', '-c', cfg]))} /dev/null`)
    expect(await migrate.exited, migrate.output()).toBe(0)
    expect(migrate.output()).toMatch(/schema is at version \d+/)

    const { lines, bad } = mixedLines(200, 4, 9)
    // Canonical terminal input: lines shorter than the 4 KiB line limit, Ctrl-D ends it.
    // Control bytes would edit the line or raise signals: leave those lines out.
    const short = lines.filter((l) => l.length < 2_000 && l.every((b) => b >= 0x20 && b !== 0x7f))
    const badShort = bad - (lines.length - short.length)
    const p = shell(`script -qec ${q(keyshift(['run', '-c', cfg]))} /dev/null`, 'pipe')
    for (const l of short) p.child.stdin!.write(Buffer.concat([l, Buffer.from('\n')]))
    p.child.stdin!.write('\x04')
    await readWholeInput(p, 120_000)
    // Ctrl-C at the terminal: SIGINT to the foreground job, a clean shutdown.
    p.child.stdin!.end('\x03')
    expect(await p.exited, p.output()).toBe(0)
    expect(await countsIn(data)).toEqual({ stored: 150, distinct: 150, deadLettered: badShort })
  })
})

describe('stdin through the CLI on a ClickHouse server store (clickhouse.url)', () => {
  it('migrate with data on stdin, and run with stdin a pipe: stored + dead-lettered == written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-stdin-server-'))
    const server = await spawnClickHouseHttpServer(join(dir, 'store'))
    try {
      const clickhouse = { url: server.url, request_timeout_ms: 10_000 }
      const cfg = writeConfig(dir, {
        instance: 'stdin-server',
        data_dir: join(dir, 'data'),
        log: { level: 'info' },
        http: { enabled: true, port: 0 },
        clickhouse,
        sources: [{ type: 'stdin', decoder: { preset: 'kong', default_gateway: 'kong-stdin' } }],
        ingest: { batch_max_events: 2_000, batch_max_wait_ms: 100 },
        secrets: { pepper: PEPPER },
      })
      const migrated = await runKeyshift(['migrate', '-c', cfg], {
        input: 'unrelated data on stdin\n'.repeat(5_000),
      })
      expect(migrated.code, migrated.stderr).toBe(0)
      expect(migrated.stdout).toMatch(/schema is at version \d+ \(server store, database keyshift\)/)

      const { lines, bad } = mixedLines(6_000, 5, 13)
      const daemon = shell(keyshift(['run', '-c', cfg]), 'pipe')
      daemon.child.stdin!.end(Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])))
      await finish(daemon)
      const store = createStoreClient(parseConfig({ clickhouse }))
      try {
        expect(await countsOver(store.client)).toEqual({ stored: 4_800, distinct: 4_800, deadLettered: bad })
      } finally {
        await store.close()
      }
      expect(bad).toBe(1_200)
    } finally {
      await server.close()
    }
  })
})

describe('the re-executed CLI process', () => {
  it('dies with the keyshift process an operator kills with SIGKILL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-stdin-kill-'))
    const { cfg } = stdinConfig(dir, 'stdin-kill')
    const p = shell(keyshift(['run', '-c', cfg]), 'pipe')
    p.child.stdin!.write('not json\n') // stdin stays open: the daemon keeps reading
    const started = await waitFor('keyshift started', async () => {
      const line = p
        .output()
        .split('\n')
        .find((l) => l.includes('keyshift started.'))
      return line ? (JSON.parse(line) as { pid: number }) : undefined
    })
    // The log names the process doing the work: the one holding the store, not the one spawned.
    expect(started.pid).not.toBe(p.child.pid)
    p.child.kill('SIGKILL')
    expect(await p.exited).toBe('SIGKILL')
    await waitFor('the re-executed process to be gone', async () => {
      try {
        process.kill(started.pid, 0)
        return undefined
      } catch (err) {
        return (err as NodeJS.ErrnoException).code === 'ESRCH' || undefined
      }
    })
  })
})
