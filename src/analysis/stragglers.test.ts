import { describe, expect, it } from 'vitest'
import { usage } from './fixtures.ts'
import { findStragglers } from './stragglers.ts'

const window = { from: 1_000, to: 2_000 }
const recent = [
  usage({ clientId: 'c1', requests: 10, firstSeen: 1_100, lastSeen: 1_900, routes: ['/a'] }),
  usage({
    clientId: 'c1',
    sourceAddress: '10.0.0.9',
    gateway: 'g2',
    requests: 5,
    failures: 1,
    firstSeen: 1_200,
    lastSeen: 1_500,
    routes: ['/b', '/a'],
  }),
  usage({ clientId: 'c2', requests: 3, firstSeen: 1_300, lastSeen: 1_400 }),
  usage({ clientId: 'c2', version: 'v2', userAgent: 'ua/2', requests: 7, firstSeen: 1_350, lastSeen: 1_950 }),
  usage({
    clientId: 'c3',
    version: 'v2',
    sourceAddress: '10.0.0.3',
    requests: 20,
    firstSeen: 1_000,
    lastSeen: 1_990,
    routes: ['/c'],
  }),
  usage({ clientId: 'c4', version: 'v2', requests: 4, firstSeen: 1_000, lastSeen: 1_100 }),
  usage({ clientId: 'c5', requests: 15, firstSeen: 1_010, lastSeen: 1_020 }),
  usage({ clientId: 'c6', requests: 9, firstSeen: 800, lastSeen: 900 }), // ended before the window
]
const history = [
  usage({ clientId: 'c3', requests: 50, firstSeen: 500, lastSeen: 800 }),
  usage({ clientId: 'c3', version: 'v2', requests: 5, firstSeen: 900, lastSeen: 990 }),
  usage({ clientId: 'c4', version: 'v2', requests: 5, firstSeen: 100, lastSeen: 990 }),
]

describe('findStragglers', () => {
  it('lists stragglers (requests desc, then client id) and moved clients', () => {
    expect(findStragglers({ oldVersion: 'v1', newerVersions: ['v2'], recent, history, window })).toEqual({
      stragglers: [
        {
          clientId: 'c1',
          requests: 15,
          failures: 1,
          firstSeen: 1_100,
          lastSeen: 1_900,
          partiallyMigrated: false,
          newerVersionsUsed: [],
          newerRequests: 0,
          sourceAddresses: ['10.0.0.1', '10.0.0.9'],
          userAgents: ['ua/1'],
          gateways: ['g1', 'g2'],
          routes: ['/a', '/b'],
        },
        {
          clientId: 'c5',
          requests: 15,
          failures: 0,
          firstSeen: 1_010,
          lastSeen: 1_020,
          partiallyMigrated: false,
          newerVersionsUsed: [],
          newerRequests: 0,
          sourceAddresses: ['10.0.0.1'],
          userAgents: ['ua/1'],
          gateways: ['g1'],
          routes: [],
        },
        {
          clientId: 'c2',
          requests: 3,
          failures: 0,
          firstSeen: 1_300,
          lastSeen: 1_400,
          partiallyMigrated: true,
          newerVersionsUsed: ['v2'],
          newerRequests: 7,
          sourceAddresses: ['10.0.0.1'],
          userAgents: ['ua/1'],
          gateways: ['g1'],
          routes: [],
        },
      ],
      moved: [
        {
          clientId: 'c3',
          movedAt: 900,
          lastSeenOld: 800,
          newerVersionsUsed: ['v2'],
          requests: 20,
          sourceAddresses: ['10.0.0.3'],
          userAgents: ['ua/1'],
          gateways: ['g1'],
          routes: ['/c'],
        },
      ],
    })
  })

  it.each([
    { name: 'no newer versions: nobody moved', newer: [], stragglers: ['c1', 'c5', 'c2'], moved: [] },
    { name: 'old version v2', newer: [], stragglers: ['c3', 'c2', 'c4'], moved: [], old: 'v2' },
  ])('$name', ({ newer, stragglers, moved, old }) => {
    const r = findStragglers({ oldVersion: old ?? 'v1', newerVersions: newer, recent, history, window })
    expect(r.stragglers.map((s) => s.clientId)).toEqual(stragglers)
    expect(r.moved.map((m) => m.clientId)).toEqual(moved)
  })

  it('counts a client that switched inside the window as moved, not as a straggler', () => {
    const switched = [
      usage({ clientId: 'c7', requests: 6, firstSeen: 1_100, lastSeen: 1_200 }),
      usage({ clientId: 'c7', version: 'v2', requests: 30, firstSeen: 1_300, lastSeen: 1_900 }),
      // Still alternating: the old version after the newer one started.
      usage({ clientId: 'c8', requests: 2, firstSeen: 1_100, lastSeen: 1_600 }),
      usage({ clientId: 'c8', version: 'v2', requests: 4, firstSeen: 1_300, lastSeen: 1_900 }),
    ]
    const r = findStragglers({
      oldVersion: 'v1',
      newerVersions: ['v2'],
      recent: switched,
      history: [],
      window,
    })
    expect(r.stragglers.map((s) => [s.clientId, s.lastSeen, s.partiallyMigrated])).toEqual([
      ['c8', 1_600, true],
    ])
    expect(r.moved.map((m) => [m.clientId, m.movedAt, m.lastSeenOld, m.requests])).toEqual([
      ['c7', 1_300, 1_200, 30],
    ])
  })
})
