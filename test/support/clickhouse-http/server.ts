// A test-only ClickHouse server: ClickHouse's HTTP interface in front of the
// embedded engine (chDB), as chdb-server did, so the `clickhouse.url` code path
// of keyshift (@clickhouse/client over HTTP) runs for real where no ClickHouse
// server package can be installed. It speaks what that client uses: the query in
// the URL or the body, insert data in the body, settings as URL parameters,
// `param_*` query parameters (in the URL or a multipart body), output formats,
// gzip both ways, X-ClickHouse-* headers, errors as `Code: N. DB::Exception:`
// bodies with X-ClickHouse-Exception-Code, and users by Basic auth,
// X-ClickHouse-User/Key or URL parameters. It can be made unavailable to
// simulate outages. What it does not cover: docs/testing-clickhouse-server.md.
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { promisify } from 'node:util'
import { brotliDecompress, gunzip, gzip, inflate } from 'node:zlib'
import { Session } from 'chdb'

export interface ClickHouseHttpServerOptions {
  /** chDB data directory. */
  path: string
  /** Port to listen on; 0 picks a free one. */
  port?: number
  host?: string
  /** Accepted users; default `{ default: '' }` like a fresh server. */
  users?: Record<string, string>
}

/**
 * How an outage looks to clients:
 * - `refuse`: the server is down. Every new connection is reset as soon as it
 *   is accepted (and counted, so a test can wait until clients felt the outage);
 *   requests in flight lose their response (their query may or may not have
 *   run), like a crash.
 * - `drop-response`: every query runs, then its connection is cut before the
 *   response: the client cannot know the insert landed (the ack-lost case).
 *   With `onlyInsertsInto`, only INSERTs into that table lose their response
 *   (other statements answer normally, so a client gets as far as that insert).
 * - `error`: every request gets a retriable server error (HTTP 503, code 242
 *   TABLE_IS_READ_ONLY, as a replica that lost its coordinator answers).
 */
export type OutageMode = 'refuse' | 'drop-response' | 'error'

export interface OutageOptions {
  onlyInsertsInto?: string
}

export interface ServerStats {
  ok: number
  failed: number
  /** Requests that ran but whose response was cut (an outage). */
  dropped: number
  /** Of those, the INSERTs, by target table (`db.table`): the writes a client cannot know landed. */
  droppedInserts: Record<string, number>
  refusedConnections: number
}

export interface ClickHouseHttpServer {
  readonly url: string
  readonly port: number
  /** Requests answered so far, by outcome. */
  stats(): ServerStats
  /** `onlyInsertsInto` (`db.table`): a `drop-response` outage cuts only the responses of INSERTs into it. */
  outage(mode: OutageMode, opts?: OutageOptions): Promise<void>
  restore(): Promise<void>
  close(): Promise<void>
}

/** URL parameters that are not settings. */
const NON_SETTING_PARAMS = new Set([
  'query',
  'database',
  'default_format',
  'query_id',
  'session_id',
  'session_timeout',
  'session_check',
  'user',
  'password',
  'quota_key',
  'role',
  'compress',
  'decompress',
  'buffer_size',
])

/** Settings that exist only in the HTTP layer: honoured here or ignored, never SET on the engine. */
const HTTP_ONLY_SETTINGS = new Set([
  'wait_end_of_query',
  'send_progress_in_http_headers',
  'http_headers_progress_interval_ms',
  'http_send_progress_interval_ms',
  'http_response_buffer_size',
  'enable_http_compression',
  'http_zlib_compression_level',
  'http_native_compression_disable_checksumming_on_decompress',
  'cancel_http_readonly_queries_on_client_close',
  'http_wait_end_of_query',
])

/**
 * Server defaults that differ from chDB's: a real server quotes 64-bit integers
 * in JSON output unless told otherwise; chDB does not.
 */
const SERVER_DEFAULTS: Record<string, string> = {
  output_format_json_quote_64bit_integers: '1',
}

/** HTTP status a real server answers with, by error code (HTTPHandler's mapping). */
function httpStatusFor(code: number): number {
  if ([192, 193, 194, 516].includes(code)) return 401 // UNKNOWN_USER … AUTHENTICATION_FAILED
  if ([497].includes(code)) return 403 // ACCESS_DENIED
  if ([60, 81].includes(code)) return 404 // UNKNOWN_TABLE, UNKNOWN_DATABASE
  if ([62, 6, 26, 27, 41, 47, 53, 70, 117, 130].includes(code)) return 400 // syntax / parse / type
  return 500
}

const JSON_CONTENT_FORMATS = /^JSON/

class QueryError extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message)
  }
}

function parseEngineError(err: unknown): QueryError {
  const msg = err instanceof Error ? err.message : String(err)
  const m = /Code: (\d+)\. DB::Exception: ([\s\S]*)/.exec(msg)
  if (m) return new QueryError(Number(m[1]), m[2]!.trim())
  return new QueryError(1001, `std::exception: ${msg} (STD_EXCEPTION)`)
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  const raw = Buffer.concat(chunks)
  switch ((req.headers['content-encoding'] ?? '').toLowerCase()) {
    case '':
    case 'identity':
      return raw
    case 'gzip':
      return promisify(gunzip)(raw)
    case 'deflate':
      return promisify(inflate)(raw)
    case 'br':
      return promisify(brotliDecompress)(raw)
    default:
      throw new QueryError(
        115,
        `Unknown Content-Encoding of HTTP request: ${req.headers['content-encoding']} (UNKNOWN_COMPRESSION_METHOD)`,
      )
  }
}

/** The parts of a multipart/form-data body (@clickhouse/client sends long query params that way). */
function multipartFields(body: Buffer, contentType: string): Map<string, string> {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType)
  const fields = new Map<string, string>()
  if (!m) return fields
  const boundary = `--${m[1] ?? m[2]}`
  for (const part of body.toString('utf8').split(boundary)) {
    const headerEnd = part.indexOf('\r\n\r\n')
    if (headerEnd < 0) continue
    const name = /name="([^"]*)"/i.exec(part.slice(0, headerEnd))?.[1]
    if (name === undefined) continue
    let value = part.slice(headerEnd + 4)
    if (value.endsWith('\r\n')) value = value.slice(0, -2)
    fields.set(name, value)
  }
  return fields
}

function credentials(req: IncomingMessage, url: URL): { user: string; password: string } {
  const auth = req.headers.authorization
  if (auth?.startsWith('Basic ')) {
    const decoded = Buffer.from(auth.slice(6), 'base64').toString('utf8')
    const i = decoded.indexOf(':')
    return { user: decoded.slice(0, i < 0 ? undefined : i), password: i < 0 ? '' : decoded.slice(i + 1) }
  }
  const hUser = req.headers['x-clickhouse-user']
  if (typeof hUser === 'string') {
    const key = req.headers['x-clickhouse-key']
    return { user: hUser, password: typeof key === 'string' ? key : '' }
  }
  return { user: url.searchParams.get('user') ?? 'default', password: url.searchParams.get('password') ?? '' }
}

/** `db.table` an INSERT writes to (quotes dropped), or undefined for other statements. */
function insertTarget(sql: string): string | undefined {
  const m = /^\s*INSERT\s+INTO\s+(?:TABLE\s+)?([`"\w.]+)/i.exec(sql)
  return m ? m[1]!.replace(/[`"]/g, '') : undefined
}

const sqlString = (v: string) => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`

export async function startClickHouseHttpServer(
  opts: ClickHouseHttpServerOptions,
): Promise<ClickHouseHttpServer> {
  const users = opts.users ?? { default: '' }
  const host = opts.host ?? '127.0.0.1'
  const session = new Session(opts.path)
  const counts = { ok: 0, failed: 0, dropped: 0, refusedConnections: 0 }
  const droppedInserts: Record<string, number> = {}
  let mode: OutageMode | null = null
  let dropOnly: string | undefined
  const sockets = new Set<Socket>()
  /** Settings SET on the session by the previous request: reset before the next one. */
  let sticky = new Set<string>()
  /** One engine session: requests run one at a time so their SETs cannot interleave. */
  let queue: Promise<unknown> = Promise.resolve()

  function serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = queue.then(fn, fn)
    queue = run.catch(() => undefined)
    return run
  }

  async function execute(
    sql: string,
    settings: Map<string, string>,
    params: Record<string, string>,
    database: string,
    format: string,
  ): Promise<{ body: Buffer; rowsRead: number; bytesRead: number; elapsed: number }> {
    return serial(async () => {
      const effective = new Map(Object.entries(SERVER_DEFAULTS))
      for (const [k, v] of settings) effective.set(k, v)
      for (const k of effective.keys()) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
          throw new QueryError(115, `Unknown setting '${k}' (UNKNOWN_SETTING)`)
      }
      const prefix: string[] = []
      for (const k of sticky) if (!effective.has(k)) prefix.push(`SET ${k} = DEFAULT`)
      for (const [k, v] of effective) prefix.push(`SET ${k} = ${sqlString(v)}`)
      prefix.push(`USE ${database === 'default' ? 'default' : `\`${database.replace(/`/g, '\\`')}\``}`)
      sticky = new Set(effective.keys())
      // Query parameters as `SET param_x = '<value as sent>'`: the engine then parses
      // the value from its escaped text form, as a server does with `param_x=` in
      // the URL. (chDB's binder would escape it a second time.)
      for (const [k, v] of Object.entries(params)) {
        if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k))
          throw new QueryError(36, `Bad query parameter name '${k}' (BAD_ARGUMENTS)`)
        prefix.push(`SET param_${k} = ${sqlString(v)}`)
      }
      const full = `${prefix.join('; ')}; ${sql}`
      try {
        const r = await session.queryAsync(full, { format })
        return {
          body: Buffer.from(r.bytes()),
          rowsRead: r.rowsRead,
          bytesRead: r.bytesRead,
          elapsed: r.elapsed,
        }
      } catch (err) {
        throw parseEngineError(err)
      }
    })
  }

  function sendError(res: ServerResponse, queryId: string, err: QueryError): void {
    counts.failed++
    const body = `Code: ${err.code}. DB::Exception: ${err.message} (version 25.8.1.1 (keyshift test server))\n`
    res.writeHead(httpStatusFor(err.code), {
      'Content-Type': 'text/plain; charset=UTF-8',
      'X-ClickHouse-Query-Id': queryId,
      'X-ClickHouse-Exception-Code': String(err.code),
      'X-ClickHouse-Server-Display-Name': 'keyshift-test-server',
    })
    res.end(body)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const queryId = url.searchParams.get('query_id') || randomUUID()
    if (mode === 'error') {
      counts.failed++
      res.writeHead(503, {
        'Content-Type': 'text/plain; charset=UTF-8',
        'X-ClickHouse-Exception-Code': '242',
        'X-ClickHouse-Query-Id': queryId,
      })
      res.end(
        'Code: 242. DB::Exception: Table is in readonly mode: replica lost its coordinator (TABLE_IS_READ_ONLY) (version 25.8.1.1 (keyshift test server))\n',
      )
      return
    }
    if (
      (url.pathname === '/ping' || url.pathname === '/') &&
      req.method === 'GET' &&
      !url.searchParams.has('query')
    ) {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=UTF-8' })
      res.end('Ok.\n')
      return
    }
    try {
      const { user, password } = credentials(req, url)
      if (users[user] !== password) {
        throw new QueryError(
          516,
          `${user}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)`,
        )
      }
      let body = await readBody(req)
      const params: Record<string, string> = {}
      const settings = new Map<string, string>()
      let urlQuery = url.searchParams.get('query')
      const contentType = req.headers['content-type'] ?? ''
      if (contentType.startsWith('multipart/form-data')) {
        const fields = multipartFields(body, contentType)
        for (const [k, v] of fields) if (k.startsWith('param_')) params[k.slice(6)] = v
        urlQuery = [urlQuery, fields.get('query')].filter((s) => s).join('\n')
        body = Buffer.alloc(0)
      }
      for (const [k, v] of url.searchParams) {
        if (k.startsWith('param_')) params[k.slice(6)] = v
        else if (!NON_SETTING_PARAMS.has(k) && !HTTP_ONLY_SETTINGS.has(k)) settings.set(k, v)
      }
      // The query is the URL's `query` followed by the body (insert data), or the body alone.
      let sql: string
      if (urlQuery) sql = body.length > 0 ? `${urlQuery}\n${body.toString('utf8')}` : urlQuery
      else sql = body.toString('utf8')
      if (sql.trim() === '') throw new QueryError(62, 'Empty query. (SYNTAX_ERROR)')
      const format = url.searchParams.get('default_format') || 'TabSeparated'
      const database = url.searchParams.get('database') || 'default'
      const r = await execute(sql, settings, params, database, format)
      const target = insertTarget(sql)
      if (
        mode === 'refuse' ||
        (mode === 'drop-response' && (dropOnly === undefined || target === dropOnly))
      ) {
        // The query ran; the client never hears of it.
        counts.dropped++
        if (target) droppedInserts[target] = (droppedInserts[target] ?? 0) + 1
        req.socket.destroy()
        return
      }
      let out = r.body
      const headers: Record<string, string> = {
        'Content-Type': JSON_CONTENT_FORMATS.test(format)
          ? 'application/json; charset=UTF-8'
          : 'text/plain; charset=UTF-8',
        'X-ClickHouse-Query-Id': queryId,
        'X-ClickHouse-Format': format,
        'X-ClickHouse-Timezone': settings.get('session_timezone') || 'UTC',
        'X-ClickHouse-Server-Display-Name': 'keyshift-test-server',
        'X-ClickHouse-Summary': JSON.stringify({
          read_rows: String(r.rowsRead),
          read_bytes: String(r.bytesRead),
          written_rows: '0',
          written_bytes: '0',
          total_rows_to_read: '0',
          result_rows: '0',
          result_bytes: String(out.length),
          elapsed_ns: String(Math.round(r.elapsed * 1e9)),
        }),
      }
      const wantsGzip =
        url.searchParams.get('enable_http_compression') === '1' &&
        /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))
      if (wantsGzip) {
        out = await promisify(gzip)(out)
        headers['Content-Encoding'] = 'gzip'
      }
      counts.ok++
      res.writeHead(200, headers)
      res.end(out)
    } catch (err) {
      sendError(res, queryId, err instanceof QueryError ? err : parseEngineError(err))
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) sendError(res, 'unknown', parseEngineError(err))
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 10_000
  server.on('connection', (s: Socket) => {
    if (mode === 'refuse') {
      counts.refusedConnections++
      s.destroy()
      return
    }
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve((server.address() as AddressInfo).port)
      })
    })
  const port = await listen(opts.port ?? 0)

  return {
    url: `http://${host}:${port}`,
    port,
    stats: () => ({ ...counts, droppedInserts: { ...droppedInserts } }),
    async outage(m, o = {}) {
      mode = m
      dropOnly = o.onlyInsertsInto
      // Down: cut every open connection, in-flight requests included; new ones are
      // reset on arrival (see the 'connection' handler).
      if (m === 'refuse') for (const s of sockets) s.destroy()
    },
    async restore() {
      mode = null
    },
    async close() {
      mode = 'refuse'
      for (const s of sockets) s.destroy()
      await new Promise<void>((r) => server.close(() => r()))
      await queue
      session.close()
    },
  }
}
