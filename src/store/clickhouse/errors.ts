// Classifies @clickhouse/client / chDB failures at the I/O edge: errors that
// mean "the data or the SQL is wrong" are not retried; the rest (connection,
// timeouts, overload, readonly replicas, memory pressure) are.
import { StoreError, StoreRefusedDataError } from '../../domain/errors.ts'

/**
 * ClickHouse error codes that mean a value in the rows cannot be taken: the
 * same rows fail the same way every time, and the others can be stored without them.
 */
const DATA_CODES = new Set([
  '6', // CANNOT_PARSE_TEXT
  '25', // CANNOT_PARSE_ESCAPE_SEQUENCE (e.g. a lone UTF-16 surrogate in a JSON string)
  '26', // CANNOT_PARSE_QUOTED_STRING
  '27', // CANNOT_PARSE_INPUT_ASSERTION_FAILED
  '38', // CANNOT_PARSE_DATE
  '41', // CANNOT_PARSE_DATETIME
  '69', // ARGUMENT_OUT_OF_BOUND
  '70', // CANNOT_CONVERT_TYPE
  '72', // CANNOT_PARSE_NUMBER
  '117', // INCORRECT_DATA
  '130', // CANNOT_READ_ARRAY_FROM_TEXT
  '131', // TOO_LARGE_STRING_SIZE
  '321', // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
  '349', // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
  '469', // VIOLATED_CONSTRAINT
])

/** ClickHouse error codes that mean the request itself is wrong: retrying cannot help. */
const PERMANENT_CODES = new Set([
  '43', // ILLEGAL_TYPE_OF_ARGUMENT
  '47', // UNKNOWN_IDENTIFIER
  '53', // TYPE_MISMATCH
  '60', // UNKNOWN_TABLE
  '62', // SYNTAX_ERROR
  '81', // UNKNOWN_DATABASE
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
  const detail = typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err)
  const message = `${what} failed${/^\d+$/.test(code) ? ` (ClickHouse code ${code})` : ''}: ${detail}`
  if (DATA_CODES.has(code)) return new StoreRefusedDataError(message, { cause: err })
  const permanent = PERMANENT_CODES.has(code) || err instanceof TypeError
  return new StoreError(message, { retriable: !permanent, cause: err })
}
