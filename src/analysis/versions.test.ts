import { describe, expect, it } from 'vitest'
import { keyVersion as kv } from './fixtures.ts'
import {
  compareVersionLabels,
  findVersion,
  newerVersions,
  newestActiveVersion,
  versionsOfKey,
} from './versions.ts'

describe('compareVersionLabels', () => {
  it.each([
    ['v2', 'v10', -1],
    ['v10', 'v2', 1],
    ['v1', 'v1', 0],
    ['v1', 'v1a', -1],
    ['v01', 'v1', 1],
    ['a', 'b', -1],
    ['2024-06', '2024-10', -1],
  ])('%s vs %s', (a, b, sign) => {
    expect(Math.sign(compareVersionLabels(a, b))).toBe(sign)
  })
})

describe('version order', () => {
  const versions = [
    kv('v10', { createdAt: 3_000, state: 'created' }),
    kv('v2', { createdAt: 2_000, activatedAt: 2_500 }),
    kv('v1', { createdAt: 1_000, state: 'deprecated' }),
    kv('v3', { createdAt: 2_000, activatedAt: 2_600 }),
    kv('v1', { keyId: 'other', createdAt: 5_000 }),
  ]

  it.each([
    {
      name: 'oldest first by creation, then label',
      got: () => versionsOfKey(versions, 'acme').map((v) => v.version),
      want: ['v1', 'v2', 'v3', 'v10'],
    },
    {
      name: 'newer than v1',
      got: () => newerVersions(versions, findVersion(versions, 'acme', 'v1')!).map((v) => v.version),
      want: ['v2', 'v3', 'v10'],
    },
    {
      name: 'newer than v3',
      got: () => newerVersions(versions, findVersion(versions, 'acme', 'v3')!).map((v) => v.version),
      want: ['v10'],
    },
    { name: 'newest active', got: () => newestActiveVersion(versions, 'acme')?.version, want: 'v3' },
    { name: 'no active version', got: () => newestActiveVersion(versions, 'nobody'), want: null },
    { name: 'unknown version', got: () => findVersion(versions, 'acme', 'v9'), want: null },
  ])('$name', ({ got, want }) => {
    expect(got()).toEqual(want)
  })
})
