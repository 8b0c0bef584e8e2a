// Identifier quoting for the few places SQL needs a name rather than a value
// (database, table). Values are always bound as query parameters instead.

export function quoteIdent(name: string): string {
  return '`' + name.replace(/\\/g, '\\\\').replace(/`/g, '\\`') + '`'
}

/** `db`.`table` */
export function qualified(db: string, table: string): string {
  return `${quoteIdent(db)}.${quoteIdent(table)}`
}

/** A SQL string literal, for the rare arguments that cannot be bound (table-function file paths). */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`
}
