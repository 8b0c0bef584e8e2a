// Parses incident requests as they arrive from the CLI, the HTTP API and the
// Kafka lifecycle topic (messages with an `incident` field). Strict: unknown
// fields are rejected and the message names the field. Free text is scrubbed
// later, by the service, before anything is stored or echoed.
import { z } from 'zod'
import { ValidationError } from '../domain/errors.ts'
import { INCIDENT_REASONS, type IncidentReason } from '../domain/incident.ts'
import { lifecycleInputSchema } from '../registry/lifecycle-input.ts'
import { instantSchema, instantToMs } from '../shared/instant.ts'

/** Instants the store holds (up to 2299-12-31), as every edge accepts them. */
const time = instantSchema
const toMs = instantToMs

export const incidentIdSchema = z
  .string()
  .regex(/^inc_[A-Za-z0-9_-]{1,64}$/, 'must look like inc_<letters, digits, _ or ->')
const eventId = z.string().min(1).max(256)
const actor = z.string().max(256)
const note = z.string().max(2000)

export const openIncidentSchema = z.strictObject({
  incident: z.literal('open').optional(),
  incident_id: incidentIdSchema.optional(),
  event_id: eventId.optional(),
  key_id: lifecycleInputSchema.shape.key_id,
  version: lifecycleInputSchema.shape.version,
  reason: z.enum(INCIDENT_REASONS, { error: `must be one of ${INCIDENT_REASONS.join(', ')}` }),
  note: note.optional(),
  actor: actor.optional(),
  /** When the incident opened; default now. The snapshot covers the history before it. */
  time: time.optional(),
})

export const closeIncidentSchema = z.strictObject({
  incident: z.literal('close').optional(),
  incident_id: incidentIdSchema.optional(),
  event_id: eventId.optional(),
  actor: actor.optional(),
  note: note.optional(),
  time: time.optional(),
})

export const acceptBreakageSchema = z.strictObject({
  incident: z.literal('accept_breakage').optional(),
  incident_id: incidentIdSchema.optional(),
  event_id: eventId.optional(),
  actor: actor.min(1, 'say who accepts the breakage'),
  why: note.min(1, 'say why the breakage is accepted'),
  time: time.optional(),
})

export interface OpenRequest {
  incidentId?: string
  eventId?: string
  keyId: string
  version: string
  reason: IncidentReason
  note: string
  actor: string
  time?: number
}

export interface CloseRequest {
  eventId?: string
  actor: string
  note: string
  time?: number
}

export interface AcceptRequest {
  eventId?: string
  actor: string
  why: string
  time?: number
}

export type IncidentMessage =
  | { action: 'open'; request: OpenRequest }
  | { action: 'close'; incidentId: string; request: CloseRequest }
  | { action: 'accept_breakage'; incidentId: string; request: AcceptRequest }

function parse<T extends z.ZodType>(schema: T, doc: unknown, what: string): z.output<T> {
  const r = schema.safeParse(doc)
  if (!r.success) {
    const issues = r.error.issues.map((i) => `${i.path.join('.') || '(body)'}: ${i.message}`).join('; ')
    throw new ValidationError(`invalid ${what}: ${issues}`)
  }
  return r.data
}

const opt = <K extends string, V>(k: K, v: V | undefined) =>
  (v === undefined ? {} : { [k]: v }) as Partial<Record<K, V>>

export function parseOpen(doc: unknown, defaultActor: string): OpenRequest {
  const d = parse(openIncidentSchema, doc, 'incident')
  return {
    ...opt('incidentId', d.incident_id),
    ...opt('eventId', d.event_id),
    keyId: d.key_id,
    version: d.version,
    reason: d.reason,
    note: d.note ?? '',
    actor: d.actor || defaultActor,
    ...opt('time', d.time === undefined ? undefined : toMs(d.time)),
  }
}

export function parseClose(doc: unknown, defaultActor: string): CloseRequest & { incidentId?: string } {
  const d = parse(closeIncidentSchema, doc ?? {}, 'incident close')
  return {
    ...opt('incidentId', d.incident_id),
    ...opt('eventId', d.event_id),
    actor: d.actor || defaultActor,
    note: d.note ?? '',
    ...opt('time', d.time === undefined ? undefined : toMs(d.time)),
  }
}

export function parseAccept(doc: unknown): AcceptRequest & { incidentId?: string } {
  const d = parse(acceptBreakageSchema, doc, 'breakage acceptance')
  return {
    ...opt('incidentId', d.incident_id),
    ...opt('eventId', d.event_id),
    actor: d.actor,
    why: d.why,
    ...opt('time', d.time === undefined ? undefined : toMs(d.time)),
  }
}

/** True for a lifecycle-topic message that is about an incident rather than a key version. */
export function isIncidentMessage(doc: unknown): boolean {
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc) && 'incident' in doc
}

/**
 * A lifecycle-topic message about an incident: `{"incident": "open" | "close" |
 * "accept_breakage", ...}`. `close` and `accept_breakage` name the incident.
 */
export function parseIncidentMessage(doc: unknown, defaultActor: string): IncidentMessage {
  const kind = (doc as { incident?: unknown }).incident
  if (kind === 'open') return { action: 'open', request: parseOpen(doc, defaultActor) }
  if (kind === 'close' || kind === 'accept_breakage') {
    const r = kind === 'close' ? parseClose(doc, defaultActor) : parseAccept(doc)
    if (r.incidentId === undefined)
      throw new ValidationError(`invalid incident ${kind}: incident_id: required`)
    const { incidentId, ...request } = r
    return kind === 'close'
      ? { action: 'close', incidentId, request: request as CloseRequest }
      : { action: 'accept_breakage', incidentId, request: request as AcceptRequest }
  }
  throw new ValidationError('invalid incident message: incident: must be one of open, close, accept_breakage')
}
