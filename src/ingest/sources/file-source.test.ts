import { createHash, createHmac } from 'node:crypto'
import { appendFile, mkdtemp, rename, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConfigError, StoreError } from '../../domain/errors.ts'
import { createLogger } from '../../telemetry/logger.ts'
import type { IngestSink, SourceRecord, StoredPosition } from '../source.ts'
import { createFileSource, type FileSource, type FileSourceOptions } from './file-source.ts'
import { isOversized } from './line-splitter.ts'

/** In-memory sink: stores records and, with them, the partition's position, like the pipeline does. */
class FakeSink implements IngestSink {
  readonly stored = new Map<string, StoredPosition>()
  readonly submits: Array<{ source: string; partition: number; records: SourceRecord[]; meta?: string }> = []
  delayMs = 0
  gate: Promise<void> | null = null
  fail: Error | null = null
  inFlight = 0
  maxInFlight = 0

  async positions(source: string): Promise<StoredPosition[]> {
    return [...this.stored.values()].filter((p) => p.source === source)
  }

  async submit(source: string, partition: number, records: SourceRecord[], meta?: string): Promise<void> {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
      if (this.gate) await this.gate
      if (this.fail) throw this.fail
      this.submits.push({ source, partition, records, meta })
      const last = records[records.length - 1]!
      this.stored.set(`${source}/${partition}`, {
        source,
        partition,
        nextOffset: last.nextOffset,
        pendingLastOffset: null,
        epoch: 0,
        meta: meta ?? '',
        updatedAt: Date.now(),
      })
    } finally {
      this.inFlight--
    }
  }

  records(): SourceRecord[] {
    return this.submits.flatMap((s) => s.records)
  }

  lines(): string[] {
    return this.records().map((r) => r.value.toString())
  }
}

/** Log lines captured from a real pino logger. */
function captureLogger() {
  const logs: Array<{ level: string; msg: string } & Record<string, unknown>> = []
  const logger = createLogger({
    level: 'debug',
    destination: { write: (s: string) => logs.push(JSON.parse(s)) } as never,
  })
  return { logger, logs }
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const inode = async (p: string) => (await stat(p)).ino
const rec = (r: SourceRecord) => ({
  value: r.value.toString(),
  partition: r.partition,
  offset: r.offset,
  nextOffset: r.nextOffset,
})

let dir: string
let path: string
let sink: FakeSink
let log: ReturnType<typeof captureLogger>
const sources: FileSource[] = []

function source(opts: Partial<FileSourceOptions> = {}): FileSource {
  const s = createFileSource({ path, sink, logger: log.logger, pollIntervalMs: 10, ...opts })
  sources.push(s)
  return s
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keyshift-file-source-'))
  path = join(dir, 'auth.log')
  sink = new FakeSink()
  log = captureLogger()
})

afterEach(async () => {
  await Promise.all(sources.splice(0).map((s) => s.stop()))
  await rm(dir, { recursive: true, force: true })
})

describe('file source', () => {
  it('hands over appended lines with inode partition and exact byte offsets', async () => {
    await writeFile(path, 'a\nbb\n')
    const ino = await inode(path)
    const src = source()
    expect(src.id).toBe(`file:${path}`)
    expect(src.ready()).toBe(false)
    await src.start()
    await waitFor(() => sink.records().length === 2, '2 records')
    expect(src.ready()).toBe(true)
    await appendFile(path, 'ccc\n')
    await waitFor(() => sink.records().length === 3, '3 records')
    expect(sink.records().map(rec)).toEqual([
      { value: 'a', partition: ino, offset: 0n, nextOffset: 2n },
      { value: 'bb', partition: ino, offset: 2n, nextOffset: 5n },
      { value: 'ccc', partition: ino, offset: 5n, nextOffset: 9n },
    ])
    expect(sink.submits.every((s) => s.source === `file:${path}` && s.partition === ino)).toBe(true)
    expect(JSON.parse(sink.submits[0]!.meta!)).toMatchObject({ path, head: { bytes: 5 } })
  })

  it('reports its backlog in lines while it is behind, and 0 once everything is stored', async () => {
    // 100 lines of 10 bytes; chunks of 100 bytes; the store holds the first batch.
    await writeFile(
      path,
      Array.from({ length: 100 }, (_, i) => `line-${String(i).padStart(4, '0')}\n`).join(''),
    )
    let release!: () => void
    sink.gate = new Promise((r) => {
      release = r
    })
    const src = source({ readChunkBytes: 100, maxBatchRecords: 10 })
    expect(src.backlog!()).toBe(0) // not started: nothing known yet
    await src.start()
    await waitFor(() => sink.inFlight === 1, 'the first batch held by the store')
    // 10 lines read and handed over (waiting); 900 bytes unread at 10 bytes a line.
    expect(src.backlog!()).toBe(90)
    release()
    sink.gate = null
    await waitFor(() => sink.records().length === 100, '100 records')
    expect(src.backlog!()).toBe(0)
    await appendFile(path, 'line-0100\n')
    await waitFor(() => sink.records().length === 101, 'the appended record')
    expect(src.backlog!()).toBe(0)
  })

  it('holds a partial line until its newline arrives', async () => {
    await writeFile(path, 'par')
    await source().start()
    await sleep(60)
    expect(sink.records()).toEqual([])
    await appendFile(path, 'tial\r\nnext')
    await waitFor(() => sink.records().length === 1, 'the completed line')
    await sleep(40)
    expect(sink.records().map(rec)).toEqual([
      { value: 'partial', partition: await inode(path), offset: 0n, nextOffset: 9n },
    ])
  })

  it('follows rotation by rename + new file without losing or repeating a line', async () => {
    await writeFile(path, 'a\nb\n')
    const oldIno = await inode(path)
    await source().start()
    await waitFor(() => sink.records().length === 2, 'a, b')
    // The writer still appends to the old file just before it is renamed.
    await appendFile(path, 'c\nd')
    await rename(path, `${path}.1`)
    await writeFile(path, 'e\nf\n')
    const newIno = await inode(path)
    await appendFile(path, 'g\n')
    await waitFor(() => sink.records().length === 7, '7 lines')
    await sleep(50)
    expect(sink.lines()).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g'])
    expect(sink.records().map((r) => [r.partition, r.offset])).toEqual([
      [oldIno, 0n],
      [oldIno, 2n],
      [oldIno, 4n],
      [oldIno, 6n], // the old file's unterminated last line, emitted once the new file is open
      [newIno, 0n],
      [newIno, 2n],
      [newIno, 4n],
    ])
    expect(log.logs.some((l) => l.msg === 'Log file was rotated; finished the old file.')).toBe(true)
  })

  it('follows a file that is removed and created again', async () => {
    await writeFile(path, 'a\n')
    await source().start()
    await waitFor(() => sink.records().length === 1, 'a')
    await unlink(path)
    await sleep(40)
    await writeFile(path, 'b\n')
    await waitFor(() => sink.records().length === 2, 'b')
    expect(sink.lines()).toEqual(['a', 'b'])
    expect(sink.records()[1]!.offset).toBe(0n)
  })

  it('after a rotation while stopped, finishes the rotated file first, then reads the new one', async () => {
    await writeFile(path, 'one\ntwo\n')
    const first = source()
    await first.start()
    await waitFor(() => sink.records().length === 2, 'first run')
    await first.stop()
    expect(first.ready()).toBe(false)

    await appendFile(path, 'old-3\nold-4\nold-5\n')
    await rename(path, `${path}.1`)
    await writeFile(path, 'new-1\nnew-2\n')
    await writeFile(`${path}.2.gz`, 'compressed siblings are not read\n')
    const before = sink.records().length
    await source().start()
    await waitFor(() => sink.records().length === before + 5, '5 more lines')
    await sleep(50)
    expect(sink.lines().slice(before)).toEqual(['old-3', 'old-4', 'old-5', 'new-1', 'new-2'])
    expect(sink.records()[before]!.offset).toBe(8n)
  })

  it('restarts at 0 when the file is truncated in place (copytruncate)', async () => {
    await writeFile(path, 'line-1\nline-2\n')
    await source().start()
    await waitFor(() => sink.records().length === 2, 'before truncation')
    await writeFile(`${path}.1`, 'line-1\nline-2\n') // the copy
    await truncate(path, 0)
    await appendFile(path, 'L3\n')
    await waitFor(() => sink.records().length === 3, 'after truncation')
    await sleep(40)
    expect(sink.records().map(rec)[2]).toEqual({
      value: 'L3',
      partition: await inode(path),
      offset: 0n,
      nextOffset: 3n,
    })
    expect(
      log.logs.filter((l) => l.msg === 'Log file was truncated; reading it again from the start.'),
    ).toHaveLength(1)
  })

  it('resumes after a restart at the stored position without duplicates', async () => {
    await writeFile(path, 'a\nb\n')
    const first = source()
    await first.start()
    await waitFor(() => sink.records().length === 2, 'first run')
    await first.stop()
    await appendFile(path, 'c\nd\npar')
    // startAt 'end' only applies to a source with no stored position.
    await source({ startAt: 'end' }).start()
    await waitFor(() => sink.records().length === 4, 'c, d')
    await appendFile(path, 'tial\n')
    await waitFor(() => sink.records().length === 5, 'partial')
    await sleep(40)
    expect(sink.lines()).toEqual(['a', 'b', 'c', 'd', 'partial'])
    expect(sink.records().map((r) => r.offset)).toEqual([0n, 2n, 4n, 6n, 8n])
  })

  it('restarts at 0 after a restart when the file became shorter than the stored position', async () => {
    await writeFile(path, 'aaaa\nbbbb\n')
    const first = source()
    await first.start()
    await waitFor(() => sink.records().length === 2, 'first run')
    await first.stop()
    await writeFile(path, 'c\n') // same inode, shorter
    await source().start()
    await waitFor(() => sink.records().length === 3, 'c')
    expect(sink.records()[2]!.offset).toBe(0n)
    expect(
      log.logs.some((l) => l.level === 'warn' && String(l.msg).includes('shorter than the stored position')),
    ).toBe(true)
  })

  it('reads from 0 when the inode has a stored position but other content (inode reused)', async () => {
    await writeFile(path, 'fresh-1\nfresh-2\n')
    const ino = await inode(path)
    sink.stored.set(`file:${path}/${ino}`, {
      source: `file:${path}`,
      partition: ino,
      nextOffset: 8n,
      pendingLastOffset: null,
      epoch: 0,
      meta: JSON.stringify({ path, head: { bytes: 8, sha256: '0'.repeat(64) } }),
      updatedAt: 0,
    })
    await source().start()
    await waitFor(() => sink.records().length === 2, 'both lines')
    expect(sink.lines()).toEqual(['fresh-1', 'fresh-2'])
  })

  describe('the digest of the first bytes in the stored position (they may hold raw keys)', () => {
    const KEY = 'head-key-from-the-pepper'
    const hmac = (text: string) => createHmac('sha256', KEY).update(text).digest('hex')
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
    const storeAt = async (nextOffset: bigint, head: object) => {
      const ino = await inode(path)
      sink.stored.set(`file:${path}/${ino}`, {
        source: `file:${path}`,
        partition: ino,
        nextOffset,
        pendingLastOffset: null,
        epoch: 0,
        meta: JSON.stringify({ path, head }),
        updatedAt: 0,
      })
    }

    it('is an HMAC under headKey, never a plain hash', async () => {
      await writeFile(path, 'apikey=sk_live_a\n')
      await source({ headKey: KEY }).start()
      await waitFor(() => sink.records().length === 1, 'the line')
      expect(JSON.parse(sink.submits[0]!.meta!)).toEqual({
        path,
        head: { bytes: 17, hmac: hmac('apikey=sk_live_a\n') },
      })
    })

    it('resumes from a position stored with a plain sha256 (before the digest was keyed), then keys it', async () => {
      await writeFile(path, 'old-1\nold-2\n')
      await storeAt(6n, { bytes: 6, sha256: sha256('old-1\n') })
      await source({ headKey: KEY }).start()
      await waitFor(() => sink.records().length === 1, 'the unread line')
      expect(sink.lines()).toEqual(['old-2'])
      expect(JSON.parse(sink.submits[0]!.meta!).head).toEqual({ bytes: 12, hmac: hmac('old-1\nold-2\n') })
    })

    it('reads from 0 when the stored HMAC is not that of the file (another key or other content)', async () => {
      await writeFile(path, 'fresh-1\nfresh-2\n')
      await storeAt(8n, {
        bytes: 8,
        hmac: createHmac('sha256', 'another-key').update('fresh-1\n').digest('hex'),
      })
      await source({ headKey: KEY }).start()
      await waitFor(() => sink.records().length === 2, 'both lines')
      expect(sink.lines()).toEqual(['fresh-1', 'fresh-2'])
    })
  })

  it('starts at the end of the last complete line with startAt end', async () => {
    await writeFile(path, 'old-1\nold-2\npar')
    await source({ startAt: 'end' }).start()
    await sleep(40)
    await appendFile(path, 'tial\nnew\n')
    await waitFor(() => sink.records().length === 2, 'new lines')
    expect(sink.lines()).toEqual(['partial', 'new'])
    expect(sink.records()[0]!.offset).toBe(12n)
  })

  it('handles CRLF line endings', async () => {
    await writeFile(path, 'a\r\nbc\r\n')
    await source().start()
    await waitFor(() => sink.records().length === 2, 'lines')
    expect(sink.records().map((r) => [r.value.toString(), r.offset, r.nextOffset])).toEqual([
      ['a', 0n, 3n],
      ['bc', 3n, 7n],
    ])
  })

  it('flags an oversized line, truncated to the limit, and continues after it', async () => {
    await writeFile(path, `${'x'.repeat(100)}\nok\n`)
    await source({ maxLineBytes: 10, readChunkBytes: 16 }).start()
    await waitFor(() => sink.records().length === 2, 'lines')
    const [big, ok] = sink.records()
    expect(big!.value.toString()).toBe('x'.repeat(10))
    expect([big!.offset, big!.nextOffset, isOversized(big!)]).toEqual([0n, 101n, true])
    expect([ok!.value.toString(), ok!.offset, isOversized(ok!)]).toEqual(['ok', 101n, false])
  })

  it('waits for a missing file, logging once, then reads it from the start', async () => {
    const src = source({ startAt: 'end' })
    await src.start()
    await sleep(80)
    expect(src.ready()).toBe(false)
    await writeFile(path, 'hello\n')
    await waitFor(() => sink.records().length === 1, 'hello')
    expect(src.ready()).toBe(true)
    expect(log.logs.filter((l) => l.msg === 'Waiting for the log file to appear.')).toHaveLength(1)
    expect(log.logs.filter((l) => l.msg === 'Log file appeared.')).toHaveLength(1)
  })

  it('submits at most maxBatchRecords per call, one call at a time', async () => {
    await writeFile(path, Array.from({ length: 10 }, (_, i) => `line-${i}\n`).join(''))
    sink.delayMs = 15
    await source({ maxBatchRecords: 3, readChunkBytes: 8 }).start()
    await waitFor(() => sink.records().length === 10, '10 lines')
    expect(sink.lines()).toEqual(Array.from({ length: 10 }, (_, i) => `line-${i}`))
    expect(sink.submits.every((s) => s.records.length <= 3)).toBe(true)
    expect(sink.maxInFlight).toBe(1)
  })

  it('stop() waits for the submit in flight and closes the file', async () => {
    let release!: () => void
    sink.gate = new Promise((r) => {
      release = r
    })
    await writeFile(path, 'a\n')
    const src = source()
    await src.start()
    await waitFor(() => sink.inFlight === 1, 'a submit in flight')
    let stopped = false
    const stopping = src.stop().then(() => {
      stopped = true
    })
    await sleep(40)
    expect(stopped).toBe(false)
    release()
    await stopping
    await expect(src.done).resolves.toBeUndefined()
    expect(sink.lines()).toEqual(['a'])
    expect(src.ready()).toBe(false)
  })

  it('ends with done rejected when submit rejects with a non-retriable error', async () => {
    sink.fail = new StoreError('rejected', { retriable: false })
    await writeFile(path, 'a\n')
    const src = source()
    await src.start()
    await expect(src.done).rejects.toBe(sink.fail)
    expect(log.logs.some((l) => l.level === 'error')).toBe(true)
  })

  it('rejects invalid options with a message naming the field', () => {
    expect(() => createFileSource({ path: '', sink, logger: log.logger })).toThrow(ConfigError)
    expect(() => createFileSource({ path, sink, logger: log.logger, pollIntervalMs: 0 })).toThrow(
      /pollIntervalMs/,
    )
    expect(() => createFileSource({ path, sink, logger: log.logger, maxBatchRecords: 1.5 })).toThrow(
      /maxBatchRecords/,
    )
  })
})
