// Reads log lines from stdin (or any readable stream) and hands them to the ingest
// pipeline in batches. A stream has no position to resume at: partition 0, offsets
// are byte offsets since the source started, and the stored position is never read.

import { ConfigError, KeyshiftError, SourceError } from '../../domain/errors.ts'
import type { IngestSink, Source } from '../source.ts'
import type { SourceClock, SourceLogger } from './file-source.ts'
import { systemClock } from './file-source.ts'
import { appendLineRecords, DEFAULT_MAX_LINE_BYTES, type LineRecord, LineSplitter } from './line-splitter.ts'

export const STDIN_SOURCE_ID = 'stdin'
export const STDIN_PARTITION = 0

export interface StdinSourceOptions {
  /** Default `process.stdin`. The source consumes it; `stop()` before its end destroys it. */
  input?: NodeJS.ReadableStream
  sink: IngestSink
  logger: SourceLogger
  /** Most records per `sink.submit`; a full batch is submitted at once. */
  maxBatchRecords?: number
  /** A non-full batch is submitted after this long without new input. */
  idleFlushMs?: number
  /** ...and at the latest this long after its first record arrived (steady trickles). */
  maxBatchDelayMs?: number
  /** Longest line kept whole; longer lines are truncated and flagged `oversized`. */
  maxLineBytes?: number
  clock?: SourceClock
}

export interface StdinSource extends Source {
  /**
   * Resolves once the input ended (or `stop()` was called) and every line read was
   * submitted, the last unterminated line included at EOF. Rejects when the input
   * fails or `submit` rejects: those lines cannot be read again.
   */
  readonly done: Promise<void>
}

const STOP = Symbol('stop')
const IDLE = Symbol('idle')

export function createStdinSource(opts: StdinSourceOptions): StdinSource {
  const positive = (field: string, value: number | undefined, dflt: number, unit: string): number => {
    const v = value ?? dflt
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new ConfigError(
        `stdin source: ${field} must be a positive whole number of ${unit} (got ${v}); the default is ${dflt}`,
      )
    }
    return v
  }
  const cfg = Object.freeze({
    input: opts.input ?? process.stdin,
    maxBatchRecords: positive('maxBatchRecords', opts.maxBatchRecords, 10_000, 'records'),
    idleFlushMs: positive('idleFlushMs', opts.idleFlushMs, 200, 'milliseconds'),
    maxBatchDelayMs: positive('maxBatchDelayMs', opts.maxBatchDelayMs, 1_000, 'milliseconds'),
    maxLineBytes: positive('maxLineBytes', opts.maxLineBytes, DEFAULT_MAX_LINE_BYTES, 'bytes'),
  })
  const { sink, logger } = opts
  const clock = opts.clock ?? systemClock
  const splitter = new LineSplitter({ maxLineBytes: cfg.maxLineBytes })
  let batch: LineRecord[] = []
  let firstPendingAt = 0
  let running = false
  let loop: Promise<void> | undefined
  let ended = false

  let stopping = false
  let requestStop!: () => void
  const stopRequested = new Promise<typeof STOP>((resolve) => {
    requestStop = () => {
      stopping = true
      resolve(STOP)
    }
  })
  let settle!: { resolve: () => void; reject: (err: unknown) => void }
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject }
  })
  done.catch(() => undefined) // failures are logged; awaiting `done` is optional

  function submit(records: LineRecord[]): Promise<void> {
    return sink.submit(STDIN_SOURCE_ID, STDIN_PARTITION, records)
  }

  async function submitAll(): Promise<void> {
    while (batch.length > 0) await submit(batch.splice(0, cfg.maxBatchRecords))
  }

  /** Waits for the next chunk; with a batch pending, at most until it is due. */
  async function nextEvent(
    next: Promise<IteratorResult<string | Buffer>>,
  ): Promise<IteratorResult<string | Buffer> | typeof STOP | typeof IDLE> {
    if (stopping) return STOP
    if (batch.length === 0) return Promise.race([stopRequested, next])
    const wait = Math.max(0, Math.min(cfg.idleFlushMs, firstPendingAt + cfg.maxBatchDelayMs - clock.now()))
    const timer = new AbortController()
    try {
      return await Promise.race([
        stopRequested,
        next,
        clock.sleep(wait, timer.signal).then((): typeof IDLE => IDLE),
      ])
    } finally {
      timer.abort()
    }
  }

  async function run(): Promise<void> {
    const it = cfg.input[Symbol.asyncIterator]() as AsyncIterator<string | Buffer>
    const pull = () => {
      const p = it.next()
      p.catch(() => undefined) // may be left pending at stop; its failure then matters to no one
      return p
    }
    let next = pull()
    for (;;) {
      const ev = await nextEvent(next)
      if (ev === STOP) break
      if (ev === IDLE) {
        await submitAll()
        continue
      }
      if (ev.done) {
        ended = true
        break
      }
      const chunk = typeof ev.value === 'string' ? Buffer.from(ev.value) : ev.value
      const before = batch.length
      appendLineRecords(splitter.push(chunk), STDIN_PARTITION, batch)
      if (before === 0 && batch.length > 0) firstPendingAt = clock.now()
      // Submitting before pulling the next chunk is the backpressure: the stream pauses.
      while (batch.length >= cfg.maxBatchRecords) await submit(batch.splice(0, cfg.maxBatchRecords))
      next = pull()
    }
    if (ended) {
      appendLineRecords(splitter.flush(), STDIN_PARTITION, batch)
    } else {
      if (splitter.pendingBytes > 0) {
        logger.warn(
          { source: STDIN_SOURCE_ID, droppedBytes: splitter.pendingBytes },
          'Stdin source stopped before the input ended; dropped the unterminated last line.',
        )
      }
      // Stop reading: a pending read would keep the process alive.
      const stream = cfg.input as NodeJS.ReadableStream & { destroy?: () => void }
      stream.destroy?.()
    }
    await submitAll()
    logger.info(
      { source: STDIN_SOURCE_ID, bytes: splitter.end, endOfInput: ended },
      ended ? 'Stdin source read the whole input.' : 'Stdin source stopped.',
    )
  }

  return {
    id: STDIN_SOURCE_ID,
    async start() {
      if (loop !== undefined) return
      running = true
      loop = run().then(
        () => {
          running = false
          settle.resolve()
        },
        (err: unknown) => {
          running = false
          const failure =
            err instanceof KeyshiftError
              ? err
              : new SourceError(`Reading stdin failed: ${err instanceof Error ? err.message : String(err)}`, {
                  retriable: false,
                  cause: err,
                })
          logger.error(
            { source: STDIN_SOURCE_ID, err: failure, unsubmittedRecords: batch.length },
            'Stdin source failed; lines read but not stored are lost.',
          )
          batch = []
          settle.reject(failure)
        },
      )
    },
    async stop() {
      requestStop()
      if (loop === undefined) settle.resolve()
      await loop
    },
    ready: () => running,
    done,
  }
}
