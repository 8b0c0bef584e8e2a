#!/usr/bin/env node
// Entry point for the `keyshift` CLI: runs the compiled JavaScript in dist/
// (`npm run build`; `npm install` in a checkout builds it through `prepare`).
// During development `npm run dev -- <args>` runs the TypeScript sources through tsx.
// `keyshift detect` goes straight to its own entry (dist/cli/detect-main.js), which
// loads only the detector: no commander, no daemon modules, so it starts fast.
import { existsSync } from 'node:fs'

const detect = process.argv[2] === 'detect'
const main = new URL(detect ? '../dist/cli/detect-main.js' : '../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('keyshift: dist/ is missing; in a source checkout run `npm run build` first\n')
  process.exit(2)
}
if (detect) process.exitCode = await (await import(main.href)).main(process.argv.slice(3))
else await import(main.href)
