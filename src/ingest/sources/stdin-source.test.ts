import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { ConfigError, SourceError } from '../../domain/errors.ts'
import { createLogger } from '../../telemetry/logger.ts'
import type { IngestSink, SourceRecord, StoredPosition } from '../source.ts'
import { isOversized } from './line-splitter.ts'
import { createStdinSource, STDIN_SOURCE_ID, type StdinSourceOptions } from './stdin-source.ts'

class FakeSink implements IngestSink {
  readonly submits: Array<{ source: string; partition: number; records: SourceRecord[]; at: number }> = []
  positionsCalls = 0
  delayMs = 0
  inFlight = 0
  maxInFlight = 0

  async positions(_source: string): Promise<StoredPosition[]> {
    this.positionsCalls++
    return []
  }

  async submit(source: string, partition: number, records: SourceRecord[]): Promise<void> {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    try {
      if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs))
      this.submits.push({ source, partition, records, at: Date.now() })
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

function setup(opts: Partial<StdinSourceOptions> = {}) {
  const input = new PassThrough()
  const sink = new FakeSink()
  const logs: Array<{ level: string; msg: string }> = []
  const logger = createLogger({
    level: 'debug',
    destination: { write: (s: string) => logs.push(JSON.parse(s)) } as never,
  })
  const src = createStdinSource({ input, sink, logger, ...opts })
  return { input, sink, logs, src }
}

async function waitFor(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe('stdin source', () => {
  it('batches by size, submits the unterminated last line at EOF, then resolves done', async () => {
    const { input, sink, src } = setup({ maxBatchRecords: 3 })
    expect(src.id).toBe(STDIN_SOURCE_ID)
    await src.start()
    expect(src.ready()).toBe(true)
    input.write('l1\nl2\nl3\nl4\nl5\nl6\nl7\ntail')
    input.end()
    await src.done
    expect(sink.submits.map((s) => s.records.length)).toEqual([3, 3, 2])
    expect(sink.lines()).toEqual(['l1', 'l2', 'l3', 'l4', 'l5', 'l6', 'l7', 'tail'])
    expect(sink.records().map((r) => [r.offset, r.nextOffset])).toEqual([
      [0n, 3n],
      [3n, 6n],
      [6n, 9n],
      [9n, 12n],
      [12n, 15n],
      [15n, 18n],
      [18n, 21n],
      [21n, 25n],
    ])
    expect(sink.submits.every((s) => s.source === 'stdin' && s.partition === 0)).toBe(true)
    expect(sink.positionsCalls).toBe(0)
    expect(src.ready()).toBe(false)
  })

  it('submits a partial batch after idleFlushMs without input', async () => {
    const { input, sink, src } = setup({ idleFlushMs: 30 })
    await src.start()
    input.write('a\nb')
    await waitFor(() => sink.submits.length === 1, 'idle flush')
    expect(sink.lines()).toEqual(['a'])
    input.write('\n')
    await waitFor(() => sink.submits.length === 2, 'second flush')
    expect(sink.lines()).toEqual(['a', 'b'])
    input.end()
    await src.done
  })

  it('submits a trickle at the latest maxBatchDelayMs after its first line', async () => {
    const { input, sink, src } = setup({ idleFlushMs: 50, maxBatchDelayMs: 60 })
    await src.start()
    const began = Date.now()
    for (let i = 0; i < 20 && sink.submits.length === 0; i++) {
      input.write(`t${i}\n`)
      await sleep(10)
    }
    expect(sink.submits.length).toBeGreaterThan(0)
    expect(sink.submits[0]!.at - began).toBeLessThan(150)
    input.end()
    await src.done
  })

  it('keeps one submit in flight and resolves done only after the last one', async () => {
    const { input, sink, src } = setup({ maxBatchRecords: 2 })
    sink.delayMs = 20
    await src.start()
    for (let i = 0; i < 9; i++) input.write(`r${i}\n`)
    input.end()
    await src.done
    expect(sink.lines()).toEqual(Array.from({ length: 9 }, (_, i) => `r${i}`))
    expect(sink.maxInFlight).toBe(1)
  })

  it('handles CRLF, oversized lines and string chunks', async () => {
    const { input, sink, src } = setup({ maxLineBytes: 4 })
    input.setEncoding('utf8')
    await src.start()
    input.write('ab\r\ntoo-long-line\r\ncd\n')
    input.end()
    await src.done
    const rs = sink.records()
    expect(rs.map((r) => [r.value.toString(), r.offset, r.nextOffset, isOversized(r)])).toEqual([
      ['ab', 0n, 4n, false],
      ['too-', 4n, 19n, true],
      ['cd', 19n, 22n, false],
    ])
  })

  it('stop() submits the complete lines read so far and drops the unterminated one', async () => {
    const { input, sink, src, logs } = setup({ idleFlushMs: 1000 })
    await src.start()
    input.write('a\nb\npart')
    await sleep(30)
    expect(sink.submits).toEqual([])
    await src.stop()
    await src.done
    expect(sink.lines()).toEqual(['a', 'b'])
    expect(input.destroyed).toBe(true)
    expect(logs.some((l) => l.level === 'warn' && l.msg.includes('unterminated'))).toBe(true)
  })

  it('rejects done when the input fails', async () => {
    const { input, src } = setup()
    await src.start()
    input.destroy(new Error('EIO'))
    await expect(src.done).rejects.toBeInstanceOf(SourceError)
  })

  it('rejects invalid options with a message naming the field', () => {
    expect(() => setup({ maxBatchRecords: 0 })).toThrow(ConfigError)
    expect(() => setup({ idleFlushMs: -1 })).toThrow(/idleFlushMs/)
  })
})
