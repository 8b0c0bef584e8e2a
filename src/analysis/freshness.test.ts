import { describe, expect, it } from 'vitest'
import {
  DEFAULT_FRESHNESS,
  freshnessConfigSchema,
  type PlaceKind,
  placeStatuses,
  silentAfterMs,
  sourcePlaceName,
} from './freshness.ts'

const NOW = Date.UTC(2025, 0, 10, 12, 0)

describe('sourcePlaceName', () => {
  it.each([
    // A Kafka partition is its own place; a file is one place whatever its inode.
    { src: 'kafka:auth-events', partition: 3, want: 'kafka:auth-events#3' },
    { src: 'file:/var/log/kong.log', partition: 918_273, want: 'file:/var/log/kong.log' },
    { src: 'stdin', partition: 0, want: 'stdin' },
  ])('$src partition $partition → $want', ({ src, partition, want }) => {
    expect(sourcePlaceName(src, partition)).toBe(want)
  })
})

describe('silentAfterMs', () => {
  const cfg = freshnessConfigSchema.parse({
    silent_after_ms: 120_000,
    gateways: { 'edge-low': { silent_after_ms: 3_600_000 } },
    sources: {
      'kafka:auth': { silent_after_ms: 600_000 },
      'kafka:auth#2': { silent_after_ms: 900_000 },
      'file:/var/log/a.log': { silent_after_ms: 30_000 },
    },
  })
  it.each<{ kind: PlaceKind; name: string; want: number }>([
    { kind: 'gateway', name: 'edge-low', want: 3_600_000 }, // declared
    { kind: 'gateway', name: 'edge-1', want: 120_000 }, // default
    { kind: 'gateway', name: 'kafka:auth', want: 120_000 }, // a gateway never takes a source's bound
    { kind: 'source', name: 'kafka:auth#0', want: 600_000 }, // its topic's
    { kind: 'source', name: 'kafka:auth#2', want: 900_000 }, // its own beats its topic's
    { kind: 'source', name: 'kafka:other#0', want: 120_000 },
    { kind: 'source', name: 'file:/var/log/a.log', want: 30_000 },
    { kind: 'source', name: 'stdin', want: 120_000 },
  ])('$kind $name → $want ms', ({ kind, name, want }) => {
    expect(silentAfterMs(cfg, kind, name)).toBe(want)
  })

  it('defaults to 5 minutes and rejects unknown fields and non-positive bounds', () => {
    expect(DEFAULT_FRESHNESS).toEqual({ silent_after_ms: 300_000, gateways: {}, sources: {} })
    expect(freshnessConfigSchema.safeParse({ silent_after: 1 }).success).toBe(false)
    expect(freshnessConfigSchema.safeParse({ gateways: { g: { silent_after_ms: 0 } } }).success).toBe(false)
    expect(freshnessConfigSchema.safeParse({ sources: { s: {} } }).success).toBe(false)
  })
})

describe('placeStatuses', () => {
  it('marks places silent strictly after their bound and sorts silent ones first, longest first', () => {
    const cfg = freshnessConfigSchema.parse({ gateways: { slow: { silent_after_ms: 3_600_000 } } })
    const got = placeStatuses(
      [
        { kind: 'source', name: 'kafka:auth#1', lastHeard: NOW - 300_000 }, // exactly the bound: reporting
        { kind: 'gateway', name: 'gw-b', lastHeard: NOW - 300_001 }, // 1 ms over: silent
        { kind: 'gateway', name: 'slow', lastHeard: NOW - 3_000_000 }, // 50 min of a 60 min bound
        { kind: 'source', name: 'kafka:auth#0', lastHeard: NOW - 900_000 }, // silent 15 min
        { kind: 'gateway', name: 'gw-a', lastHeard: NOW + 2_000 }, // clock 2 s ahead: silent 0 s
      ],
      cfg,
      NOW,
    )
    expect(got.map((p) => [p.kind, p.name, p.silentForMs, p.silentAfterMs, p.silent])).toEqual([
      ['source', 'kafka:auth#0', 900_000, 300_000, true],
      ['gateway', 'gw-b', 300_001, 300_000, true],
      ['gateway', 'gw-a', 0, 300_000, false],
      ['gateway', 'slow', 3_000_000, 3_600_000, false],
      ['source', 'kafka:auth#1', 300_000, 300_000, false],
    ])
  })
})
