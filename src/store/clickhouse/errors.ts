// Classifies @clickhouse/client / chDB failures at the I/O edge: errors that
// mean "the data or the SQL is wrong" are not retried; the rest (connection,
// timeouts, overload, readonly replicas, memory pressure) are.
import { StoreError } from '../../domain/errors.ts'

/** ClickHouse error codes that mean the request itself is wrong: retrying cannot help. */
const PERMANENT_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '41', // CANNOT_PARSE_DATETIME
  '43', // ILLEGAL_TYPE_OF_ARGUMENT
  '47', // UNKNOWN_IDENTIFIER
  '53', // TYPE_MISMATCH
  '60', // UNKNOWN_TABLE
  '62', // SYNTAX_ERROR
  '70', // CANNOT_CONVERT_TYPE
  '81', // UNKNOWN_DATABASE
  '117', // INCORRECT_DATA
  '130', // CANNOT_READ_ARRAY_FROM_TEXT
  '131', // TOO_LARGE_STRING_SIZE
  '158', // TOO_MANY_ROWS
  '192', // UNKNOWN_USER
  '193', // WRONG_PASSWORD
  '194', // REQUIRED_PASSWORD
  '497', // ACCESS_DENIED
  '516', // AUTHENTICATION_FAILED
])

export function classifyStoreError(err: unknown, what: string): StoreError {
  if (err instanceof StoreError) return err
  const e = err as { code?: unknown; type?: unknown; message?: unknown }
  const code = e?.code === undefined ? '' : String(e.code)
  const permanent = PERMANENT_CODES.has(code) || err instanceof TypeError
  const detail = typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err)
  return new StoreError(`${what} failed${code ? ` (ClickHouse code ${code})` : ''}: ${detail}`, {
    retriable: !permanent,
    cause: err,
  })
}
