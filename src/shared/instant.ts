// The instants keyshift accepts at its edges (HTTP, CLI, registry files, Kafka
// lifecycle events, silences). The store keeps times as DateTime64(3), whose
// range ends at 2299-12-31T23:59:59.999Z: a later instant is refused by the store
// (a 500 after the fact) or stored wrapped, so edges reject it up front.
import { z } from 'zod'

/** Latest instant accepted anywhere: 2299-12-31T23:59:59.999Z, the store's last. */
export const MAX_INSTANT_MS = Date.UTC(2299, 11, 31, 23, 59, 59, 999)

export const INSTANT_TOO_LATE = 'must be before 2300-01-01T00:00:00Z (the latest time the store holds)'

const rfc3339 = z.iso
  .datetime({ offset: true, error: 'must be an RFC 3339 time, e.g. 2026-11-28T15:00:00Z' })
  .refine((v) => !(Date.parse(v) > MAX_INSTANT_MS), INSTANT_TOO_LATE)

/** Epoch milliseconds or an RFC 3339 time with offset, no later than MAX_INSTANT_MS. */
export const instantSchema = z.union([
  z.number().int().nonnegative().max(MAX_INSTANT_MS, INSTANT_TOO_LATE),
  rfc3339,
])

/** The same from a query string, where digits arrive as text. */
export const instantParamSchema = z.union([
  z.coerce.number().int().nonnegative().max(MAX_INSTANT_MS, INSTANT_TOO_LATE),
  rfc3339,
])

export const instantToMs = (v: number | string): number => (typeof v === 'number' ? v : Date.parse(v))
