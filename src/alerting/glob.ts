// Shell-style globs for route and silence matchers: `*` matches any run of
// characters, `?` one character, everything else itself. Anchored and
// case-sensitive, like key ids. Compiled patterns are cached.

const cache = new Map<string, RegExp>()

export function globToRegExp(glob: string): RegExp {
  let re = cache.get(glob)
  if (re === undefined) {
    const body = glob
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/-]/g, '\\$&')))
      .join('')
    re = new RegExp(`^${body}$`, 's')
    if (cache.size > 1_000) cache.clear()
    cache.set(glob, re)
  }
  return re
}

export function matchesGlob(value: string, glob: string): boolean {
  return glob === '*' || globToRegExp(glob).test(value)
}

/** True when `globs` is absent, or `value` matches at least one of them. */
export function matchesAny(value: string, globs: readonly string[] | undefined): boolean {
  return globs === undefined || globs.some((g) => matchesGlob(value, g))
}

/**
 * True when every listed label is present on `labels` and matches its glob. Label
 * values may be comma-separated lists (`gateway: kong-eu,envoy-us`): matching one
 * element is enough.
 */
export function matchesLabels(
  labels: Readonly<Record<string, string>>,
  wanted: Readonly<Record<string, string>> | undefined,
): boolean {
  if (wanted === undefined) return true
  return Object.entries(wanted).every(([name, glob]) => {
    const v = labels[name]
    return v !== undefined && (matchesGlob(v, glob) || v.split(',').some((x) => matchesGlob(x.trim(), glob)))
  })
}
