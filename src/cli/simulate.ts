// `keyshift simulate`: appends simulated gateway access logs to a file — the
// default key-rotation story (src/scenario/default-scenario.ts) in a gateway's own
// log format. Live by default (events at --rate per second, written when they
// happen, until stopped or --duration ends); with --fast --count N, the story's last
// N events up to now as fast as possible (a backfill). Used by the compose stack's
// gateway-sim service and the demo.
import { createWriteStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { Writable } from 'node:stream'
import type { Command } from 'commander'
import { ValidationError } from '../domain/errors.ts'
import { MIN_HOURS, STORY_KEYS } from '../scenario/default-scenario.ts'
import { FORMAT_PRESETS, type FormatPreset, isFormatPreset } from '../scenario/formats.ts'
import { runLive, storyLifecycleYaml, writeBackfill } from '../scenario/simulator.ts'

interface SimulateOpts {
  out: string
  preset: string
  rate: string
  seed: string
  duration?: string
  keys: string
  speedup: string
  hours: string
  lifecycleOut?: string
  count?: string
  fast?: boolean
}

function number(name: string, raw: string, check: (n: number) => boolean, want: string): number {
  const n = Number(raw)
  if (raw.trim() === '' || !Number.isFinite(n) || !check(n)) {
    throw new ValidationError(`--${name}: expected ${want}, got "${raw}"`)
  }
  return n
}

const int = (n: number) => Number.isInteger(n)

function openOut(path: string): { out: Writable; close: () => Promise<void> } {
  if (path === '-') return { out: process.stdout, close: async () => {} }
  const out = createWriteStream(resolve(path), { flags: 'a' })
  return {
    out,
    close: () =>
      new Promise<void>((res, rej) => {
        out.end((err?: Error | null) => (err ? rej(err) : res()))
      }),
  }
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'append simulated gateway access logs (a key-rotation story) to a file: live at --rate events/s, ' +
        'or --fast --count N to backfill the story up to now',
    )
    .requiredOption('-o, --out <file>', 'log file to append to ("-" for stdout)')
    .option('-p, --preset <name>', `log format: ${FORMAT_PRESETS.join(', ')}`, 'kong')
    .option('--rate <events/s>', 'average events per second (live)', '50')
    .option('--seed <n>', 'seed of the story (same seed, same story)', '1')
    .option('--duration <s>', 'stop after this many seconds (live; default: until stopped)')
    .option('--keys <n>', `number of keys (at least ${STORY_KEYS}: the story keys)`, '8')
    .option(
      '--speedup <x>',
      'the daily traffic cycle runs this many times faster than the clock (live)',
      '60',
    )
    .option('--hours <h>', `length of the story's history before now (at least ${MIN_HOURS})`, '48')
    .option(
      '--lifecycle-out <file>',
      "write the story's key lifecycle as a registry file (YAML, for registry.files)",
    )
    .option('--count <n>', 'with --fast: number of events to write')
    .option('--fast', "write the story's last --count events up to now as fast as possible, then exit")
    .action(async (opts: SimulateOpts) => {
      if (!isFormatPreset(opts.preset)) {
        throw new ValidationError(
          `--preset: unknown log format "${opts.preset}"; use one of ${FORMAT_PRESETS.join(', ')}`,
        )
      }
      const preset: FormatPreset = opts.preset
      const story = {
        end: Date.now(),
        seed: number('seed', opts.seed, int, 'an integer'),
        keys: number('keys', opts.keys, (n) => int(n) && n >= STORY_KEYS, `an integer ≥ ${STORY_KEYS}`),
        hours: number('hours', opts.hours, (n) => n >= MIN_HOURS, `a number of hours ≥ ${MIN_HOURS}`),
      }
      if (opts.fast && opts.count === undefined)
        throw new ValidationError('--fast needs --count <n>: how many events to write')
      if (!opts.fast && opts.count !== undefined)
        throw new ValidationError('--count is for backfills: add --fast')

      if (opts.lifecycleOut) {
        await writeFile(resolve(opts.lifecycleOut), storyLifecycleYaml(story))
        process.stderr.write(`simulate: wrote the story's key lifecycle to ${opts.lifecycleOut}\n`)
      }
      const { out, close } = openOut(opts.out)
      const started = performance.now()
      try {
        if (opts.fast) {
          const count = number('count', opts.count!, (n) => int(n) && n >= 0, 'an integer ≥ 0')
          const r = await writeBackfill(out, { ...story, preset, count })
          const seconds = (performance.now() - started) / 1000
          const span =
            r.from === null
              ? ''
              : ` from ${new Date(r.from).toISOString()} to ${new Date(r.to!).toISOString()}`
          process.stderr.write(
            `simulate: wrote ${r.written} ${preset} events${span} to ${opts.out} in ${seconds.toFixed(1)} s ` +
              `(${Math.round(r.written / Math.max(seconds, 0.001))} events/s)\n`,
          )
          return
        }
        const rate = number('rate', opts.rate, (n) => n > 0, 'events per second > 0')
        const speedup = number('speedup', opts.speedup, (n) => n >= 1, 'a factor ≥ 1')
        const durationMs =
          opts.duration === undefined
            ? undefined
            : number('duration', opts.duration, (n) => n > 0, 'seconds > 0') * 1000
        const stop = new AbortController()
        const onSignal = () => stop.abort()
        process.once('SIGINT', onSignal)
        process.once('SIGTERM', onSignal)
        process.stderr.write(
          `simulate: writing ${preset} events to ${opts.out} at ~${rate}/s (daily cycle ×${speedup})` +
            `${durationMs === undefined ? ' until stopped' : ` for ${durationMs / 1000} s`}\n`,
        )
        try {
          const written = await runLive(out, {
            ...story,
            preset,
            rate,
            speedup,
            durationMs,
            signal: stop.signal,
          })
          process.stderr.write(
            `simulate: wrote ${written} events in ${((performance.now() - started) / 1000).toFixed(1)} s\n`,
          )
        } finally {
          process.off('SIGINT', onSignal)
          process.off('SIGTERM', onSignal)
        }
      } finally {
        await close()
      }
    })
}
