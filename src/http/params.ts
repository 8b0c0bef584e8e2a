// Validation of path and query parameters for every /api/v1 route: one strict
// zod schema per route, so an unknown or repeated parameter is a 400 naming the
// accepted ones, never silently ignored. Unknown names are not echoed (a client
// may put anything there, a key included).
import { z } from 'zod'
import { ValidationError } from '../domain/errors.ts'

/** Parses `value` (req.params or req.query) or throws a ValidationError that starts with `what`. */
export function parseParams<T extends z.ZodType>(schema: T, value: unknown, what: string): z.output<T> {
  const r = schema.safeParse(value)
  if (!r.success) {
    const accepted = schema instanceof z.ZodObject ? Object.keys(schema.shape).join(', ') : ''
    const message = (i: z.core.$ZodIssue) =>
      i.code === 'unrecognized_keys' ? `unknown parameter(s); accepted: ${accepted || 'none'}` : i.message
    throw new ValidationError(
      `${what}: ${r.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${message(i)}`).join('; ')}`,
    )
  }
  return r.data
}

/** A route that takes no query parameters. */
export const noQuery = z.object({}).strict()
