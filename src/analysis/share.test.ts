import { describe, expect, it } from 'vitest'
import { computeShares, presetWindow, shareOf, shareSeries } from './share.ts'
import type { VersionMinute } from './types.ts'

const M = 60_000
const rows: VersionMinute[] = [
  { minute: 0, version: 'v1', requests: 60, failures: 2 },
  { minute: 0, version: 'v2', requests: 40, failures: 0 },
  { minute: M, version: 'v1', requests: 15, failures: 0 },
  { minute: M, version: 'v2', requests: 85, failures: 1 },
  { minute: 2 * M, version: 'v2', requests: 100, failures: 0 },
  { minute: 3 * M, version: 'v10', requests: 50, failures: 5 },
]

describe('computeShares', () => {
  it.each([
    {
      name: 'three minutes',
      window: { from: 0, to: 3 * M },
      total: 300,
      versions: [
        { version: 'v1', requests: 75, failures: 2, share: 0.25 },
        { version: 'v2', requests: 225, failures: 1, share: 0.75 },
      ],
    },
    {
      name: 'one minute, end exclusive',
      window: { from: M, to: 2 * M },
      total: 100,
      versions: [
        { version: 'v1', requests: 15, failures: 0, share: 0.15 },
        { version: 'v2', requests: 85, failures: 1, share: 0.85 },
      ],
    },
    {
      name: 'natural label order',
      window: { from: 2 * M, to: 4 * M },
      total: 150,
      versions: [
        { version: 'v2', requests: 100, failures: 0, share: 100 / 150 },
        { version: 'v10', requests: 50, failures: 5, share: 50 / 150 },
      ],
    },
    { name: 'no traffic', window: { from: 10 * M, to: 11 * M }, total: 0, versions: [] },
  ])('$name', ({ window, total, versions }) => {
    expect(computeShares(rows, window)).toEqual({ ...window, totalRequests: total, versions })
  })

  it('shareOf a version absent from the window is 0', () => {
    const w = computeShares(rows, { from: 0, to: M })
    expect(shareOf(w, 'v1').share).toBe(0.6)
    expect(shareOf(w, 'v7')).toEqual({ version: 'v7', requests: 0, failures: 0, share: 0 })
  })

  it('rejects a reversed window', () => {
    expect(() => computeShares(rows, { from: 2, to: 1 })).toThrow(RangeError)
  })
})

describe('presetWindow', () => {
  it.each([
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['24h', 86_400_000],
  ] as const)('%s', (preset, length) => {
    expect(presetWindow(preset, 10_000_000)).toEqual({ from: 10_000_000 - length, to: 10_000_000 })
  })
})

describe('shareSeries', () => {
  it('buckets aligned on the window start, last bucket cut at its end', () => {
    expect(shareSeries(rows, { from: 0, to: 2.5 * M }, 2 * M)).toEqual([
      {
        from: 0,
        to: 2 * M,
        totalRequests: 200,
        versions: [
          { version: 'v1', requests: 75, failures: 2, share: 0.375 },
          { version: 'v2', requests: 125, failures: 1, share: 0.625 },
        ],
      },
      {
        from: 2 * M,
        to: 2.5 * M,
        totalRequests: 100,
        versions: [
          { version: 'v1', requests: 0, failures: 0, share: 0 },
          { version: 'v2', requests: 100, failures: 0, share: 1 },
        ],
      },
    ])
  })

  it('keeps empty buckets', () => {
    const series = shareSeries(rows, { from: 3 * M, to: 6 * M }, M)
    expect(series.map((b) => [b.from, b.totalRequests, b.versions.map((v) => v.share)])).toEqual([
      [3 * M, 50, [1]],
      [4 * M, 0, [0]],
      [5 * M, 0, [0]],
    ])
  })
})
