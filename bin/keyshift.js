#!/usr/bin/env node
// Entry point for the `keyshift` CLI. Sources are TypeScript run through tsx's
// loader, so a fresh clone works after `npm install` with no build step.
// `keyshift detect` starts from a bundle of its own instead (see detect-entry.js).
if (process.argv[2] === 'detect') {
  const { runDetectCommand } = await import('./detect-entry.js')
  process.exitCode = await runDetectCommand(process.argv.slice(3))
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import('../src/cli/main.ts')
}
