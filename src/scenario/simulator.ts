// Writes the default story as gateway access-log lines, for `keyshift simulate`:
// - backfill: the story's history, ending now, `count` events as fast as possible;
// - live: from now on, at a given average rate, each line written when its event
//   happens (event times are wall-clock times, never in the future), with the daily
//   traffic cycle sped up so a day's shape passes in minutes.
// The story's lifecycle (ending now) can be written as a registry file; its times are
// all in the past, so the daemon's registry agrees with the traffic from the start.
import { once } from 'node:events'
import type { Writable } from 'node:stream'
import { ValidationError } from '../domain/errors.ts'
import type { Fingerprinter } from '../ingest/secrets/fingerprint.ts'
import { defaultScenario } from './default-scenario.ts'
import { type FormatPreset, lineFormatter } from './formats.ts'
import { buildScenario, lifecycleYaml, type Scenario } from './generator.ts'
import { meanRatePerSecond, type ScenarioSpec, scaleRates } from './spec.ts'

const HOUR = 3_600_000

export interface StoryOptions {
  /** The story ends here ("now"), epoch ms. */
  end: number
  hours: number
  seed: number
  keys: number
  fingerprint?: Fingerprinter
}

export function storySpec(o: StoryOptions): ScenarioSpec {
  return defaultScenario({ start: o.end - o.hours * HOUR, hours: o.hours, seed: o.seed, keys: o.keys })
}

/** The story's lifecycle as a registry file (YAML). */
export function storyLifecycleYaml(o: StoryOptions): string {
  return lifecycleYaml(buildScenario(storySpec(o), { fingerprint: o.fingerprint }).lifecycle)
}

/** Writes `chunk`, waiting when the stream asks to (backpressure). */
async function write(out: Writable, chunk: string): Promise<void> {
  if (!out.write(chunk)) await once(out, 'drain')
}

function count(s: Scenario): number {
  let n = 0
  for (const _ of s.events()) n++
  return n
}

/**
 * The story scaled so that it holds at least `wanted` events (Poisson traffic is
 * scaled, scheduled jobs are not), and how many it holds. A few generation passes:
 * generating is much cheaper than formatting.
 */
export function scaledStory(base: ScenarioSpec, wanted: number, fingerprint?: Fingerprinter) {
  let factor = 1
  let scenario = buildScenario(base, { fingerprint })
  let total = count(scenario)
  for (let attempt = 0; attempt < 6 && total < wanted; attempt++) {
    factor *= (wanted / Math.max(total, 1)) * 1.05
    scenario = buildScenario(scaleRates(base, factor), { fingerprint })
    total = count(scenario)
  }
  if (total > wanted && wanted > 0) {
    // Fewer would do: shrink the random traffic towards `wanted`, keeping at least that many.
    for (let attempt = 0; attempt < 4; attempt++) {
      const smaller = factor * (wanted / total) * 1.02
      const s = buildScenario(scaleRates(base, smaller), { fingerprint })
      const n = count(s)
      if (n < wanted || n >= total) break
      factor = smaller
      scenario = s
      total = n
    }
  }
  return { scenario, total, factor }
}

export interface BackfillOptions extends StoryOptions {
  preset: FormatPreset
  /** Events to write: the last `count` events of the (scaled) story. */
  count: number
}

export interface BackfillResult {
  written: number
  /** The story's time span actually written. */
  from: number | null
  to: number | null
  scale: number
}

/**
 * Writes exactly `count` events ending at `end` (the most recent ones of a story
 * scaled to hold at least that many), as fast as the stream takes them.
 */
export async function writeBackfill(out: Writable, o: BackfillOptions): Promise<BackfillResult> {
  if (!(Number.isInteger(o.count) && o.count >= 0))
    throw new ValidationError(`count must be an integer ≥ 0, got ${o.count}`)
  if (o.count === 0) return { written: 0, from: null, to: null, scale: 0 }
  const { scenario, total, factor } = scaledStory(storySpec(o), o.count, o.fingerprint)
  const skip = Math.max(0, total - o.count)
  const format = lineFormatter(o.preset)
  let seen = 0
  let written = 0
  let from: number | null = null
  let to: number | null = null
  let chunk = ''
  for (const e of scenario.events()) {
    if (seen++ < skip) continue
    from ??= e.time
    to = e.time
    chunk += `${format(e, scenario.materialOf(e))}\n`
    written++
    if (chunk.length >= 1 << 20) {
      await write(out, chunk)
      chunk = ''
    }
  }
  if (chunk !== '') await write(out, chunk)
  return { written, from, to, scale: factor }
}

export interface LiveOptions extends StoryOptions {
  preset: FormatPreset
  /** Average events per second. */
  rate: number
  /** The daily cycle runs this many times faster than the clock. */
  speedup: number
  /** Stop after this many ms (default: until `signal` aborts). */
  durationMs?: number
  signal?: AbortSignal
  /** Injected for tests; default Date.now and setTimeout. */
  clock?: () => number
  sleep?: (ms: number) => Promise<void>
  /** Called after each flush with the number of events written so far. */
  onProgress?: (written: number) => void
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** The live continuation of the story after `end`, scaled to `rate` events/s on average. */
export function liveScenario(o: LiveOptions): Scenario {
  if (!(o.rate > 0)) throw new ValidationError(`rate must be > 0 events/s, got ${o.rate}`)
  if (!(o.speedup >= 1)) throw new ValidationError(`speedup must be ≥ 1, got ${o.speedup}`)
  const base = storySpec(o)
  const spec = scaleRates(base, o.rate / meanRatePerSecond(base))
  return buildScenario(
    { ...spec, clockWarp: { from: o.end, speedup: o.speedup } },
    { fingerprint: o.fingerprint },
  )
}

/**
 * Writes events as they happen: each line once the clock reaches its event time,
 * flushed at least every 250 ms. Resolves with the number written when the duration
 * is over or `signal` aborts.
 */
export async function runLive(out: Writable, o: LiveOptions): Promise<number> {
  const clock = o.clock ?? Date.now
  const sleep = o.sleep ?? defaultSleep
  const scenario = liveScenario(o)
  const until = o.durationMs === undefined ? Number.POSITIVE_INFINITY : o.end + o.durationMs
  const format = lineFormatter(o.preset)
  let written = 0
  let chunk = ''
  let lastFlush = clock()
  const flush = async () => {
    if (chunk !== '') {
      await write(out, chunk)
      chunk = ''
    }
    lastFlush = clock()
    o.onProgress?.(written)
  }
  for (const e of scenario.events({ from: o.end, to: until })) {
    for (;;) {
      if (o.signal?.aborted) {
        await flush()
        return written
      }
      const now = clock()
      if (now >= e.time) break
      if (now - lastFlush >= 250 || chunk.length > 0) await flush()
      await sleep(Math.min(e.time - now, 250))
    }
    chunk += `${format(e, scenario.materialOf(e))}\n`
    written++
    if (chunk.length >= 1 << 16 || clock() - lastFlush >= 250) await flush()
  }
  // The duration is over: wait for its end so the last lines are not early.
  while (!o.signal?.aborted && clock() < until && Number.isFinite(until))
    await sleep(Math.min(until - clock(), 250))
  await flush()
  return written
}
