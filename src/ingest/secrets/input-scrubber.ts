// The one rule for every edge that is not a gateway log: a value that enters
// through the API, the CLI, a registry file, the lifecycle topic or config and is
// stored, logged, echoed or sent goes through the same scrubber as gateway logs.
// Each edge calls `scrubInput` once, on everything it received, before any use.

import type { Fingerprinter } from './fingerprint.ts'
import { createDocumentScrubber, scrubText, scrubTextCounted } from './scrub.ts'

/** Returns a copy of `value` with key material fingerprinted (input is not mutated). */
export type InputScrubber = <T>(value: T) => T

/**
 * Deep-scrubs parsed input like a gateway document: values under credential names
 * (`secret`, `token`, `password`, …) are always fingerprinted, every other string is
 * scrubbed as free text (known key formats, `Bearer …`, `name=value` credentials,
 * high-entropy tokens), and object keys are scrubbed too. Fingerprints pass through
 * unchanged, so scrubbing twice (CLI, then API) is harmless.
 */
export function createInputScrubber(fingerprint: Fingerprinter): InputScrubber {
  const scrub = createDocumentScrubber({ fingerprint })
  return <T>(value: T): T => {
    if (value === null || value === undefined) return value
    if (typeof value === 'string') return scrubText(value, fingerprint) as T
    if (typeof value !== 'object') return value
    return scrub(value).value as T
  }
}

/**
 * True when free text holds something the scrubber would replace. Used where a
 * value cannot be rewritten (configuration): the field is refused instead.
 */
export function holdsKeyMaterial(text: string): boolean {
  return scrubTextCounted(text, (m) => m).replaced > 0
}
