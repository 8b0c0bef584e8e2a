import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { createDecoder } from '../ingest/decode/decoder.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { runLive, storyLifecycleYaml, writeBackfill } from './simulator.ts'

const END = Date.UTC(2026, 10, 27, 15, 0, 0)
const fingerprint = createFingerprinter('pepper-for-simulator-tests-01')
const story = { end: END, hours: 36, seed: 2, keys: 6, fingerprint }

/** A writable that keeps what it was given and records, per write, a clock reading. */
function sink(clock: () => number = Date.now) {
  const chunks: { at: number; text: string }[] = []
  const out = new Writable({
    write(chunk, _enc, done) {
      chunks.push({ at: clock(), text: chunk.toString() })
      done()
    },
  })
  const lines = () =>
    chunks
      .map((c) => c.text)
      .join('')
      .split('\n')
      .filter((l) => l !== '')
  return { out, chunks, lines }
}

const decoder = (preset: 'kong' | 'envoy') =>
  createDecoder({ preset, fingerprint, resolveFingerprint: () => undefined, defaultGateway: 'gw-us-1' })

describe('writeBackfill', () => {
  it('writes exactly the last `count` events of the story, in time order, ending before now', async () => {
    const { out, lines } = sink()
    const r = await writeBackfill(out, { ...story, preset: 'envoy', count: 5_000 })
    expect(r.written).toBe(5_000)
    const events = lines().map((l) =>
      decoder('envoy').decode(Buffer.from(l), { now: END, fallbackEventId: 'x' }),
    )
    expect(events).toHaveLength(5_000)
    for (let i = 1; i < events.length; i++)
      expect(events[i]!.time).toBeGreaterThanOrEqual(events[i - 1]!.time)
    expect(events[0]!.time).toBe(r.from)
    expect(events.at(-1)!.time).toBe(r.to)
    expect(r.to!).toBeLessThan(END)
    // The story's end is in there: acme-batch rejected after the premature deactivation.
    expect(events.some((e) => e.clientId === 'acme-batch' && e.reason === 'revoked')).toBe(true)
  })

  it('scales the story up for large counts and writes nothing for 0', async () => {
    const big = sink()
    const r = await writeBackfill(big.out, { ...story, preset: 'kong', count: 40_000 })
    expect(r.written).toBe(40_000)
    expect(r.scale).toBeGreaterThan(1)
    expect(big.lines()).toHaveLength(40_000)
    const none = sink()
    expect((await writeBackfill(none.out, { ...story, preset: 'kong', count: 0 })).written).toBe(0)
    expect(none.chunks).toEqual([])
  })
})

describe('runLive', () => {
  it('writes each event once the clock reaches its time, at about the asked rate, for the duration', async () => {
    let now = END
    const clock = () => now
    const sleep = async (ms: number) => {
      now += Math.max(1, ms)
    }
    const { out, chunks, lines } = sink(clock)
    const written = await runLive(out, {
      ...story,
      preset: 'kong',
      rate: 20,
      speedup: 60,
      durationMs: 120_000,
      clock,
      sleep,
    })
    const events = lines().map((l) => decoder('kong').decode(Buffer.from(l), { now, fallbackEventId: 'x' }))
    expect(events).toHaveLength(written)
    // ~20/s for 120 s, with the daily cycle sped up 60×: two hours of shape around 15:00 UTC.
    expect(written).toBeGreaterThan(1_500)
    expect(written).toBeLessThan(5_000)
    for (const e of events) {
      expect(e.time).toBeGreaterThanOrEqual(END)
      expect(e.time).toBeLessThan(END + 120_000)
    }
    // Never early: every line was written at or after its event time.
    let seen = 0
    for (const c of chunks) {
      const n = c.text.split('\n').filter((l) => l !== '').length
      const last = events[seen + n - 1]!
      expect(c.at).toBeGreaterThanOrEqual(last.time)
      seen += n
    }
  })

  it('stops when the signal aborts', async () => {
    let now = END
    const stop = new AbortController()
    const clock = () => now
    const sleep = async (ms: number) => {
      now += Math.max(1, ms)
      if (now >= END + 5_000) stop.abort()
    }
    const { out } = sink(clock)
    const written = await runLive(out, {
      ...story,
      preset: 'envoy',
      rate: 50,
      speedup: 1,
      clock,
      sleep,
      signal: stop.signal,
    })
    expect(written).toBeGreaterThan(50)
    expect(now).toBeLessThan(END + 10_000)
  })

  it('rejects a rate or speedup that makes no sense', async () => {
    const { out } = sink()
    await expect(runLive(out, { ...story, preset: 'kong', rate: 0, speedup: 60 })).rejects.toThrow(/rate/)
    await expect(runLive(out, { ...story, preset: 'kong', rate: 5, speedup: 0 })).rejects.toThrow(/speedup/)
  })
})

it('writes the story lifecycle as a registry file with every time in the past', () => {
  const doc = parseYaml(storyLifecycleYaml(story)) as { time: string; action: string }[]
  expect(doc.length).toBeGreaterThan(20)
  for (const l of doc) expect(Date.parse(l.time)).toBeLessThan(END)
  expect(doc.filter((l) => l.action === 'deactivate')).toHaveLength(1)
})
