// Text a store can always take: JSON strings may carry lone UTF-16 surrogates
// ("\ud800"), which JSON.parse accepts and ClickHouse refuses (code 25).

/** `s` with every lone UTF-16 surrogate replaced by U+FFFD; `s` itself when it is well-formed. */
export function wellFormed(s: string): string {
  // Node >= 20 (package.json engines); the ES2022 lib typings do not declare it yet.
  return (s as string & { toWellFormed(): string }).toWellFormed()
}
