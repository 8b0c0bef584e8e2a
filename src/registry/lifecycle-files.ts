// Loads lifecycle events from YAML or JSON files: a list of events, or
// `{ events: [...] }`. Event ids default to file:line-independent content
// hashes so loading the same file at every start records nothing twice.
import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { parse as parseYaml } from 'yaml'
import { ValidationError } from '../domain/errors.ts'
import { parseLifecycle, type RecordedLifecycleEvent } from './lifecycle-input.ts'

export async function loadLifecycleFiles(
  paths: readonly string[],
  ctx: { fingerprint: (material: string) => string; now: number },
): Promise<RecordedLifecycleEvent[]> {
  const out: RecordedLifecycleEvent[] = []
  for (const path of paths) {
    const text = await readFile(path, 'utf8')
    let doc: unknown
    try {
      doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text)
    } catch (err) {
      throw new ValidationError(
        `${path}: not valid ${path.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message}`,
      )
    }
    const list = Array.isArray(doc) ? doc : (doc as { events?: unknown })?.events
    if (!Array.isArray(list))
      throw new ValidationError(`${path}: expected a list of lifecycle events or { events: [...] }`)
    list.forEach((item, i) => {
      const id = createHash('sha256').update(JSON.stringify(item)).digest('hex').slice(0, 32)
      try {
        out.push(parseLifecycle(item, { ...ctx, origin: 'file', defaultEventId: `file:${id}` }))
      } catch (err) {
        throw new ValidationError(`${path}: event #${i + 1}: ${(err as Error).message}`)
      }
    })
  }
  return out
}
