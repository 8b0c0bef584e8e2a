// Stage 2 — silence: firing alerts matched by an active silence are not
// notified. A silence matches on type, key, version, scope (globs, any of a
// list) and labels; it is active from startsAt until endsAt, so an expired
// silence is simply ignored. Resolved alerts pass: a receiver that was told
// an alert fired also learns that it is over. Pure, apart from the input
// parsing shared by the HTTP API and the CLI.
import { z } from 'zod'
import type { Alert } from '../../domain/alert.ts'
import { ValidationError } from '../../domain/errors.ts'
import { durationSchema } from '../../shared/duration.ts'
import { INSTANT_TOO_LATE, instantSchema, instantToMs, MAX_INSTANT_MS } from '../../shared/instant.ts'
import { matchesAny, matchesLabels } from '../glob.ts'
import type { LiveAlert, Silence, SilenceMatchers } from './types.ts'

const MAX_SILENCE_MS = 366 * 86_400_000

const globs = z
  .array(
    z
      .string()
      .min(1)
      .max(256)
      .regex(/^[A-Za-z0-9._:@/*?=,-]+$/, 'may use letters, digits, . _ : @ / = , - and the wildcards * ?'),
  )
  .min(1, 'list at least one value')
  .max(50)

export const silenceMatchersSchema = z
  .strictObject({
    type: globs.optional(),
    key: globs.optional(),
    version: globs.optional(),
    scope: globs.optional(),
    labels: z.record(z.string().min(1).max(64), z.string().min(1).max(256)).optional(),
  })
  .refine(
    (m) =>
      m.type !== undefined ||
      m.key !== undefined ||
      m.version !== undefined ||
      m.scope !== undefined ||
      (m.labels !== undefined && Object.keys(m.labels).length > 0),
    'give at least one matcher (type, key, version, scope or labels); a silence of everything is refused',
  )

/** Instants up to the store's last (2299-12-31): later ones would break every silence listing. */
const time = instantSchema

/** The body of `POST /api/v1/silences` (and what `keyshift silence add` builds). */
export const silenceInputSchema = z
  .strictObject({
    matchers: silenceMatchersSchema,
    starts_at: time.optional(),
    ends_at: time.optional(),
    /** e.g. `2h`, `30m`, `1h30m`, `7d` (the grammar of src/shared/duration.ts). */
    duration: durationSchema.optional(),
    created_by: z.string().min(1, 'say who creates the silence').max(256),
    comment: z.string().min(1, 'say why (a ticket, an incident)').max(2000),
  })
  .refine((s) => (s.ends_at === undefined) !== (s.duration === undefined), {
    message: 'give either ends_at or duration (e.g. "2h")',
    path: ['ends_at'],
  })
export type SilenceInput = z.input<typeof silenceInputSchema>

/** Validates a silence request and builds the silence; throws ValidationError naming the field and the fix. */
export function newSilence(input: unknown, now: number, id: string): Silence {
  const r = silenceInputSchema.safeParse(input)
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(silence)'}: ${i.message}`).join('; ')
    throw new ValidationError(`invalid silence: ${issues}`)
  }
  const d = r.data
  const startsAt = d.starts_at === undefined ? now : instantToMs(d.starts_at)
  const endsAt = d.duration !== undefined ? startsAt + d.duration : instantToMs(d.ends_at!)
  if (endsAt <= startsAt) throw new ValidationError('invalid silence: ends_at must be after starts_at')
  if (endsAt <= now)
    throw new ValidationError('invalid silence: ends_at is in the past; it would never apply')
  if (endsAt > MAX_INSTANT_MS) throw new ValidationError(`invalid silence: ends_at ${INSTANT_TOO_LATE}`)
  if (endsAt - startsAt > MAX_SILENCE_MS) {
    throw new ValidationError('invalid silence: a silence may last at most 366 days; fix the cause instead')
  }
  const matchers: SilenceMatchers = {}
  for (const f of ['type', 'key', 'version', 'scope'] as const) if (d.matchers[f]) matchers[f] = d.matchers[f]
  if (d.matchers.labels && Object.keys(d.matchers.labels).length > 0) matchers.labels = d.matchers.labels
  return {
    id,
    matchers,
    startsAt,
    endsAt,
    createdBy: d.created_by,
    comment: d.comment,
    createdAt: now,
    updatedAt: now,
    ver: 1,
  }
}

export function isSilenceActive(s: Pick<Silence, 'startsAt' | 'endsAt'>, now: number): boolean {
  return s.startsAt <= now && now < s.endsAt
}

export function silenceMatches(s: Pick<Silence, 'matchers'>, a: Alert): boolean {
  const m = s.matchers
  return (
    matchesAny(a.type, m.type) &&
    matchesAny(a.keyId, m.key) &&
    matchesAny(a.version, m.version) &&
    matchesAny(a.scope, m.scope) &&
    matchesLabels(a.labels, m.labels)
  )
}

export interface SilenceResult {
  /** Alerts that go on to routing. */
  notify: LiveAlert[]
  /** Alert key → ids of the active silences muting it. */
  silenced: Map<string, string[]>
}

export function applySilences(
  alerts: readonly LiveAlert[],
  silences: readonly Silence[],
  now: number,
): SilenceResult {
  const active = silences.filter((s) => isSilenceActive(s, now))
  const notify: LiveAlert[] = []
  const silenced = new Map<string, string[]>()
  for (const a of alerts) {
    const by =
      a.alert.status === 'firing' ? active.filter((s) => silenceMatches(s, a.alert)).map((s) => s.id) : []
    if (by.length > 0) silenced.set(a.key, by.sort())
    else notify.push(a)
  }
  return { notify, silenced }
}
