// Cursor pagination for every /api/v1 list: `?limit=` (1–1000, default 500) and
// `?cursor=` (the `next_cursor` of the previous page, opaque). A cursor holds the
// sort key of the last item returned, so a page boundary stays put when items are
// added or removed elsewhere; each list is ordered by its sort key.
import { z } from 'zod'
import { ValidationError } from '../domain/errors.ts'

export const DEFAULT_PAGE_LIMIT = 500
export const MAX_PAGE_LIMIT = 1000

export const pageQueryShape = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_PAGE_LIMIT)
    .default(DEFAULT_PAGE_LIMIT)
    .describe(`items per page, 1–${MAX_PAGE_LIMIT} (default ${DEFAULT_PAGE_LIMIT})`),
  cursor: z.string().min(1).max(2048).optional().describe('next_cursor of the previous page'),
}

export const nextCursorSchema = z
  .string()
  .nullable()
  .describe('pass as ?cursor= for the next page; null on the last page')

export interface Page<T> {
  items: T[]
  next_cursor: string | null
}

/** The cursor of a page whose last item has sort key `key`. */
export const encodeCursor = (key: string) =>
  Buffer.from(JSON.stringify({ k: key }), 'utf8').toString('base64url')

/** The sort key a cursor holds; a ValidationError when this API did not issue it. */
export function decodeCursor(cursor: string): string {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { k?: unknown }
    if (typeof v.k === 'string') return v.k
  } catch {
    // falls through to the error below
  }
  throw new ValidationError('query: cursor: not a cursor this API issued; start again without ?cursor=')
}

/** Sorts `items` by `sortKey` (unique per item) and returns the page after `cursor`. */
export function paginate<T>(
  items: readonly T[],
  sortKey: (item: T) => string,
  q: { limit: number; cursor?: string | undefined },
): Page<T> {
  const keyed = items.map((item) => ({ item, key: sortKey(item) }))
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor)
  const rest = after === undefined ? keyed : keyed.filter((x) => x.key > after)
  const page = rest.slice(0, q.limit)
  const last = page.at(-1)
  return {
    items: page.map((x) => x.item),
    next_cursor: rest.length > q.limit && last ? encodeCursor(last.key) : null,
  }
}

/** A sort key part that orders numbers correctly as text (non-negative integers). */
export const sortableNumber = (n: number) => String(Math.max(0, Math.trunc(n))).padStart(16, '0')
