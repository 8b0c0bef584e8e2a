import { describe, expect, it } from 'vitest'
import { seenByVersion } from './first-last-seen.ts'
import { usage } from './fixtures.ts'

describe('seenByVersion', () => {
  it.each([
    { name: 'nothing', rows: [], want: [] },
    {
      name: 'two versions, several groups',
      rows: [
        usage({ version: 'v2', clientId: 'c1', requests: 5, firstSeen: 500, lastSeen: 900, gateway: 'g2' }),
        usage({ version: 'v1', clientId: 'c1', requests: 10, failures: 1, firstSeen: 100, lastSeen: 400 }),
        usage({
          version: 'v1',
          clientId: 'c2',
          sourceAddress: '10.0.0.2',
          requests: 3,
          firstSeen: 50,
          lastSeen: 300,
        }),
        usage({
          version: 'v1',
          clientId: '',
          sourceAddress: '',
          gateway: 'g3',
          requests: 2,
          firstSeen: 200,
          lastSeen: 450,
        }),
        usage({ version: 'v1', requests: 0, firstSeen: 1, lastSeen: 9999 }),
      ],
      want: [
        {
          version: 'v1',
          firstSeen: 50,
          lastSeen: 450,
          requests: 15,
          failures: 1,
          clients: 2,
          sourceAddresses: 2,
          gateways: ['g1', 'g3'],
        },
        {
          version: 'v2',
          firstSeen: 500,
          lastSeen: 900,
          requests: 5,
          failures: 0,
          clients: 1,
          sourceAddresses: 1,
          gateways: ['g2'],
        },
      ],
    },
  ])('$name', ({ rows, want }) => {
    expect(seenByVersion(rows)).toEqual(want)
  })
})
