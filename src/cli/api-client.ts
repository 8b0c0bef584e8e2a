// How CLI commands talk to a running keyshift (`--url`, `$KEYSHIFT_URL`): one
// request helper whose failures name the URL and the cause (connection refused,
// DNS, timeout, a problem+json answer), so a CI log says what went wrong.

export class ApiRequestError extends Error {
  readonly status: number | null
  constructor(message: string, status: number | null, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'ApiRequestError'
    this.status = status
  }
}

/** `ECONNREFUSED`, `ENOTFOUND`, `timeout`...: the innermost cause a failed fetch carries. */
function networkCause(err: unknown): string {
  const e = err as { name?: string; cause?: { code?: string; message?: string } }
  if (e?.name === 'TimeoutError') return 'timed out'
  return e?.cause?.code ?? e?.cause?.message ?? (err as Error)?.message ?? String(err)
}

/** Where a request went, without credentials a URL may carry. */
export function displayUrl(u: URL): string {
  const shown = new URL(u.href)
  shown.username = ''
  shown.password = ''
  shown.search = ''
  return shown.href
}

/**
 * GETs or POSTs `path` (with its query) at `base` with a bearer token and returns the
 * JSON body. Network failures and non-2xx answers throw ApiRequestError naming the URL.
 */
export async function callApi<T>(
  base: string,
  path: string,
  opts: { token?: string; method?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<T> {
  let url: URL
  try {
    url = new URL(path, base)
  } catch {
    throw new ApiRequestError(`--url ${JSON.stringify(base)} is not a URL (e.g. http://127.0.0.1:8080)`, null)
  }
  let res: Response
  try {
    res = await fetch(url, {
      method: opts.method ?? 'GET',
      headers: {
        authorization: `Bearer ${opts.token ?? ''}`,
        ...(opts.body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
    })
  } catch (err) {
    throw new ApiRequestError(`cannot reach keyshift at ${displayUrl(url)}: ${networkCause(err)}`, null, {
      cause: err,
    })
  }
  const body = (await res.json().catch(() => undefined)) as
    | (T & { detail?: string; code?: string })
    | undefined
  if (!res.ok) {
    const detail = body?.detail ?? res.statusText
    throw new ApiRequestError(
      `keyshift at ${displayUrl(url)} answered ${res.status}${body?.code ? ` ${body.code}` : ''}: ${detail}`,
      res.status,
    )
  }
  if (body === undefined)
    throw new ApiRequestError(`keyshift at ${displayUrl(url)} answered no JSON`, res.status)
  return body
}

/** Every item of a paginated list (`?cursor=` / `next_cursor`), page after page. */
export async function callApiAll<T>(
  base: string,
  path: string,
  field: string,
  opts: { token?: string; timeoutMs?: number } = {},
): Promise<T[]> {
  const items: T[] = []
  let cursor: string | null = null
  do {
    const sep = path.includes('?') ? '&' : '?'
    const page: Record<string, unknown> = await callApi<Record<string, unknown>>(
      base,
      cursor === null ? path : `${path}${sep}cursor=${encodeURIComponent(cursor)}`,
      opts,
    )
    items.push(...((page[field] as T[] | undefined) ?? []))
    cursor = (page.next_cursor as string | null | undefined) ?? null
  } while (cursor !== null)
  return items
}
