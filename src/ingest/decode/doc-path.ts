// Paths into parsed JSON documents, as written in config: `request.headers.apikey`,
// `request.headers["x-api-key"]`, `tags[0]`. Parsed once at config time into
// segments; reading a path is then a plain loop with no string work.

/** A parsed path: object keys and array indexes (as strings), outermost first. */
export type DocPath = readonly string[]

/**
 * Parses a path. Segments are separated by `.`; a segment holding dots, dashes,
 * spaces or quotes is written in brackets with quotes (`["x-api-key"]`, `['a.b']`);
 * `[3]` is an array index. Throws an `Error` naming the position on bad syntax.
 */
export function parsePath(path: string): DocPath {
  const out: string[] = []
  let i = 0
  const n = path.length
  if (n === 0) throw new Error('path is empty')
  let expectSegment = true
  while (i < n) {
    const c = path[i]!
    if (c === '[') {
      const close = path.indexOf(']', i)
      if (close < 0) throw new Error(`unclosed "[" at position ${i} in path "${path}"`)
      const inner = path.slice(i + 1, close).trim()
      const q = inner[0]
      if ((q === '"' || q === "'") && inner.length >= 2 && inner[inner.length - 1] === q) {
        // Quoted key; `]` inside quotes is not supported (no gateway uses it).
        out.push(inner.slice(1, -1).replace(/\\(["'\\])/g, '$1'))
      } else if (/^\d+$/.test(inner)) {
        out.push(inner)
      } else {
        throw new Error(`bracket segment at position ${i} in path "${path}" must be a quoted key or an index`)
      }
      i = close + 1
      expectSegment = false
      if (i < n && path[i] === '.') {
        i++
        expectSegment = true
        if (i >= n) throw new Error(`path "${path}" ends with "."`)
      } else if (i < n && path[i] !== '[') {
        throw new Error(`expected "." or "[" at position ${i} in path "${path}"`)
      }
      continue
    }
    if (!expectSegment) throw new Error(`expected "." or "[" at position ${i} in path "${path}"`)
    let j = i
    while (j < n && path[j] !== '.' && path[j] !== '[') j++
    if (j === i) throw new Error(`empty segment at position ${i} in path "${path}"`)
    out.push(path.slice(i, j))
    i = j
    expectSegment = false
    if (i < n && path[i] === '.') {
      i++
      expectSegment = true
      if (i >= n) throw new Error(`path "${path}" ends with "."`)
    }
  }
  return out
}

/** Reads a parsed path; `undefined` when any step is missing or not a container. */
export function readPath(doc: unknown, path: DocPath): unknown {
  let cur: unknown = doc
  for (let i = 0; i < path.length; i++) {
    if (cur === null || typeof cur !== 'object') return undefined
    const seg = path[i]!
    if (Array.isArray(cur)) {
      const idx = seg.length > 0 && seg.length < 10 && /^\d+$/.test(seg) ? Number(seg) : -1
      if (idx < 0) return undefined
      cur = cur[idx]
    } else {
      cur = Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined
    }
  }
  return cur
}
