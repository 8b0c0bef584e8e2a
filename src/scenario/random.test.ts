import { describe, expect, it } from 'vitest'
import { hashString, hex8, mix32, Random, WeightedPicker } from './random.ts'

const draw = (rng: Random, n: number, f: (r: Random) => number) => Array.from({ length: n }, () => f(rng))
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length

describe('Random', () => {
  it('repeats the same sequence for the same seed and stream, and differs otherwise', () => {
    const a = draw(new Random(42), 5, (r) => r.uint32())
    expect(draw(new Random(42), 5, (r) => r.uint32())).toEqual(a)
    expect(draw(new Random(43), 5, (r) => r.uint32())).not.toEqual(a)
    expect(draw(new Random(42, 1), 5, (r) => r.uint32())).not.toEqual(a)
  })

  it('pins the sequence (changing it silently changes every scenario)', () => {
    expect(draw(new Random(1), 3, (r) => r.uint32())).toEqual([2489388549, 3001323609, 1397752060])
  })

  it('draws uniforms in [0, 1) and integers in [min, max)', () => {
    const rng = new Random(7)
    const us = draw(rng, 10_000, (r) => r.next())
    expect(Math.min(...us)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...us)).toBeLessThan(1)
    expect(mean(us)).toBeCloseTo(0.5, 1)
    const ints = new Set(draw(rng, 10_000, (r) => r.int(3, 7)))
    expect([...ints].sort()).toEqual([3, 4, 5, 6])
  })

  it('has the right means for exponential, normal, Poisson and log-normal draws', () => {
    const rng = new Random(11)
    expect(mean(draw(rng, 20_000, (r) => r.exponential(4)))).toBeCloseTo(0.25, 1)
    expect(mean(draw(rng, 20_000, (r) => r.normal(10, 2)))).toBeCloseTo(10, 1)
    expect(mean(draw(rng, 20_000, (r) => r.poisson(3.5)))).toBeCloseTo(3.5, 1)
    expect(mean(draw(rng, 20_000, (r) => r.poisson(80))) / 80).toBeCloseTo(1, 1)
    const ln = draw(rng, 20_001, (r) => r.logNormal(40, 0.5)).sort((a, b) => a - b)
    expect(ln[10_000]! / 40).toBeCloseTo(1, 1)
    expect(rng.poisson(0)).toBe(0)
  })

  it('jitters within ±fraction and picks by weight', () => {
    const rng = new Random(3)
    const j = draw(rng, 5_000, (r) => r.jitter(100, 0.2))
    expect(Math.min(...j)).toBeGreaterThanOrEqual(80)
    expect(Math.max(...j)).toBeLessThanOrEqual(120)
    const picks = draw(rng, 10_000, (r) => r.weighted([1, 3], (w) => w))
    expect(picks.filter((p) => p === 3).length / picks.length).toBeCloseTo(0.75, 1)
    expect(() => rng.pick([])).toThrow(RangeError)
  })

  it('makes hex and alphanumeric strings of the asked length', () => {
    const rng = new Random(5)
    expect(rng.hex(32)).toMatch(/^[0-9a-f]{32}$/)
    expect(rng.alnum(24)).toMatch(/^[A-Za-z0-9]{24}$/)
    expect(hex8(0xdeadbeef)).toBe('deadbeef')
    expect(hex8(1)).toBe('00000001')
  })
})

describe('WeightedPicker (alias method)', () => {
  it('picks each index in proportion to its weight', () => {
    const picker = new WeightedPicker([1, 0, 2, 7])
    const rng = new Random(9)
    const counts = [0, 0, 0, 0]
    for (let i = 0; i < 100_000; i++) counts[picker.pick(rng)]!++
    expect(counts[1]).toBe(0)
    expect(counts.map((c) => Math.round((c / 100_000) * 100))).toEqual([10, 0, 20, 70])
  })

  it('rejects empty, negative or all-zero weights', () => {
    expect(() => new WeightedPicker([])).toThrow(RangeError)
    expect(() => new WeightedPicker([1, -1])).toThrow(RangeError)
    expect(() => new WeightedPicker([0, 0])).toThrow(RangeError)
  })
})

describe('hashing helpers', () => {
  it('hashString is FNV-1a and mix32 is a bijection on a sample', () => {
    expect(hashString('')).toBe(0x811c9dc5)
    expect(hashString('a')).toBe(0xe40c292c)
    const seen = new Set<number>()
    for (let i = 0; i < 100_000; i++) seen.add(mix32(i))
    expect(seen.size).toBe(100_000)
  })
})
