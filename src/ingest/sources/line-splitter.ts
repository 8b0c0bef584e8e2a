// Splits a byte stream into lines for the file and stdin sources. Pure: no I/O.
// Every line carries the byte offset of its start and of the byte after its
// newline, so sources can store exact resume positions. Memory is bounded: a line
// longer than `maxLineBytes` is kept truncated and flagged, the rest skipped.

import { ConfigError } from '../../domain/errors.ts'
import type { SourceRecord } from '../source.ts'

/** Default line limit: 1 MiB. */
export const DEFAULT_MAX_LINE_BYTES = 1024 * 1024

const LF = 0x0a
const CR = 0x0d

/** One line out of the splitter. Offsets are absolute byte offsets in the stream. */
export interface Line {
  /**
   * The line without its LF and without one trailing CR. When `oversized`, the first
   * `maxLineBytes` bytes of the line. May be a view into a pushed chunk.
   */
  value: Buffer
  /** Byte offset of the line's first byte. */
  offset: number
  /** Byte offset after the line's LF (after its last byte for a flushed, unterminated line). */
  nextOffset: number
  /** The line was longer than `maxLineBytes`; `value` holds only its beginning. */
  oversized: boolean
}

/**
 * The record the file and stdin sources hand to the sink. `oversized` lines must be
 * dead-lettered (their value is truncated, decoding it would read a broken event);
 * their position still advances past them like any other record.
 */
export interface LineRecord extends SourceRecord {
  oversized: boolean
}

/** True for a record a line source flagged as longer than its line limit. */
export function isOversized(record: SourceRecord): boolean {
  return (record as Partial<LineRecord>).oversized === true
}

/**
 * Turns lines into records of `partition`, appending them to `out`. Blank lines carry
 * no event and are skipped: sources resume from the last stored record, so a skipped
 * blank line is at most read (and skipped) again after a restart.
 */
export function appendLineRecords(lines: readonly Line[], partition: number, out: LineRecord[]): void {
  for (const line of lines) {
    if (line.value.length === 0 && !line.oversized) continue
    out.push({
      value: line.value,
      partition,
      offset: BigInt(line.offset),
      nextOffset: BigInt(line.nextOffset),
      oversized: line.oversized,
    })
  }
}

export interface LineSplitterOptions {
  /** Longest line kept whole, in bytes (without LF/CR). Default 1 MiB. */
  maxLineBytes?: number
  /** Absolute offset of the first byte that will be pushed. Default 0. */
  startOffset?: number
}

/**
 * Incremental LF splitter. `push` returns the lines completed by a chunk and holds a
 * trailing partial line until its LF arrives; `flush` emits that partial line (end of
 * input). Returned values may be views into pushed chunks: do not reuse a chunk's
 * memory after pushing it.
 */
export class LineSplitter {
  readonly maxLineBytes: number
  // Parts of the line being assembled, at most maxLineBytes + 1 bytes in total (the
  // extra byte may be a CR that turns out to precede the LF).
  #held: Buffer[] = []
  #heldBytes = 0
  // The held line passed the limit: keep what is held, drop bytes until the next LF.
  #skipping = false
  #lineStart: number
  #end: number

  constructor(opts: LineSplitterOptions = {}) {
    const max = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES
    if (!Number.isSafeInteger(max) || max < 1) {
      throw new ConfigError(
        `maxLineBytes must be a positive whole number of bytes (got ${max}); the default is ${DEFAULT_MAX_LINE_BYTES} (1 MiB)`,
      )
    }
    const start = opts.startOffset ?? 0
    if (!Number.isSafeInteger(start) || start < 0) {
      throw new ConfigError(`startOffset must be a non-negative whole byte offset (got ${start})`)
    }
    this.maxLineBytes = max
    this.#lineStart = start
    this.#end = start
  }

  /** Offset where the next line starts: every byte before it was emitted as part of a line. */
  get lineStart(): number {
    return this.#lineStart
  }

  /** Offset after the last byte pushed. */
  get end(): number {
    return this.#end
  }

  /** Bytes pushed since `lineStart` (a partial line, possibly oversized). */
  get pendingBytes(): number {
    return this.#end - this.#lineStart
  }

  /** Feeds the next chunk of the stream; returns the lines it completes, in order. */
  push(chunk: Buffer): Line[] {
    const base = this.#end
    this.#end += chunk.length
    const out: Line[] = []
    let pos = 0
    for (;;) {
      const lf = chunk.indexOf(LF, pos)
      if (lf === -1) {
        if (pos < chunk.length) this.#hold(chunk.subarray(pos))
        return out
      }
      out.push(this.#finish(chunk.subarray(pos, lf), base + lf + 1))
      pos = lf + 1
    }
  }

  /** End of input: emits the held unterminated line, if any. */
  flush(): Line[] {
    if (this.#end === this.#lineStart) return []
    return [this.#finish(Buffer.alloc(0), this.#end)]
  }

  /** Drops any held bytes and continues as if the stream started at `offset`. */
  reset(offset: number): void {
    this.#clear()
    this.#lineStart = offset
    this.#end = offset
  }

  #hold(part: Buffer): void {
    if (this.#skipping) return
    const room = this.maxLineBytes + 1 - this.#heldBytes
    if (part.length <= room) {
      this.#held.push(part)
      this.#heldBytes += part.length
      return
    }
    this.#held.push(part.subarray(0, room))
    this.#heldBytes += room
    this.#skipping = true
  }

  #finish(tail: Buffer, nextOffset: number): Line {
    let raw: Buffer
    if (this.#heldBytes === 0 && !this.#skipping) {
      raw = tail // fast path: the whole line is inside one chunk
    } else {
      this.#hold(tail)
      raw = this.#held.length === 1 ? this.#held[0]! : Buffer.concat(this.#held, this.#heldBytes)
    }
    const max = this.maxLineBytes
    let oversized = this.#skipping || raw.length > max + 1
    if (!oversized && raw.length > 0 && raw[raw.length - 1] === CR) raw = raw.subarray(0, raw.length - 1)
    if (raw.length > max) oversized = true
    if (oversized) raw = raw.subarray(0, max)
    const line: Line = { value: raw, offset: this.#lineStart, nextOffset, oversized }
    this.#clear()
    this.#lineStart = nextOffset
    return line
  }

  #clear(): void {
    this.#held = []
    this.#heldBytes = 0
    this.#skipping = false
  }
}
