// Writes the HTTP API's OpenAPI 3.1 document to docs/openapi.json (`npm run openapi`).
// The daemon serves the same document at /api/v1/openapi.json; a test fails when
// the file and the routes disagree.
import { writeFileSync } from 'node:fs'
import { openApiDocument } from '../src/http/api-docs.ts'

const out = new URL('../docs/openapi.json', import.meta.url)
writeFileSync(out, `${JSON.stringify(openApiDocument(), null, 2)}\n`)
process.stdout.write(`wrote ${out.pathname}\n`)
