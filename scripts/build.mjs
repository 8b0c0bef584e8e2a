// Builds dist/: compiles src/ with tsc (tsconfig.build.json: .ts imports rewritten
// to .js, tests left out) and copies the status page's static files beside their
// compiled route module. Starts from an empty dist/ so no removed module lingers.
import { execFileSync } from 'node:child_process'
import { cpSync, readdirSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsc = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc')
rmSync(join(root, 'dist'), { recursive: true, force: true })
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
})
const assets = join('http', 'status-page')
for (const name of readdirSync(join(root, 'src', assets))) {
  if (!name.endsWith('.ts')) cpSync(join(root, 'src', assets, name), join(root, 'dist', assets, name))
}
