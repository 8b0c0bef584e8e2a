import { describe, expect, it } from 'vitest'
import { ConfigError } from '../../domain/errors.ts'
import { appendLineRecords, isOversized, type Line, type LineRecord, LineSplitter } from './line-splitter.ts'

type Plain = { value: string; offset: number; nextOffset: number; oversized: boolean }
const plain = (lines: Line[]): Plain[] => lines.map((l) => ({ ...l, value: l.value.toString('latin1') }))
const line = (value: string, offset: number, nextOffset: number, oversized = false): Plain => ({
  value,
  offset,
  nextOffset,
  oversized,
})

/** Pushes `input` cut at `cuts` and flushes; returns every line. */
function split(input: string, cuts: number[], maxLineBytes?: number, startOffset?: number): Plain[] {
  const s = new LineSplitter({ maxLineBytes, startOffset })
  const buf = Buffer.from(input, 'latin1')
  const out: Line[] = []
  let from = 0
  for (const cut of [...cuts, buf.length]) {
    out.push(...s.push(buf.subarray(from, cut)))
    from = cut
  }
  out.push(...s.flush())
  return plain(out)
}

describe('LineSplitter', () => {
  it.each([
    ['LF lines', 'ab\ncde\n', 10, [line('ab', 0, 3), line('cde', 3, 7)]],
    ['CRLF lines lose the CR', 'ab\r\ncd\r\n', 10, [line('ab', 0, 4), line('cd', 4, 8)]],
    ['only one trailing CR is stripped', 'a\r\r\n', 10, [line('a\r', 0, 4)]],
    ['CR inside a line is kept', 'a\rb\n', 10, [line('a\rb', 0, 4)]],
    ['empty lines are emitted', '\n\r\nx\n', 10, [line('', 0, 1), line('', 1, 3), line('x', 3, 5)]],
    ['unterminated last line is emitted by flush', 'ab\ncd', 10, [line('ab', 0, 3), line('cd', 3, 5)]],
    ['a line of exactly the limit is whole', 'abcd\n', 4, [line('abcd', 0, 5)]],
    ['limit + CR is whole', 'abcd\r\n', 4, [line('abcd', 0, 6)]],
    ['limit + 1 is oversized', 'abcde\nf\n', 4, [line('abcd', 0, 6, true), line('f', 6, 8)]],
    ['limit + 1 + CR is oversized', 'abcde\r\nf\n', 4, [line('abcd', 0, 7, true), line('f', 7, 9)]],
    ['a long line is cut to the limit', 'abcdefghij\nk\n', 3, [line('abc', 0, 11, true), line('k', 11, 13)]],
    ['flush of an oversized partial line', 'abcdefg', 3, [line('abc', 0, 7, true)]],
  ])('%s, for every way to cut the input in two and three', (_name, input, max, expected) => {
    expect(split(input, [], max)).toEqual(expected)
    for (let i = 0; i <= input.length; i++) {
      expect(split(input, [i], max), `cut at ${i}`).toEqual(expected)
      for (let j = i; j <= input.length; j++)
        expect(split(input, [i, j], max), `cuts ${i},${j}`).toEqual(expected)
    }
  })

  it('holds a partial line until its newline arrives', () => {
    const s = new LineSplitter()
    expect(s.push(Buffer.from('abc'))).toEqual([])
    expect(s.pendingBytes).toBe(3)
    expect(s.lineStart).toBe(0)
    expect(plain(s.push(Buffer.from('de\nf')))).toEqual([line('abcde', 0, 6)])
    expect(s.lineStart).toBe(6)
    expect(s.end).toBe(7)
    expect(s.flush().length).toBe(1)
    expect(s.flush()).toEqual([])
  })

  it('counts offsets from startOffset and from reset()', () => {
    expect(split('a\nb\n', [], undefined, 100)).toEqual([line('a', 100, 102), line('b', 102, 104)])
    const s = new LineSplitter()
    s.push(Buffer.from('held'))
    s.reset(0)
    expect(plain(s.push(Buffer.from('x\n')))).toEqual([line('x', 0, 2)])
  })

  it('keeps at most maxLineBytes + 1 bytes of a line without newline', () => {
    const s = new LineSplitter({ maxLineBytes: 8 })
    for (let i = 0; i < 1000; i++) s.push(Buffer.alloc(1024, 0x61))
    const [l] = s.push(Buffer.from('\n'))
    expect(l).toMatchObject({ offset: 0, nextOffset: 1024 * 1000 + 1, oversized: true })
    expect(l?.value.toString()).toBe('aaaaaaaa')
  })

  it('rejects a limit that is not a positive whole number', () => {
    expect(() => new LineSplitter({ maxLineBytes: 0 })).toThrow(ConfigError)
    expect(() => new LineSplitter({ maxLineBytes: 1.5 })).toThrow(/maxLineBytes/)
  })
})

describe('appendLineRecords', () => {
  it('makes records with bigint offsets, keeps oversized flags and skips blank lines', () => {
    const lines = new LineSplitter({ maxLineBytes: 2 }).push(Buffer.from('a\n\n\r\nlong\nb\n'))
    const out: LineRecord[] = []
    appendLineRecords(lines, 7, out)
    expect(out.map((r) => ({ ...r, value: r.value.toString() }))).toEqual([
      { value: 'a', partition: 7, offset: 0n, nextOffset: 2n, oversized: false },
      { value: 'lo', partition: 7, offset: 5n, nextOffset: 10n, oversized: true },
      { value: 'b', partition: 7, offset: 10n, nextOffset: 12n, oversized: false },
    ])
    expect(out.map(isOversized)).toEqual([false, true, false])
    expect(isOversized({ value: Buffer.from('x'), partition: 0, offset: 0n, nextOffset: 1n })).toBe(false)
  })
})
