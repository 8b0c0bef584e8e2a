// Loads lifecycle events from YAML or JSON files: a list of events, or
// `{ events: [...] }`. Each event is scrubbed as it is read (the registry-file
// edge), and event ids default to a keyed content id so loading the same file at
// every start records nothing twice.
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { ValidationError } from '../domain/errors.ts'
import { createInputScrubber } from '../ingest/secrets/input-scrubber.ts'
import { parseLifecycle, type RecordedLifecycleEvent } from './lifecycle-input.ts'

/**
 * The default id of a file event: an HMAC under the pepper (the fingerprinter) of
 * the scrubbed event, never a plain hash. A plain hash of an item holding `secret`
 * would let anyone who reads the store test guesses at the secret offline.
 */
export function fileEventId(scrubbedItem: unknown, fingerprint: (material: string) => string): string {
  return `file:${fingerprint(`lifecycle-file-event\n${JSON.stringify(scrubbedItem)}`).slice(3)}`
}

export async function loadLifecycleFiles(
  paths: readonly string[],
  ctx: { fingerprint: (material: string) => string; now: number },
): Promise<RecordedLifecycleEvent[]> {
  const scrubInput = createInputScrubber(ctx.fingerprint)
  const out: RecordedLifecycleEvent[] = []
  for (const path of paths) {
    const text = await readFile(path, 'utf8')
    let doc: unknown
    try {
      doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
    } catch (err) {
      // Parser messages quote the offending line, which may hold a secret.
      throw new ValidationError(
        `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${scrubInput((err as Error).message)}`,
      )
    }
    const list = Array.isArray(doc) ? doc : (doc as { events?: unknown })?.events
    if (!Array.isArray(list))
      throw new ValidationError(`${path}: expected a list of lifecycle events or { events: [...] }`)
    list.forEach((raw: unknown, i) => {
      const item = scrubInput(raw)
      try {
        out.push(
          parseLifecycle(item, {
            now: ctx.now,
            fingerprint: ctx.fingerprint,
            origin: 'file',
            defaultEventId: fileEventId(item, ctx.fingerprint),
          }),
        )
      } catch (err) {
        throw new ValidationError(`${path}: event #${i + 1}: ${(err as Error).message}`)
      }
    })
  }
  return out
}
