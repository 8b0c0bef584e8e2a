import { describe, expect, it } from 'vitest'
import type { PlaceStatus } from '../analysis/freshness.ts'
import { type KeyView, renderPlaces, renderStatus } from './status.ts'

const NOW = Date.parse('2026-12-07T12:00:00.000Z')

const gwA: PlaceStatus = {
  kind: 'gateway',
  name: 'gw-a',
  lastHeard: NOW - 342_000,
  silentForMs: 342_000,
  silentAfterMs: 300_000,
  silent: true,
}
const fileA: PlaceStatus = { ...gwA, kind: 'source', name: 'file:/var/log/gw-a.log' }
const gwB: PlaceStatus = {
  kind: 'gateway',
  name: 'gw-b',
  lastHeard: NOW - 2_000,
  silentForMs: 2_000,
  silentAfterMs: 300_000,
  silent: false,
}

describe('keyshift status rendering', () => {
  it("names the key's silent places under the key, with since when and why its verdict is unknown", () => {
    const views: KeyView[] = [
      {
        keyId: 'acme',
        silentPlaces: [gwA, fileA],
        versions: [
          {
            version: 'v1',
            state: 'deprecated',
            share1h: 0,
            share24h: 0,
            requests24h: 0,
            lastSeen: null,
            verdict: 'unknown',
            failing: ['places_reporting'],
            stragglers: [],
            leakNote:
              'the stored history of acme starts at 2026-12-06T12:00:00.000Z, after v1 was deprecated',
          },
        ],
      },
    ]
    expect(renderStatus(views, NOW).split('\n')).toEqual([
      'acme',
      '  SILENT gateway gw-a silent for 342 s (since 2026-12-07T11:54:18.000Z, bound 300 s): verdicts of acme are unknown',
      '  SILENT source file:/var/log/gw-a.log silent for 342 s (since 2026-12-07T11:54:18.000Z, bound 300 s): verdicts of acme are unknown',
      `  v1       deprecated   ${'░'.repeat(24)}   0.0% 1h    0.0% 24h         0 req/24h  last never  gate: unknown (places_reporting)`,
      '      possible_leak not raised: the stored history of acme starts at 2026-12-06T12:00:00.000Z, after v1 was deprecated',
      '',
      '',
    ])
  })

  it('counts the places reporting and lists each silent one', () => {
    expect(renderPlaces([gwA, fileA, gwB]).split('\n')).toEqual([
      'places: 1 of 3 gateway(s) and source(s) reporting',
      '  SILENT gateway gw-a silent for 342 s (since 2026-12-07T11:54:18.000Z, bound 300 s)',
      '  SILENT source file:/var/log/gw-a.log silent for 342 s (since 2026-12-07T11:54:18.000Z, bound 300 s)',
      '',
    ])
    expect(renderPlaces([gwB])).toBe('places: 1 of 1 gateway(s) and source(s) reporting\n')
  })
})
