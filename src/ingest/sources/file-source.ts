// Follows one log file like `tail -F` and hands its complete lines to the ingest
// pipeline. Partition = the file's inode (a rotated file is another partition),
// offset = byte offset of a line's start. On start the source asks the sink where
// the stored data ends, so a restart resumes there, even in a file rotated meanwhile.

import { createHash, createHmac } from 'node:crypto'
import { type FileHandle, open, readdir, stat } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { ConfigError, KeyshiftError, SourceError } from '../../domain/errors.ts'
import type { Logger } from '../../telemetry/logger.ts'
import type { IngestSink, Source, StoredPosition } from '../source.ts'
import { appendLineRecords, DEFAULT_MAX_LINE_BYTES, type LineRecord, LineSplitter } from './line-splitter.ts'

/** The part of the logger a source uses (a pino `Logger` fits). */
export type SourceLogger = Pick<Logger, 'info' | 'warn' | 'error'>

/** Time, injected so tests control it. `sleep` must resolve (not reject) early when `signal` aborts. */
export interface SourceClock {
  now(): number
  sleep(ms: number, signal: AbortSignal): Promise<void>
}

export const systemClock: SourceClock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined),
}

export interface FileSourceOptions {
  /** The file to follow; made absolute. */
  path: string
  sink: IngestSink
  logger: SourceLogger
  /** How often to look for appended bytes, rotation and truncation once at the end of the file. */
  pollIntervalMs?: number
  /** Bytes read per read call. */
  readChunkBytes?: number
  /** Most records per `sink.submit`. */
  maxBatchRecords?: number
  /** Longest line kept whole; longer lines are truncated and flagged `oversized`. */
  maxLineBytes?: number
  /**
   * Where to start in a file the source has never read. `end` applies only on the very
   * first start (no stored position at all) and only to the file present at that moment.
   */
  startAt?: 'beginning' | 'end'
  /**
   * Key of the digest of the file's first bytes kept in the stored position (the
   * daemon passes its pepper). Those bytes are raw log lines that may hold keys, so
   * the digest is an HMAC: a plain hash would let anyone who reads the store test
   * guesses offline. Without a key (unit tests) a plain sha256 is kept.
   */
  headKey?: string
  clock?: SourceClock
}

export interface FileSource extends Source {
  /**
   * Settles when the source ends: resolves after `stop()`, rejects with the error that
   * ended it (a read failure, or `submit` rejecting with a non-retriable error).
   */
  readonly done: Promise<void>
}

/** What the source stores in `StoredPosition.meta` (JSON). */
export interface FileMeta {
  /** The path the file was opened by (it may have been renamed since). */
  path: string
  /** Fingerprint of the file's first bytes, to tell a reused inode from the file that was read. */
  head?: FileHead
}

/**
 * `hmac`: HMAC-SHA256 under `headKey`. `sha256`: a plain digest, written without a
 * key, and read from positions stored before the digest was keyed (the next
 * position written for that file carries the HMAC).
 */
export type FileHead = { bytes: number; hmac: string } | { bytes: number; sha256: string }

const HEAD_BYTES = 1024
const COMPRESSED = /\.(gz|bz2|xz|zst|lz4|lzma|lz|z|zip|br|7z|tgz)$/i

/** An open file being read. */
interface Tail {
  handle: FileHandle
  path: string
  ino: number
  readPos: number
  /** Size of the file when last seen (open, stat, or a read that reached its end). */
  size: number
  splitter: LineSplitter
  head?: FileMeta['head']
}

export function createFileSource(opts: FileSourceOptions): FileSource {
  const cfg = validate(opts)
  const { sink, logger, clock } = cfg
  const id = `file:${cfg.path}`
  const abort = new AbortController()
  const scratch = Buffer.allocUnsafe(cfg.readChunkBytes)
  let batch: LineRecord[] = []
  let state: 'new' | 'running' | 'stopped' = 'new'
  let startPromise: Promise<void> | undefined
  let loop: Promise<void> | undefined
  let opened = false
  /** The file being read, for the backlog estimate; lines and bytes read so far, for its bytes per line. */
  let reading: Tail | null = null
  let linesRead = 0
  let bytesRead = 0

  let settle!: { resolve: () => void; reject: (err: unknown) => void }
  const done = new Promise<void>((resolve, reject) => {
    settle = { resolve, reject }
  })
  done.catch(() => undefined) // failures are logged; awaiting `done` is optional

  const stopping = () => abort.signal.aborted

  async function start(): Promise<void> {
    if (state === 'stopped')
      throw new SourceError(`${id} was stopped; create a new source`, { retriable: false })
    const stored = await sink.positions(id)
    if (stopping()) return
    state = 'running'
    const byIno = new Map<number, StoredPosition>()
    for (const p of stored) byIno.set(p.partition, p)
    loop = run(byIno).then(
      () => settle.resolve(),
      (err: unknown) => {
        if (stopping()) {
          logger.warn({ source: id, err }, 'File source ended with an error while stopping.')
          settle.resolve()
          return
        }
        const failure =
          err instanceof KeyshiftError
            ? err
            : new SourceError(`Reading ${cfg.path} failed: ${errMessage(err)}`, {
                retriable: true,
                cause: err,
              })
        logger.error({ source: id, err: failure }, 'File source failed and stopped.')
        settle.reject(failure)
      },
    )
  }

  async function run(byIno: Map<number, StoredPosition>): Promise<void> {
    const current = await statFile(cfg.path)
    const startAtEnd = cfg.startAt === 'end' && byIno.size === 0 && current !== null
    let cur: Tail | null = null
    let retired: Tail | null = null
    let firstOpen = true
    let waitingSince: number | null = null
    try {
      await finishRotatedSiblings(byIno, current?.ino)
      while (!stopping()) {
        if (cur === null) {
          const file = await openFile(cfg.path)
          if (file === null) {
            if (waitingSince === null) {
              waitingSince = clock.now()
              logger.info({ source: id, path: cfg.path }, 'Waiting for the log file to appear.')
            }
            await clock.sleep(cfg.pollIntervalMs, abort.signal)
            continue
          }
          if (waitingSince !== null) {
            logger.info(
              { source: id, path: cfg.path, waitedMs: clock.now() - waitingSince },
              'Log file appeared.',
            )
            waitingSince = null
          }
          if (retired !== null && file.ino === retired.ino) {
            // Renamed away and back: the same file, continue where we were.
            await file.handle.close()
            cur = retired
            retired = null
          } else {
            let from = 0
            try {
              if (firstOpen && startAtEnd && file.ino === current?.ino)
                from = await lastLineEnd(file.handle, file.size)
              else if (firstOpen) from = await resumeOffset(file, byIno.get(file.ino))
            } catch (err) {
              await file.handle.close()
              throw err
            }
            cur = tailOf(file, cfg.path, from)
            if (retired !== null) {
              // Nothing will complete the old file's last line now: emit it, then let go.
              // Its records are submitted before any of the new file's.
              const old = retired
              retired = null
              try {
                appendLineRecords(old.splitter.flush(), old.ino, batch)
                await submitAll(old)
              } finally {
                await old.handle.close()
              }
            }
          }
          firstOpen = false
          opened = true
          if (stopping()) break
        }

        await pump(cur)
        if (stopping()) break
        const st = await statFile(cfg.path)
        if (st === null || st.ino !== cur.ino) {
          // Rotated or removed. Read what the writer appended before it reopened, then
          // move on; the old descriptor stays open until the next file is opened so the
          // new file cannot be given the old inode number (which is our partition).
          await pump(cur)
          if (stopping()) break
          logger.info(
            { source: id, path: cfg.path, inode: cur.ino, readBytes: cur.readPos, newInode: st?.ino ?? null },
            'Log file was rotated; finished the old file.',
          )
          retired = cur
          cur = null
          continue
        }
        cur.size = st.size
        if (st.size < cur.readPos) {
          logger.warn(
            { source: id, path: cfg.path, inode: cur.ino, size: st.size, readBytes: cur.readPos },
            'Log file was truncated; reading it again from the start.',
          )
          cur.readPos = 0
          cur.splitter.reset(0)
          cur.head = undefined
          sink.rewind?.(id, cur.ino, 0n)
          continue
        }
        if (st.size > cur.readPos) continue
        await clock.sleep(cfg.pollIntervalMs, abort.signal)
      }
    } finally {
      batch = [] // unsubmitted lines are read again after a restart
      opened = false
      await cur?.handle.close().catch(() => undefined)
      await retired?.handle.close().catch(() => undefined)
    }
  }

  /**
   * After a restart: a file we were reading may have been rotated away meanwhile. If it
   * is still beside the path under a rotated name and has bytes past its stored
   * position, read them first (oldest first) so lines written just before rotation
   * are not lost.
   */
  async function finishRotatedSiblings(
    byIno: Map<number, StoredPosition>,
    currentIno?: number,
  ): Promise<void> {
    if (byIno.size === 0) return
    for (const sib of await rotatedSiblings(cfg.path)) {
      if (stopping()) return
      const pos = byIno.get(sib.ino)
      if (pos === undefined || sib.ino === currentIno) continue
      const from = toSafeNumber(pos.nextOffset, 'stored nextOffset')
      if (sib.size === from) continue
      const file = await openFile(sib.path)
      if (file === null || file.ino !== sib.ino) {
        await file?.handle.close()
        continue
      }
      try {
        const meta = parseMeta(pos.meta)
        if (
          file.size < from ||
          (meta.head && !(await headMatches(file.handle, file.size, meta.head, cfg.headKey)))
        ) {
          logger.warn(
            { source: id, path: sib.path, inode: sib.ino, size: file.size, storedNextOffset: from },
            'A rotated file has the inode of a stored position but not its content; leaving it unread.',
          )
          continue
        }
        logger.info(
          { source: id, path: sib.path, inode: sib.ino, from, size: file.size },
          'Finishing a file that was rotated while the source was stopped.',
        )
        const t = tailOf(file, sib.path, from)
        await pump(t)
        if (stopping()) return
        appendLineRecords(t.splitter.flush(), t.ino, batch)
        await submitAll(t)
      } finally {
        await file.handle.close()
      }
    }
  }

  /** Where to continue in the file found at the path on the first open. */
  async function resumeOffset(file: OpenedFile, pos: StoredPosition | undefined): Promise<number> {
    if (pos === undefined) return 0
    const next = toSafeNumber(pos.nextOffset, 'stored nextOffset')
    const meta = parseMeta(pos.meta)
    const fields = { source: id, path: cfg.path, inode: file.ino, size: file.size, storedNextOffset: next }
    if (file.size < next) {
      logger.warn(
        fields,
        'Log file is shorter than the stored position (truncated); reading it from the start.',
      )
      sink.rewind?.(id, file.ino, 0n)
      return 0
    }
    if (meta.head && !(await headMatches(file.handle, file.size, meta.head, cfg.headKey))) {
      logger.warn(
        fields,
        'Log file content differs from the file the stored position was taken in (inode reused or file rewritten); reading it from the start.',
      )
      sink.rewind?.(id, file.ino, 0n)
      return 0
    }
    if (next > 0) logger.info(fields, 'Resuming the log file at the stored position.')
    return next
  }

  /** Reads `t` to its current end, submitting complete lines in batches as they fill. */
  async function pump(t: Tail): Promise<void> {
    reading = t
    while (!stopping()) {
      const { bytesRead: n } = await t.handle.read(scratch, 0, scratch.length, t.readPos)
      if (n === 0) {
        t.size = t.readPos
        break
      }
      t.readPos += n
      t.size = Math.max(t.size, t.readPos)
      bytesRead += n
      const before = batch.length
      // Copy out of the scratch buffer: record values are views into the chunk.
      appendLineRecords(t.splitter.push(Buffer.from(scratch.subarray(0, n))), t.ino, batch)
      linesRead += batch.length - before
      while (batch.length >= cfg.maxBatchRecords && !stopping()) {
        await submit(t, batch.splice(0, cfg.maxBatchRecords))
      }
    }
    await submitAll(t)
  }

  async function submitAll(t: Tail): Promise<void> {
    while (batch.length > 0 && !stopping()) await submit(t, batch.splice(0, cfg.maxBatchRecords))
  }

  async function submit(t: Tail, records: LineRecord[]): Promise<void> {
    const want = Math.min(HEAD_BYTES, t.readPos)
    if (t.head === undefined || t.head.bytes < want) t.head = await readHead(t.handle, want, cfg.headKey)
    const meta: FileMeta = { path: t.path, head: t.head }
    await sink.submit(id, t.ino, records, JSON.stringify(meta))
  }

  function tailOf(file: OpenedFile, path: string, from: number): Tail {
    return {
      handle: file.handle,
      path,
      ino: file.ino,
      readPos: from,
      size: file.size,
      splitter: new LineSplitter({ maxLineBytes: cfg.maxLineBytes, startOffset: from }),
    }
  }

  return {
    id,
    start() {
      startPromise ??= start()
      return startPromise
    },
    async stop() {
      state = 'stopped'
      abort.abort()
      await startPromise?.catch(() => undefined)
      await loop
      if (loop === undefined) settle.resolve()
    },
    ready: () => opened && !stopping(),
    backlog() {
      // Lines read but not yet handed over, plus the unread rest of the file in
      // lines of the average length read so far.
      const unread = reading ? Math.max(0, reading.size - reading.readPos) : 0
      const perLine = linesRead > 0 ? bytesRead / linesRead : 256
      return batch.length + Math.ceil(unread / perLine)
    },
    done,
  }
}

interface ValidFileSourceOptions {
  path: string
  sink: IngestSink
  logger: SourceLogger
  pollIntervalMs: number
  readChunkBytes: number
  maxBatchRecords: number
  maxLineBytes: number
  startAt: 'beginning' | 'end'
  headKey: string | undefined
  clock: SourceClock
}

function validate(opts: FileSourceOptions): Readonly<ValidFileSourceOptions> {
  if (typeof opts.path !== 'string' || opts.path.length === 0) {
    throw new ConfigError('file source: path must be the path of the log file to follow (got an empty value)')
  }
  const positive = (field: string, value: number | undefined, dflt: number, unit: string): number => {
    const v = value ?? dflt
    if (!Number.isSafeInteger(v) || v < 1) {
      throw new ConfigError(
        `file source: ${field} must be a positive whole number of ${unit} (got ${v}); the default is ${dflt}`,
      )
    }
    return v
  }
  const startAt = opts.startAt ?? 'beginning'
  if (startAt !== 'beginning' && startAt !== 'end') {
    throw new ConfigError(`file source: startAt must be 'beginning' or 'end' (got ${String(startAt)})`)
  }
  return Object.freeze({
    path: resolve(opts.path),
    sink: opts.sink,
    logger: opts.logger,
    pollIntervalMs: positive('pollIntervalMs', opts.pollIntervalMs, 250, 'milliseconds'),
    readChunkBytes: positive('readChunkBytes', opts.readChunkBytes, 1024 * 1024, 'bytes'),
    maxBatchRecords: positive('maxBatchRecords', opts.maxBatchRecords, 10_000, 'records'),
    maxLineBytes: positive('maxLineBytes', opts.maxLineBytes, DEFAULT_MAX_LINE_BYTES, 'bytes'),
    startAt,
    headKey: opts.headKey,
    clock: opts.clock ?? systemClock,
  })
}

interface OpenedFile {
  handle: FileHandle
  ino: number
  size: number
}

/** Opens `path` for reading; null when it does not exist. The inode is taken from the open descriptor. */
async function openFile(path: string): Promise<OpenedFile | null> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null
    throw new SourceError(`Cannot open ${path}: ${errMessage(err)}`, { retriable: true, cause: err })
  }
  try {
    const st = await handle.stat({ bigint: true })
    if (!st.isFile()) {
      throw new SourceError(`${path} is not a regular file; the file source follows regular files only`, {
        retriable: false,
      })
    }
    return { handle, ino: toSafeNumber(st.ino, 'inode'), size: toSafeNumber(st.size, 'file size') }
  } catch (err) {
    await handle.close()
    throw err
  }
}

async function statFile(path: string): Promise<{ ino: number; size: number } | null> {
  try {
    const st = await stat(path, { bigint: true })
    return { ino: toSafeNumber(st.ino, 'inode'), size: toSafeNumber(st.size, 'file size') }
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return null
    throw new SourceError(`Cannot stat ${path}: ${errMessage(err)}`, { retriable: true, cause: err })
  }
}

/**
 * Rotated names of `path` in its directory, oldest first: `path.<anything>` and
 * `path-<anything>` (path.1, path.2024-05-01, path-20240501), compressed ones excluded.
 */
async function rotatedSiblings(path: string): Promise<Array<{ path: string; ino: number; size: number }>> {
  const dir = dirname(path)
  const base = basename(path)
  let names: string[]
  try {
    names = await readdir(dir)
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return []
    throw new SourceError(`Cannot list ${dir}: ${errMessage(err)}`, { retriable: true, cause: err })
  }
  const found: Array<{ path: string; ino: number; size: number; mtimeMs: number }> = []
  for (const name of names) {
    if (!(name.startsWith(`${base}.`) || name.startsWith(`${base}-`)) || COMPRESSED.test(name)) continue
    const p = join(dir, name)
    try {
      const st = await stat(p, { bigint: true })
      if (!st.isFile()) continue
      found.push({
        path: p,
        ino: toSafeNumber(st.ino, 'inode'),
        size: toSafeNumber(st.size, 'file size'),
        mtimeMs: Number(st.mtimeMs),
      })
    } catch (err) {
      if (!isErrno(err, 'ENOENT'))
        throw new SourceError(`Cannot stat ${p}: ${errMessage(err)}`, { retriable: true, cause: err })
    }
  }
  found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.path < b.path ? -1 : 1))
  return found
}

/** Offset after the last LF in the final `DEFAULT_MAX_LINE_BYTES` of the file, so `startAt: 'end'` never starts mid-line. */
async function lastLineEnd(handle: FileHandle, size: number): Promise<number> {
  if (size === 0) return 0
  const len = Math.min(size, DEFAULT_MAX_LINE_BYTES)
  const buf = Buffer.allocUnsafe(len)
  const { bytesRead } = await handle.read(buf, 0, len, size - len)
  const lf = buf.subarray(0, bytesRead).lastIndexOf(0x0a)
  return lf === -1 ? size : size - len + lf + 1
}

async function readHeadBytes(handle: FileHandle, bytes: number): Promise<Buffer> {
  const buf = Buffer.alloc(bytes)
  const { bytesRead } = await handle.read(buf, 0, bytes, 0)
  return buf.subarray(0, bytesRead)
}

const hmacOf = (bytes: Buffer, key: string) => createHmac('sha256', key).update(bytes).digest('hex')
const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

async function readHead(handle: FileHandle, bytes: number, key: string | undefined): Promise<FileHead> {
  const head = await readHeadBytes(handle, bytes)
  return key === undefined
    ? { bytes: head.length, sha256: sha256Of(head) }
    : { bytes: head.length, hmac: hmacOf(head, key) }
}

async function headMatches(
  handle: FileHandle,
  size: number,
  head: FileHead,
  key: string | undefined,
): Promise<boolean> {
  if (size < head.bytes) return false
  const now = await readHeadBytes(handle, head.bytes)
  if (now.length !== head.bytes) return false
  if ('sha256' in head) return sha256Of(now) === head.sha256
  return key !== undefined && hmacOf(now, key) === head.hmac
}

function parseMeta(meta: string): Partial<FileMeta> {
  try {
    const v: unknown = JSON.parse(meta)
    if (typeof v !== 'object' || v === null) return {}
    const o = v as Record<string, unknown>
    const out: Partial<FileMeta> = {}
    if (typeof o.path === 'string') out.path = o.path
    const h = o.head as Record<string, unknown> | undefined
    if (h && typeof h.bytes === 'number' && typeof h.hmac === 'string')
      out.head = { bytes: h.bytes, hmac: h.hmac }
    else if (h && typeof h.bytes === 'number' && typeof h.sha256 === 'string')
      out.head = { bytes: h.bytes, sha256: h.sha256 }
    return out
  } catch {
    return {}
  }
}

function toSafeNumber(v: bigint, what: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SourceError(`${what} ${v} is outside the range the file source supports (0..2^53-1)`, {
      retriable: false,
    })
  }
  return Number(v)
}

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
