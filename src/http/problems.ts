// Every error the HTTP API can return, in one catalogue: a stable code, the
// HTTP status and a title. Bodies are RFC 9457 `application/problem+json`.
// docs/errors.md documents each code (a test checks that none is missing).
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
} as const

export type ProblemCode = keyof typeof PROBLEMS

export function sendProblem(reply: FastifyReply, code: ProblemCode, detail: string, extra: object = {}) {
  const p = PROBLEMS[code]
  return reply
    .code(p.status)
    .type('application/problem+json')
    .send({
      type: `https://keyshift.dev/errors/${code}`,
      title: p.title,
      status: p.status,
      detail,
      code,
      ...extra,
    })
}

/** Maps any thrown error to a problem response; unknown errors are logged and hidden. */
export function problemFromError(reply: FastifyReply, err: unknown) {
  if (err instanceof KeyshiftError && err.code in PROBLEMS) {
    return sendProblem(reply, err.code as ProblemCode, err.message)
  }
  const fe = err as { statusCode?: number; validation?: unknown; message?: string }
  if (fe?.validation || fe?.statusCode === 400)
    return sendProblem(reply, 'KS_VALIDATION_FAILED', fe.message ?? 'bad request')
  if (fe?.statusCode === 404) return sendProblem(reply, 'KS_NOT_FOUND', fe.message ?? 'not found')
  if (fe?.statusCode === 415)
    return sendProblem(reply, 'KS_VALIDATION_FAILED', fe.message ?? 'unsupported media type')
  reply.log.error({ err }, 'An API request failed unexpectedly.')
  return sendProblem(reply, 'KS_INTERNAL', 'an internal error occurred; see the keyshift logs')
}
