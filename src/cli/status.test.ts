// `keyshift status`: stragglers most recent first, clients that moved counted apart,
// and the lookback handed to the straggler query and printed with the counts.
import { describe, expect, it } from 'vitest'
import type { Straggler, StragglerReport } from '../analysis/stragglers.ts'
import type { KeyDetail, KeyListEntry } from '../rotation/rotation-service.ts'
import { collect, renderStatus } from './status.ts'

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
