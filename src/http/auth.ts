// Bearer-token auth for /api/v1: read tokens may read, admin tokens may also
// write. Tokens are compared in constant time (over SHA-256 digests, so the
// comparison does not leak their length either).
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Secret } from '../config/secret.ts'
import { sendProblem } from './problems.ts'

export type Role = 'read' | 'admin'

const digest = (s: string) => createHash('sha256').update(s).digest()

export class TokenAuth {
  readonly #read: Buffer[]
  readonly #admin: Buffer[]
  constructor(read: readonly Secret[], admin: readonly Secret[]) {
    this.#read = read.map((t) => digest(t.reveal()))
    this.#admin = admin.map((t) => digest(t.reveal()))
  }

  /** True when no token is configured at all: the API is open (loopback demos). */
  get open(): boolean {
    return this.#read.length === 0 && this.#admin.length === 0
  }

  roleOf(header: string | undefined): Role | null {
    if (this.open) return 'admin'
    const m = /^Bearer\s+(.+)$/i.exec(header ?? '')
    if (!m) return null
    const d = digest(m[1]!.trim())
    let role: Role | null = null
    // Compare against every token (no early exit) so timing does not say which matched.
    for (const t of this.#admin) if (timingSafeEqual(t, d)) role = 'admin'
    for (const t of this.#read) if (timingSafeEqual(t, d) && role === null) role = 'read'
    return role
  }

  /**
   * An onRequest hook that requires at least `need`: it runs before the body is
   * read, so an unauthenticated client never reaches body parsing or its limits.
   */
  require(need: Role) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const role = this.roleOf(req.headers.authorization)
      if (role === null) {
        reply.header('www-authenticate', 'Bearer realm="keyshift"')
        return sendProblem(
          reply,
          'KS_UNAUTHORIZED',
          'send Authorization: Bearer <token> with a configured read or admin token',
        )
      }
      if (need === 'admin' && role !== 'admin') {
        return sendProblem(reply, 'KS_FORBIDDEN', 'this endpoint needs an admin token')
      }
      ;(req as FastifyRequest & { role?: Role }).role = role
    }
  }
}
