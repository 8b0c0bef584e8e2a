import { describe, expect, it } from 'vitest'
import { keysPerRead } from './usage-anomalies.ts'

describe('keysPerRead: about 25 000 buckets per read, 10 to 2 000 keys', () => {
  it.each([
    [2_304, 10], // a new key's 8 days of 5-min buckets: floor(25 000 / 2 304) = 10
    [100, 250], // floor(25 000 / 100)
    [12, 2_000], // an hour of buckets: 2 083, capped at 2 000
    [1, 2_000], // the usual bucket since the last read
    [0, 2_000], // an empty window counts as one bucket
    [100_000, 10], // never fewer than 10
  ])('%i buckets → %i keys', (buckets, keys) => {
    expect(keysPerRead(buckets)).toBe(keys)
  })
})
