import { describe, expect, it } from 'vitest'
import { coalesce } from './pipeline.ts'

const rec = (offset: number) => ({ offset: BigInt(offset), nextOffset: BigInt(offset + 1), size: 1 })
const w = (name: string) =>
  ({ resolve: () => name, reject: () => name }) as unknown as {
    resolve: () => void
    reject: (e: unknown) => void
  }
const seg = (
  source: string,
  partition: number,
  from: number,
  to: number,
  extra: { exact?: boolean } = {},
) => ({
  source,
  partition,
  firstOffset: BigInt(from),
  items: Array.from({ length: to - from + 1 }, (_, i) => rec(from + i)),
  meta: `m${to}`,
  waiters: [w(`${source}${partition}:${from}`)],
  ...extra,
})
const shape = (s: ReturnType<typeof coalesce>) =>
  s.map((x) => ({
    at: `${x.source}/${x.partition}`,
    first: Number(x.firstOffset),
    offsets: x.items.map((i) => Number(i.offset)),
    meta: x.meta,
    waiters: x.waiters.length,
    exact: x.exact ?? false,
  }))

describe('coalesce', () => {
  it('merges consecutive segments of a partition into one write, keeping partitions apart', () => {
    const out = coalesce([seg('k', 0, 0, 1), seg('k', 1, 10, 10), seg('k', 0, 2, 3), seg('f', 0, 0, 0)])
    expect(shape(out)).toEqual([
      { at: 'k/0', first: 0, offsets: [0, 1, 2, 3], meta: 'm3', waiters: 2, exact: false },
      { at: 'k/1', first: 10, offsets: [10], meta: 'm10', waiters: 1, exact: false },
      { at: 'f/0', first: 0, offsets: [0], meta: 'm0', waiters: 1, exact: false },
    ])
  })

  it('never merges a rebuilt batch: its bounds are its dedup identity', () => {
    const out = coalesce([seg('k', 0, 5, 7, { exact: true }), seg('k', 0, 8, 9), seg('k', 0, 10, 11)])
    expect(shape(out)).toEqual([
      { at: 'k/0', first: 5, offsets: [5, 6, 7], meta: 'm7', waiters: 1, exact: true },
      { at: 'k/0', first: 8, offsets: [8, 9, 10, 11], meta: 'm11', waiters: 2, exact: false },
    ])
  })

  it('does not change the segments it was given', () => {
    const input = [seg('k', 0, 0, 0), seg('k', 0, 1, 1)]
    coalesce(input)
    expect(input.map((s) => s.items.length)).toEqual([1, 1])
  })
})
