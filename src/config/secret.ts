// A configuration value that must never be printed: logging, JSON or string
// conversion all yield `[redacted]`; only `reveal()` gives the value.

const REDACTED = '[redacted]'

export class Secret {
  readonly #value: string
  constructor(value: string) {
    this.#value = value
  }
  reveal(): string {
    return this.#value
  }
  toString(): string {
    return REDACTED
  }
  toJSON(): string {
    return REDACTED
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return REDACTED
  }
}
