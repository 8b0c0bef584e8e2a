// The status page: three static files (this folder's index.html, status.css and
// status.js) served at /, /status.css and /status.js. The page holds no data —
// its script reads /api/v1 with the user's token — so it is served without auth.
// Files are read once when the plugin is created; a missing file fails startup.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'

export interface StatusPageAsset {
  /** URL path the asset is served at. */
  path: string
  /** File name in the assets directory. */
  file: string
  contentType: string
}

export const STATUS_PAGE_ASSETS: readonly StatusPageAsset[] = [
  { path: '/', file: 'index.html', contentType: 'text/html; charset=utf-8' },
  { path: '/status.css', file: 'status.css', contentType: 'text/css; charset=utf-8' },
  { path: '/status.js', file: 'status.js', contentType: 'text/javascript; charset=utf-8' },
]

/**
 * Same-origin only: the page loads its own script and stylesheet and talks to
 * its own API; no inline script or style, no framing.
 */
export const STATUS_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  // `data:` only for the empty favicon, which spares a request that would 404.
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ')

const ASSETS_DIR = dirname(fileURLToPath(import.meta.url))

export function statusPageRoutes(opts: { dir?: string } = {}) {
  const dir = opts.dir ?? ASSETS_DIR
  const assets = STATUS_PAGE_ASSETS.map((a) => {
    const body = readFileSync(join(dir, a.file))
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
    return { ...a, body, etag }
  })
  return async function plugin(app: FastifyInstance) {
    for (const a of assets) {
      app.get(a.path, async (req, reply) => {
        // `no-cache`: browsers revalidate every time, so an upgrade is picked up
        // at once; the ETag keeps revalidation to a 304.
        reply
          .header('cache-control', 'no-cache')
          .header('etag', a.etag)
          .header('x-content-type-options', 'nosniff')
          .header('referrer-policy', 'no-referrer')
        if (a.contentType.startsWith('text/html')) {
          reply.header('content-security-policy', STATUS_PAGE_CSP).header('x-frame-options', 'DENY')
        }
        if (req.headers['if-none-match'] === a.etag) return reply.code(304).send()
        return reply.type(a.contentType).send(a.body)
      })
    }
  }
}
