#!/usr/bin/env node
// Entry point for the `keyshift` CLI. Sources are TypeScript run through tsx's
// loader, so a fresh clone works after `npm install` with no build step.
import { register } from 'tsx/esm/api'

register()
// The embedded store must not see the real stdin: see src/cli/stdin-handover.ts.
const { handOverStdin } = await import('../src/cli/stdin-handover.ts')
if (handOverStdin().role !== 'parent') await import('../src/cli/main.ts')
