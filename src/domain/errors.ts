// One error hierarchy for keyshift. Code tells errors apart by `code` or class,
// never by message text; retry helpers read `retriable` and nothing else.

export class KeyshiftError extends Error {
  readonly code: string
  readonly retriable: boolean
  constructor(code: string, message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.name = new.target.name
    this.code = code
    this.retriable = opts.retriable ?? false
  }
}

/** Configuration is invalid; the message names the field and the fix. */
export class ConfigError extends KeyshiftError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super('KS_CONFIG_INVALID', message, opts)
  }
}

/** A record could not be decoded into an auth event; it is dead-lettered with `reason`. */
export class DecodeError extends KeyshiftError {
  readonly reason: string
  constructor(reason: string, message: string, opts: { cause?: unknown } = {}) {
    super('KS_DECODE_FAILED', message, opts)
    this.reason = reason
  }
}

/** The store failed; `retriable` says whether the same call may succeed later. */
export class StoreError extends KeyshiftError {
  constructor(message: string, opts: { retriable: boolean; cause?: unknown }) {
    super(opts.retriable ? 'KS_STORE_UNAVAILABLE' : 'KS_STORE_REJECTED', message, opts)
  }
}

/**
 * The store refused the data itself (a value it cannot parse or convert), not
 * the request: the same rows fail the same way every time, so retrying cannot
 * help, but the rows it does take can be found and stored without the others.
 */
export class StoreRefusedDataError extends StoreError {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, { retriable: false, ...opts })
  }
}

/** A source (Kafka, file) failed. */
export class SourceError extends KeyshiftError {
  constructor(message: string, opts: { retriable: boolean; cause?: unknown }) {
    super('KS_SOURCE_FAILED', message, opts)
  }
}

/** A caller asked for something that does not exist or is not allowed. */
export class NotFoundError extends KeyshiftError {
  constructor(message: string) {
    super('KS_NOT_FOUND', message)
  }
}

export class ValidationError extends KeyshiftError {
  constructor(message: string) {
    super('KS_VALIDATION_FAILED', message)
  }
}

/** The request conflicts with the current state (an incident already open, or already closed). */
export class ConflictError extends KeyshiftError {
  constructor(message: string) {
    super('KS_CONFLICT', message)
  }
}
