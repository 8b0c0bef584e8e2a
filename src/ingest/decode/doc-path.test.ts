import { describe, expect, it } from 'vitest'
import { parsePath, readPath } from './doc-path.ts'

describe('parsePath', () => {
  it.each([
    ['a', ['a']],
    ['request.headers.apikey', ['request', 'headers', 'apikey']],
    ['request.headers["x-api-key"]', ['request', 'headers', 'x-api-key']],
    ["a['b.c'].d", ['a', 'b.c', 'd']],
    ['tags[0]', ['tags', '0']],
    ['rows[1][2].k', ['rows', '1', '2', 'k']],
    ['request_X-Api-Key', ['request_X-Api-Key']],
    ['$context.identity.apiKeyId', ['$context', 'identity', 'apiKeyId']],
    ['["a\\"b"]', ['a"b']],
  ])('%s', (path, expected) => {
    expect(parsePath(path)).toEqual(expected)
  })

  it.each(['', 'a.', '.a', 'a..b', 'a[', 'a[x]', 'a["b"]c', 'a]b['])('rejects %j', (path) => {
    expect(() => parsePath(path)).toThrow()
  })
})

describe('readPath', () => {
  const doc = { a: { 'b.c': [{ d: 1 }, { d: 2 }] }, s: 'str' }
  it.each([
    ['a["b.c"][1].d', 2],
    ['a["b.c"][5].d', undefined],
    ['a["b.c"].d', undefined],
    ['s.length', undefined],
    ['missing.x', undefined],
    ['toString', undefined],
  ])('%s', (path, expected) => {
    expect(readPath(doc, parsePath(path))).toBe(expected)
  })
})
