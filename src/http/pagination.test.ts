import { describe, expect, it } from 'vitest'
import { paginate } from './pagination.ts'

const ids = (n: number) => Array.from({ length: n }, (_, i) => `k${String(i).padStart(3, '0')}`)

describe('cursor pagination', () => {
  it('walks every item once, in sort-key order, page by page', () => {
    const items = ids(7).reverse()
    const seen: string[] = []
    let cursor: string | undefined
    const pages: number[] = []
    do {
      const p = paginate(items, (x) => x, { limit: 3, cursor })
      seen.push(...p.items)
      pages.push(p.items.length)
      cursor = p.next_cursor ?? undefined
    } while (cursor !== undefined)
    expect(pages).toEqual([3, 3, 1])
    expect(seen).toEqual(ids(7))
  })

  it('keeps the boundary when items are added before it or removed', () => {
    const first = paginate(ids(6), (x) => x, { limit: 3 })
    expect(first.items).toEqual(['k000', 'k001', 'k002'])
    const changed = ['k0005', ...ids(6).filter((x) => x !== 'k003')]
    const second = paginate(changed, (x) => x, { limit: 3, cursor: first.next_cursor! })
    expect(second).toEqual({ items: ['k004', 'k005'], next_cursor: null })
  })

  it('answers the last page with next_cursor null, and an exact fit with no extra page', () => {
    expect(paginate(ids(3), (x) => x, { limit: 3 })).toEqual({ items: ids(3), next_cursor: null })
  })

  it('refuses a cursor it did not issue, naming the parameter', () => {
    expect(() => paginate(ids(3), (x) => x, { limit: 3, cursor: 'bm90LWpzb24' })).toThrow(
      'query: cursor: not a cursor this API issued; start again without ?cursor=',
    )
  })
})
