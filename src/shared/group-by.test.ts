import { describe, expect, it } from 'vitest'
import { groupBy } from './group-by.ts'

describe('groupBy', () => {
  it('groups in first-seen key order, keeping each group in input order', () => {
    const got = groupBy(['b1', 'a1', 'b2', 'c1', 'a2'], (s) => s[0])
    expect([...got]).toEqual([
      ['b', ['b1', 'b2']],
      ['a', ['a1', 'a2']],
      ['c', ['c1']],
    ])
    expect(groupBy([], (s: string) => s).size).toBe(0)
  })
})
