// Fast start for `keyshift detect`: runs a bundle of src/cli/detect-main.ts (the
// command and its detector, nothing else) so the command starts without the
// TypeScript loader. The bundle lives in dist/ and is rebuilt with esbuild (a
// dependency of tsx) whenever a source it was built from is newer; where dist/
// cannot be written, the sources run through tsx as everywhere else.
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const entry = `${root}src/cli/detect-main.ts`
const bundle = `${root}dist/detect.mjs`
const meta = `${root}dist/detect.meta.json`

function fresh() {
  try {
    const built = statSync(bundle).mtimeMs
    const inputs = JSON.parse(readFileSync(meta, 'utf8'))
    return inputs.every((f) => statSync(`${root}${f}`).mtimeMs <= built)
  } catch {
    return false
  }
}

async function build() {
  const esbuild = await import('esbuild')
  const r = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: bundle,
    metafile: true,
    logLevel: 'silent',
  })
  mkdirSync(`${root}dist`, { recursive: true })
  writeFileSync(meta, JSON.stringify(Object.keys(r.metafile.inputs)))
}

/** Runs `keyshift detect` with `argv` (after `detect`); resolves to the exit code. */
export async function runDetectCommand(argv) {
  let mod
  if (fresh()) mod = await import(bundle)
  else {
    try {
      await build()
      mod = await import(`${bundle}?${Date.now()}`)
    } catch {
      const { register } = await import('tsx/esm/api')
      register()
      mod = await import('../src/cli/detect-main.ts')
    }
  }
  return mod.main(argv)
}
