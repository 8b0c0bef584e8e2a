// Expands a Grafana ClickHouse data source query the way Grafana and the
// grafana-clickhouse-datasource plugin do before ClickHouse sees it, so tests can
// run the dashboards' panel SQL against the embedded store. Three stages, in the
// plugin's order:
//   1. `$__conditionalAll(cond, $var)`     plugin frontend (CHDatasource.applyConditionalAll)
//   2. template variables                  Grafana templateSrv.replace with the plugin's format function
//   3. time and interval macros            plugin backend (pkg/macros, via sqlutil.Interpolate)
// Everything is a pure function of the SQL text and an explicit time range,
// interval and variable values. Unlike Grafana, unknown variables and macros throw:
// in a test, a typo should fail rather than reach ClickHouse as literal text.

/** Dashboard time range, epoch milliseconds (UTC). */
export interface TimeRange {
  from: number
  to: number
}

/** Selected value of a template variable. */
export interface Variable {
  /** The selection: one value, several (multi-value variable), or `$__all` for All. */
  current: string | readonly string[]
  /** Every option except All; what All expands to when there is no custom all value. */
  options?: readonly string[]
  /** The variable's "custom all value", inserted unformatted when All is selected. */
  allValue?: string
}

export type Variables = Readonly<Record<string, Variable>>

export interface ExpandOptions {
  range: TimeRange
  /** The panel's interval in milliseconds: `$__interval_ms`, and the bucket of `$__timeInterval`. */
  intervalMs: number
  variables?: Variables
}

const ALL = '$__all'

// ---------------------------------------------------------------------------
// Stage 1: $__conditionalAll

/**
 * Arguments of the call whose `(` is at `open`, split at top-level commas and not
 * trimmed (as the plugin's getMacroArgs), and the index just past the closing `)`.
 * Like the plugin, it does not look inside string literals.
 */
function callArgs(sql: string, open: number): { args: string[]; end: number } | null {
  let depth = 0
  let start = open + 1
  const args: string[] = []
  for (let i = open; i < sql.length; i++) {
    const ch = sql[i]
    if (ch === '(') depth++
    else if (ch === ')') {
      depth--
      if (depth === 0) {
        args.push(sql.slice(start, i))
        return { args, end: i + 1 }
      }
    } else if (ch === ',' && depth === 1) {
      args.push(sql.slice(start, i))
      start = i + 1
    }
  }
  return null
}

function isAll(v: Variable): boolean {
  const cur = typeof v.current === 'string' ? v.current : v.current.join(',')
  return cur === ALL || cur === ''
}

/**
 * `$__conditionalAll(condition, $var)` becomes `condition`, or `1=1` when `$var`
 * selects All (or nothing). The second argument must be a plain `$var` or `${var}`.
 */
export function applyConditionalAll(sql: string, variables: Variables = {}): string {
  const macro = '$__conditionalAll('
  let out = sql
  for (let at = out.lastIndexOf(macro); at !== -1; at = out.lastIndexOf(macro)) {
    const call = callArgs(out, at + macro.length - 1)
    if (call?.args.length !== 2) {
      throw new Error(`$__conditionalAll needs exactly two arguments: ${out.slice(at, at + 80)}`)
    }
    const [condition, ref] = call.args as [string, string]
    const name = /^\s*\$(?:\{(\w+)\}|(\w+))\s*$/.exec(ref)
    if (!name)
      throw new Error(`$__conditionalAll: second argument must be $var or \${var}, got "${ref.trim()}"`)
    const varName = (name[1] ?? name[2])!
    const v = variables[varName]
    if (!v) throw new Error(`$__conditionalAll: unknown template variable $${varName}`)
    out = out.slice(0, at) + (isAll(v) ? '1=1' : condition) + out.slice(call.end)
  }
  return out
}

// ---------------------------------------------------------------------------
// Stage 2: template variables

/** Grafana's variable syntax: `$var`, `[[var]]`, `[[var:fmt]]`, `${var}`, `${var:fmt}`, `${var.path}`. */
const VARIABLE_RE = /\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}/g

/** Grafana's formats used by SQL panels; `undefined` is the plugin's own format function. */
function formatValue(value: string | readonly string[], format: string | undefined): string {
  const many = typeof value === 'string' ? null : value
  const quote = (q: string, escaped: string) => (s: string) => q + s.split(q).join(escaped) + q
  switch (format) {
    case undefined:
      // grafana-clickhouse-datasource: arrays become 'a','b'; single values go in as they are.
      return many ? `'${many.join("','")}'` : (value as string)
    case 'singlequote': {
      const f = quote("'", "\\'")
      return many ? many.map(f).join(',') : f(value as string)
    }
    case 'doublequote': {
      const f = quote('"', '\\"')
      return many ? many.map(f).join(',') : f(value as string)
    }
    case 'sqlstring': {
      const f = quote("'", "''")
      return many ? many.map(f).join(',') : f(value as string)
    }
    case 'csv':
    case 'raw':
      return many ? many.join(',') : (value as string)
    default:
      throw new Error(`variable format "${format}" is not supported by this expander`)
  }
}

function variableValue(name: string, v: Variable, format: string | undefined): string {
  const cur = v.current
  const selectsAll = typeof cur === 'string' ? cur === ALL : cur.length === 1 && cur[0] === ALL
  if (selectsAll) {
    // Grafana inserts a custom all value unformatted (except for text/percentencode).
    if (v.allValue !== undefined) return v.allValue
    if (!v.options) throw new Error(`variable $${name} selects All but has no options to expand it to`)
    return formatValue(v.options, format)
  }
  return formatValue(cur, format)
}

/** Global variables Grafana itself fills in; other `$__…` names are left to the macro stage. */
function builtin(name: string, o: ExpandOptions): string | null {
  switch (name) {
    case '__from':
      return String(o.range.from)
    case '__to':
      return String(o.range.to)
    case '__interval_ms':
      return String(o.intervalMs)
    default:
      return null
  }
}

/** Replaces template variables as Grafana's templateSrv does for this data source. */
export function interpolateVariables(sql: string, o: ExpandOptions): string {
  const variables = o.variables ?? {}
  return sql.replace(VARIABLE_RE, (match, p1, p2, p3, p4, path, p6) => {
    const name: string = p1 ?? p2 ?? p4
    const format: string | undefined = p3 ?? p6
    if (name.startsWith('__')) return builtin(name, o) ?? match
    if (path !== undefined) throw new Error(`variable field paths are not supported: ${match}`)
    const v = variables[name]
    if (!v) throw new Error(`unknown template variable ${match}`)
    return variableValue(name, v, format)
  })
}

// ---------------------------------------------------------------------------
// Stage 3: the plugin's macros (pkg/macros/macros.go)

const seconds = (ms: number) => Math.floor(ms / 1000)
const toDateTime = (ms: number) => `toDateTime(${seconds(ms)})`
const toDateTime64 = (ms: number) => `fromUnixTimestamp64Milli(${Math.trunc(ms)})`
const toDate = (ms: number) => `toDate('${new Date(ms).toISOString().slice(0, 10)}')`

type Macro = (args: string[], o: ExpandOptions) => string

function arity(name: string, n: number, args: string[]): void {
  if (args.length !== n) throw new Error(`$__${name}: expected ${n} argument(s), received ${args.length}`)
}

/** `between(col, lo, hi)` → `col >= lo AND col <= hi`, the shape of every plugin filter macro. */
const between = (col: string, lo: string, hi: string) => `${col} >= ${lo} AND ${col} <= ${hi}`

const MACROS: Readonly<Record<string, Macro>> = {
  fromTime: (_a, o) => toDateTime(o.range.from),
  toTime: (_a, o) => toDateTime(o.range.to),
  fromTime_ms: (_a, o) => toDateTime64(o.range.from),
  toTime_ms: (_a, o) => toDateTime64(o.range.to),
  timeFilter: (a, o) => {
    arity('timeFilter', 1, a)
    return between(a[0]!, toDateTime(o.range.from), toDateTime(o.range.to))
  },
  timeFilter_ms: (a, o) => {
    arity('timeFilter_ms', 1, a)
    return between(a[0]!, toDateTime64(o.range.from), toDateTime64(o.range.to))
  },
  dateFilter: (a, o) => {
    arity('dateFilter', 1, a)
    return between(a[0]!, toDate(o.range.from), toDate(o.range.to))
  },
  dateTimeFilter: (a, o) => {
    arity('dateTimeFilter', 2, a)
    const dates = between(a[0]!, toDate(o.range.from), toDate(o.range.to))
    const times = between(a[1]!, toDateTime(o.range.from), toDateTime(o.range.to))
    return `(${dates}) AND (${times})`
  },
  timeInterval: (a, o) => {
    arity('timeInterval', 1, a)
    return `toStartOfInterval(toDateTime(${a[0]}), INTERVAL ${intervalSeconds(o)} second)`
  },
  timeInterval_ms: (a, o) => {
    arity('timeInterval_ms', 1, a)
    const ms = Math.trunc(Math.max(o.intervalMs, 1))
    return `toStartOfInterval(toDateTime64(${a[0]}, 3), INTERVAL ${ms} millisecond)`
  },
  interval_s: (_a, o) => String(intervalSeconds(o)),
}
const ALIASES: Readonly<Record<string, string>> = { dt: 'dateTimeFilter' }

function intervalSeconds(o: ExpandOptions): number {
  return Math.trunc(Math.max(o.intervalMs / 1000, 1))
}

/** Top-level comma split and trim, as sqlutil does with a macro's argument text. */
function macroArgs(sql: string, open: number): { args: string[]; end: number } {
  const call = callArgs(sql, open)
  if (!call) throw new Error(`macro call without closing parenthesis: ${sql.slice(open - 20, open + 40)}`)
  const args = call.args.map((s) => s.trim())
  return { args: args.length === 1 && args[0] === '' ? [] : args, end: call.end }
}

/**
 * Expands `$__name` and `$__name(args)`. Arguments are taken only when `(` follows
 * the name directly, as in current grafana-plugin-sdk-go; nested parentheses stay
 * inside their argument.
 */
export function expandMacros(sql: string, o: ExpandOptions): string {
  let out = ''
  let i = 0
  for (const m of sql.matchAll(/\$__(\w+)/g)) {
    const at = m.index
    if (at < i) continue
    const name = m[1]!
    const macro = MACROS[ALIASES[name] ?? name]
    if (!macro) throw new Error(`unknown macro $__${name}`)
    let end = at + m[0].length
    let args: string[] = []
    if (sql[end] === '(') ({ args, end } = macroArgs(sql, end))
    out += sql.slice(i, at) + macro(args, o)
    i = end
  }
  return out + sql.slice(i)
}

/** The whole pipeline, in the plugin's order. */
export function expandQuery(sql: string, o: ExpandOptions): string {
  return expandMacros(interpolateVariables(applyConditionalAll(sql, o.variables), o), o)
}

// ---------------------------------------------------------------------------
// Portability check

/** Macros that take no arguments. */
const NO_ARGS = new Set(['fromTime', 'toTime', 'fromTime_ms', 'toTime_ms', 'interval_s'])

/**
 * Argument-less macros that an older grafana-plugin-sdk-go would misparse. Before
 * `parseArgs`, sqlutil scanned forward from the macro name to the first `(` (unless a
 * `)` came first) and swallowed everything up to the matching `)` as arguments, so
 * `$__toTime AND f(x)` lost ` AND f(x)`. Writing such macros inside parentheses,
 * `($__toTime - INTERVAL 1 HOUR)`, reads the same on every plugin version. Returns
 * the offending snippets; empty when the SQL is safe.
 */
export function legacyArgumentCapture(sql: string): string[] {
  const problems: string[] = []
  for (const m of sql.matchAll(/\$__(\w+)/g)) {
    if (!NO_ARGS.has(m[1]!)) continue
    const rest = sql.slice(m.index + m[0].length)
    const open = rest.indexOf('(')
    const close = rest.indexOf(')')
    if (open !== -1 && (close === -1 || open < close)) problems.push(sql.slice(m.index, m.index + 60))
  }
  return problems
}
