// Dead-letter destination for file and stdin sources: one JSON line per record
// with the reason, the source position and the (scrubbed) original bytes in
// base64, appended and fsynced before the batch is committed.
import { mkdir, open } from 'node:fs/promises'
import { dirname } from 'node:path'
import { SourceError } from '../domain/errors.ts'
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../shared/private-files.ts'
import type { DeadLetter, DeadLetterSink } from './pipeline.ts'

export class FileDeadLetterSink implements DeadLetterSink {
  readonly #path: string
  readonly #clock: () => number
  constructor(path: string, clock: () => number = Date.now) {
    this.#path = path
    this.#clock = clock
  }

  async send(letters: readonly DeadLetter[]): Promise<void> {
    const now = new Date(this.#clock()).toISOString()
    const text = letters
      .map((l) =>
        JSON.stringify({
          time: now,
          reason: l.reason,
          detail: l.detail,
          source: l.source,
          partition: l.partition,
          offset: l.offset.toString(),
          id: `${l.source}/${l.partition}/${l.offset}`,
          value_base64: l.bytes.toString('base64'),
        }),
      )
      .join('\n')
    try {
      await mkdir(dirname(this.#path), { recursive: true, mode: PRIVATE_DIR_MODE })
      const fh = await open(this.#path, 'a', PRIVATE_FILE_MODE)
      try {
        await fh.write(`${text}\n`)
        await fh.sync()
      } finally {
        await fh.close()
      }
    } catch (err) {
      throw new SourceError(`appending to the dead-letter file ${this.#path} failed`, {
        retriable: true,
        cause: err,
      })
    }
  }
}
