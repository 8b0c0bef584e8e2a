// Every error the HTTP API can return, in one catalogue: a stable code, the
// HTTP status and a title. Bodies are RFC 9457 `application/problem+json`.
// docs/errors.md documents each code (a test checks that none is missing).
// Framework errors (routing, body parsing, limits) map onto the same codes, so
// no response leaves the server in Fastify's own error shape.
import type { FastifyReply } from 'fastify'
import { KeyshiftError } from '../domain/errors.ts'

export const PROBLEMS = {
  KS_UNAUTHORIZED: { status: 401, title: 'Missing or invalid bearer token' },
  KS_FORBIDDEN: { status: 403, title: 'This token may not do that' },
  KS_NOT_FOUND: { status: 404, title: 'No such resource' },
  KS_VALIDATION_FAILED: { status: 400, title: 'The request is invalid' },
  KS_CONFLICT: { status: 409, title: 'The request conflicts with the current state' },
  KS_STORE_UNAVAILABLE: { status: 503, title: 'The store is unavailable' },
  KS_STORE_REJECTED: { status: 500, title: 'The store rejected the request' },
  KS_INTERNAL: { status: 500, title: 'Internal error' },
  KS_MALFORMED_REQUEST: { status: 400, title: 'The request is not valid HTTP' },
  KS_METHOD_NOT_ALLOWED: { status: 405, title: 'This method is not allowed on this resource' },
  KS_REQUEST_TIMEOUT: { status: 408, title: 'The request took too long to arrive' },
  KS_PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large' },
  KS_URI_TOO_LONG: { status: 414, title: 'The request URL is too long' },
  KS_UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'The request body has an unsupported media type' },
  KS_HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large' },
  KS_SHUTTING_DOWN: { status: 503, title: 'The server is shutting down' },
} as const

export type ProblemCode = keyof typeof PROBLEMS

export const PROBLEM_CONTENT_TYPE = 'application/problem+json; charset=utf-8'

export function problemBody(code: ProblemCode, detail: string, extra: object = {}) {
  const p = PROBLEMS[code]
  return {
    type: `https://keyshift.dev/errors/${code}`,
    title: p.title,
    status: p.status,
    detail,
    code,
    ...extra,
  }
}

export function sendProblem(reply: FastifyReply, code: ProblemCode, detail: string, extra: object = {}) {
  return reply
    .code(PROBLEMS[code].status)
    .type(PROBLEM_CONTENT_TYPE)
    .send(problemBody(code, detail, extra))
}

/**
 * Fastify's own request errors, by their `code`: the problem each becomes and a
 * fixed detail. Details never echo the request (a URL or body may carry a key).
 */
const FRAMEWORK_ERRORS: Record<string, { code: ProblemCode; detail: string }> = {
  FST_ERR_BAD_URL: { code: 'KS_VALIDATION_FAILED', detail: 'the URL is not valid percent-encoding' },
  FST_ERR_MAX_PARAM_LENGTH: {
    code: 'KS_URI_TOO_LONG',
    detail: 'a path segment is longer than 256 characters',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: {
    code: 'KS_PAYLOAD_TOO_LARGE',
    detail: 'the request body exceeds http.max_body_bytes',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
    detail: 'send the body as Content-Type: application/json',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'KS_MALFORMED_REQUEST',
    detail: 'the body length does not match Content-Length',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    code: 'KS_VALIDATION_FAILED',
    detail: 'body: empty, but Content-Type is application/json; send a JSON document',
  },
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'KS_VALIDATION_FAILED', detail: 'body: not valid JSON' },
  FST_ERR_ROUTE_MISSING_CONTENT_TYPE: {
    code: 'KS_UNSUPPORTED_MEDIA_TYPE',
    detail: 'send the body as Content-Type: application/json',
  },
}

/** Statuses a framework error may carry that have a code of their own. */
const BY_STATUS: Partial<Record<number, ProblemCode>> = {
  400: 'KS_VALIDATION_FAILED',
  404: 'KS_NOT_FOUND',
  405: 'KS_METHOD_NOT_ALLOWED',
  408: 'KS_REQUEST_TIMEOUT',
  413: 'KS_PAYLOAD_TOO_LARGE',
  414: 'KS_URI_TOO_LONG',
  415: 'KS_UNSUPPORTED_MEDIA_TYPE',
  431: 'KS_HEADERS_TOO_LARGE',
}

/** The problem for a Fastify request error, or null when `err` is not one. */
export function frameworkProblem(err: unknown): { code: ProblemCode; detail: string } | null {
  const fe = err as { code?: unknown; statusCode?: unknown } | null
  if (typeof fe?.code === 'string' && fe.code in FRAMEWORK_ERRORS) return FRAMEWORK_ERRORS[fe.code]!
  const status = typeof fe?.statusCode === 'number' ? fe.statusCode : 0
  // Any other client error the framework raises: a fixed detail, never its message.
  if (status >= 400 && status < 500) {
    const code = BY_STATUS[status] ?? 'KS_VALIDATION_FAILED'
    return { code, detail: PROBLEMS[code].title.toLowerCase() }
  }
  return null
}

/**
 * Maps any thrown error to a problem response. Client errors are logged at
 * debug without a stack (any client can cause them); only unexpected errors
 * log at error level, and their details stay in the log.
 */
export function problemFromError(reply: FastifyReply, err: unknown) {
  if (err instanceof KeyshiftError && err.code in PROBLEMS) {
    return sendProblem(reply, err.code as ProblemCode, err.message)
  }
  const framework = frameworkProblem(err)
  if (framework) {
    reply.log.debug(
      { code: framework.code, frameworkCode: (err as { code?: unknown }).code },
      'Rejected a malformed request.',
    )
    return sendProblem(reply, framework.code, framework.detail)
  }
  reply.log.error({ err }, 'An API request failed unexpectedly.')
  return sendProblem(reply, 'KS_INTERNAL', 'an internal error occurred; see the keyshift logs')
}
