#!/usr/bin/env node
// Entry point for the `keyshift` CLI: runs the compiled JavaScript in dist/
// (`npm run build`; `npm install` in a checkout builds it through `prepare`).
// During development `npm run dev -- <args>` runs the TypeScript sources through tsx.
import { existsSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('keyshift: dist/ is missing; in a source checkout run `npm run build` first\n')
  process.exit(2)
}
await import(main.href)
