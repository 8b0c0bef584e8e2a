// Parses lifecycle events as they arrive from Kafka, files, HTTP and the CLI.
// Raw secrets may be supplied (`secret`) so keyshift can compute the version's
// fingerprint; they are fingerprinted here and never kept.
import { z } from 'zod'
import { ValidationError } from '../domain/errors.ts'
import { LIFECYCLE_ACTIONS, type LifecycleEvent } from '../domain/key-version.ts'
import { instantSchema, instantToMs } from '../shared/instant.ts'

/** Instants up to the store's last (2299-12-31); a later `time` or `expires_at` is refused here. */
const time = instantSchema
const toMs = instantToMs

export const lifecycleInputSchema = z
  .object({
    event_id: z.string().min(1).max(256).optional(),
    key_id: z
      .string()
      .min(1)
      .max(256)
      .regex(/^[A-Za-z0-9._:@/-]+$/, 'may contain letters, digits and . _ : @ / - only'),
    version: z
      .string()
      .min(1)
      .max(64)
      .regex(/^[A-Za-z0-9._-]+$/, 'may contain letters, digits and . _ - only')
      .refine((v) => v !== 'unknown', '"unknown" is reserved for unresolved versions'),
    action: z.enum(LIFECYCLE_ACTIONS),
    time: time.optional(),
    fingerprints: z.array(z.string().regex(/^fp_[0-9a-f]{32}$/, 'must be an fp_… fingerprint')).optional(),
    secret: z.string().min(1).optional(),
    expires_at: time.nullable().optional(),
    scopes: z.array(z.string().max(256)).max(100).optional(),
    owners: z.array(z.string().max(256)).max(50).optional(),
    actor: z.string().max(256).optional(),
    note: z.string().max(2000).optional(),
  })
  .strict()

export type LifecycleInput = z.input<typeof lifecycleInputSchema>

export interface RecordedLifecycleEvent extends LifecycleEvent {
  eventId: string
  origin: string
}

export function parseLifecycle(
  doc: unknown,
  ctx: { now: number; fingerprint: (material: string) => string; origin: string; defaultEventId: string },
): RecordedLifecycleEvent {
  const r = lifecycleInputSchema.safeParse(doc)
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ')
    throw new ValidationError(`invalid lifecycle event: ${issues}`)
  }
  const d = r.data
  const fps = new Set(d.fingerprints ?? [])
  if (d.secret) fps.add(ctx.fingerprint(d.secret))
  const ev: RecordedLifecycleEvent = {
    eventId: d.event_id ?? ctx.defaultEventId,
    origin: ctx.origin,
    keyId: d.key_id,
    version: d.version,
    action: d.action,
    time: d.time === undefined ? ctx.now : toMs(d.time),
  }
  if (fps.size > 0) ev.fingerprints = [...fps].sort()
  if (d.expires_at !== undefined) ev.expiresAt = d.expires_at === null ? null : toMs(d.expires_at)
  if (d.scopes) ev.scopes = d.scopes
  if (d.owners) ev.owners = d.owners
  if (d.actor) ev.actor = d.actor
  if (d.note) ev.note = d.note
  return ev
}
