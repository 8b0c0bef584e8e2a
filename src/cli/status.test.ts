// `keyshift status`: stragglers most recent first, clients that moved counted apart,
// and the lookback handed to the straggler query and printed with the counts.
import { describe, expect, it } from 'vitest'
import type { PlaceStatus } from '../analysis/freshness.ts'
import type { Straggler, StragglerReport } from '../analysis/stragglers.ts'
import type { KeyDetail, KeyListEntry } from '../rotation/rotation-service.ts'
import { collect, type KeyView, renderPlaces, renderStatus } from './status.ts'

const NOW = Date.parse('2026-12-07T12:00:00Z')
const MIN = 60_000

function straggler(clientId: string, requests: number, lastSeen: number, newer: string[] = []): Straggler {
  return {
    clientId,
    requests,
    failures: 0,
    firstSeen: lastSeen - MIN,
    lastSeen,
    partiallyMigrated: newer.length > 0,
    newerVersionsUsed: newer,
    newerRequests: newer.length > 0 ? 1 : 0,
    sourceAddresses: ['192.0.2.7'],
    userAgents: [],
    gateways: [],
    routes: [],
  }
}

const detail = {
  keyId: 'acme',
  versions: [
    { version: 'v1', registered: true, state: 'deprecated', seen: { lastSeen: NOW - 2 * MIN } },
    { version: 'v2', registered: true, state: 'active', seen: { lastSeen: NOW - 1_000 } },
  ],
  shares: {
    '1h': {
      versions: [
        { version: 'v1', share: 0.25, requests: 25 },
        { version: 'v2', share: 0.75, requests: 75 },
      ],
    },
    '24h': {
      versions: [
        { version: 'v1', share: 0.5, requests: 500 },
        { version: 'v2', share: 0.5, requests: 500 },
      ],
    },
  },
} as unknown as KeyDetail

const report: StragglerReport = {
  // As the analysis orders them: by requests.
  stragglers: [
    straggler('batch-job', 400, NOW - 20 * 60 * MIN),
    straggler('checkout', 90, NOW - 2 * MIN, ['v2']),
    straggler('mobile', 10, NOW - 30 * MIN),
  ],
  moved: [{ clientId: 'web' } as StragglerReport['moved'][number]],
}

describe('keyshift status', () => {
  it('lists stragglers most recent first, counts moved clients and uses the lookback asked for', async () => {
    const asked: number[] = []
    const views = await collect(
      {
        keys: async () => [{ keyId: 'acme' } as KeyListEntry],
        detail: async () => detail,
        stragglers: async (_k, _v, lookbackMs) => {
          asked.push(lookbackMs)
          return report
        },
        verdict: async () => ({
          verdict: 'not_ready',
          rules: [{ id: 'old_version_quiet', outcome: 'fail' }],
        }),
      },
      undefined,
      6 * 60 * MIN,
    )
    expect(asked).toEqual([6 * 60 * MIN])
    expect(renderStatus(views, NOW, 6 * 60 * MIN).split('\n')).toEqual([
      'acme',
      `  v1       deprecated   ██████░░░░░░░░░░░░░░░░░░  25.0% 1h   50.0% 24h       500 req/24h  last 2m ago  gate: not_ready (old_version_quiet)`,
      '      straggler checkout                 last 2m ago         90 req/6h  192.0.2.7  also on v2',
      '      straggler mobile                   last 30m ago        10 req/6h  192.0.2.7',
      '      straggler batch-job                last 20h ago       400 req/6h  192.0.2.7',
      '      1 client(s) moved to a newer version in the last 6h',
      `  v2       active       ██████████████████░░░░░░  75.0% 1h   50.0% 24h       500 req/24h  last 1s ago`,
      '',
      '',
    ])
  })
})

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
