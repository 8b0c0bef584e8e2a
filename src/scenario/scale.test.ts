import { describe, expect, it } from 'vitest'
import { createDecoder } from '../ingest/decode/decoder.ts'
import type { ResolvedKey } from '../ingest/decode/normalise.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { EventBatch, scaleScenario } from './scale.ts'

const HOUR = 3_600_000
const END = Date.UTC(2026, 10, 27, 15, 0, 0)
const fingerprint = createFingerprinter('pepper-for-scale-tests-0123')

describe('scaleScenario', () => {
  const opts = {
    count: 20_000,
    start: END - 24 * HOUR,
    end: END,
    keys: 50,
    clientsPerKey: 3,
    seed: 5,
    fingerprint,
  }

  it('makes exactly `count` events in time order, in batches, deterministically', () => {
    const s = scaleScenario(opts)
    const b = new EventBatch(4096)
    const times: number[] = []
    let batches = 0
    for (let n = s.fill(b); n > 0; n = s.fill(b)) {
      batches++
      for (let i = 0; i < n; i++) times.push(b.time[i]!)
    }
    expect(times).toHaveLength(20_000)
    expect(batches).toBe(5)
    for (let i = 1; i < times.length; i++) expect(times[i]!).toBeGreaterThanOrEqual(times[i - 1]!)
    expect(times[0]!).toBeGreaterThanOrEqual(opts.start)
    expect(times.at(-1)!).toBeLessThan(END)
    const again = scaleScenario(opts)
    const b2 = new EventBatch(4096)
    again.fill(b2)
    const first = scaleScenario(opts)
    const b3 = new EventBatch(4096)
    first.fill(b3)
    expect(Array.from(b2.time)).toEqual(Array.from(b3.time))
    expect(Array.from(b2.client)).toEqual(Array.from(b3.client))
  })

  it('follows the daily cycle: the 14:00 hour is busier than the 02:00 hour', () => {
    const s = scaleScenario(opts)
    const b = new EventBatch(20_000)
    s.fill(b)
    const hourOf = (t: number) => new Date(t).getUTCHours()
    const at = (h: number) => Array.from(b.time).filter((t) => hourOf(t) === h).length
    expect(at(14) / at(2)).toBeGreaterThan(3)
  })

  it('writes Kong and Envoy lines that the real decoders turn back into the same events', () => {
    const s = scaleScenario({ ...opts, unknownShare: 0.05 })
    const registry = new Map<string, ResolvedKey>()
    const b = new EventBatch(3_000)
    s.fill(b)
    for (const preset of ['kong', 'envoy'] as const) {
      const lines = s.lines(b, preset).toString('utf8').split('\n')
      expect(lines.at(-1)).toBe('')
      for (let i = 0; i < b.length; i++) {
        const expected = s.event(b, i)
        const d = createDecoder({
          preset,
          fingerprint,
          resolveFingerprint: (f) => registry.get(f),
          defaultGateway: expected.gateway,
        })
        const decoded = d.decode(Buffer.from(lines[i]!), { now: END, fallbackEventId: 'x' })
        expect(decoded, `${preset} row ${i}`).toEqual(expected)
        expect(s.material(b, i) === '' ? '' : fingerprint(s.material(b, i))).toBe(expected.keyFingerprint)
      }
    }
    const unknown = Array.from({ length: b.length }, (_, i) => s.event(b, i)).filter(
      (e) => e.keyId === 'unknown',
    )
    expect(unknown.length).toBeGreaterThan(50)
  })

  it('registers every key version in its lifecycle', () => {
    const s = scaleScenario(opts)
    expect(s.lifecycle).toHaveLength(50 * 4)
    expect(new Set(s.lifecycle.map((l) => l.key_id)).size).toBe(50)
    expect(s.clientCount).toBe(150)
  })

  it('generates well over 500k events per second', () => {
    const s = scaleScenario({ ...opts, count: 1_000_000, keys: 1000, clientsPerKey: 4 })
    const b = new EventBatch()
    const t0 = performance.now()
    let n = 0
    for (let k = s.fill(b); k > 0; k = s.fill(b)) n += k
    const perSecond = n / ((performance.now() - t0) / 1000)
    expect(n).toBe(1_000_000)
    expect(perSecond).toBeGreaterThan(500_000)
  })
})
