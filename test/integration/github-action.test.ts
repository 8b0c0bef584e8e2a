// The reusable GitHub Action (action.yml): pinned to this package's version, inputs
// passed through the environment, and its script run for real with bash against
// the checkout's CLI, as a runner would run it.
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse as parseYaml } from 'yaml'
import { CLI, freePort, REPO_ROOT } from '../support/daemon.ts'

interface Action {
  inputs: Record<string, { required: boolean; default?: string }>
  outputs: Record<string, { value: string }>
  runs: { using: string; steps: { id: string; shell: string; env: Record<string, string>; run: string }[] }
}

const action = parseYaml(readFileSync(join(REPO_ROOT, 'action.yml'), 'utf8')) as Action
const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }

/** Runs the action's step as a runner does: bash, the step's env with inputs filled in, $GITHUB_OUTPUT. */
async function runStep(inputs: Record<string, string>) {
  const step = action.runs.steps[0]!
  const dir = mkdtempSync(join(tmpdir(), 'ks-action-'))
  const outputFile = join(dir, 'github-output')
  writeFileSync(outputFile, '')
  const env: Record<string, string> = {}
  for (const [name, expr] of Object.entries(step.env)) {
    const input = /^\$\{\{ inputs\.([a-z-]+) \}\}$/.exec(expr)![1]!
    env[name] = inputs[input] ?? action.inputs[input]!.default ?? ''
  }
  const proc = spawn('bash', ['-c', step.run], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, GITHUB_OUTPUT: outputFile, KEYSHIFT_CLI: `${process.execPath} ${CLI}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  proc.stdout.on('data', (d) => {
    stdout += d
  })
  proc.stderr.on('data', () => {})
  const code = await new Promise<number | null>((r) => proc.on('exit', r))
  return { code, stdout, outputs: readFileSync(outputFile, 'utf8') }
}

describe('action.yml', () => {
  it('is a composite action pinned to this package version, with the gate inputs and outputs', () => {
    expect(action.runs.using).toBe('composite')
    expect(action.inputs['keyshift-version']!.default).toBe(pkg.version)
    expect(Object.keys(action.inputs)).toEqual([
      'key',
      'version',
      'url',
      'token',
      'asked-by',
      'keyshift-version',
    ])
    expect(
      Object.entries(action.inputs)
        .filter(([, i]) => i.required)
        .map(([n]) => n),
    ).toEqual(['key', 'version', 'url'])
    expect(action.outputs).toEqual({
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a template
      verdict: { description: 'ready, not_ready or unknown', value: '${{ steps.gate.outputs.verdict }}' },
      'exit-code': {
        description: '0 ready, 1 not ready, 2 unknown or error',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a template
        value: '${{ steps.gate.outputs.exit-code }}',
      },
    })
    // Inputs never appear inside the script text, where a crafted value could run as shell.
    expect(action.runs.steps[0]!.run).not.toContain('${{')
  })

  it('fails closed: an unreachable keyshift is verdict unknown, exit code 2', async () => {
    const port = await freePort()
    const run = await runStep({ key: 'acme', version: 'v1', url: `http://127.0.0.1:${port}` })
    expect(run.code).toBe(2)
    expect(run.outputs).toBe('verdict=unknown\nexit-code=2\n')
    const printed = JSON.parse(run.stdout) as {
      keyId: string
      version: string
      verdict: string
      error: string
    }
    expect(printed).toEqual({
      keyId: 'acme',
      version: 'v1',
      verdict: 'unknown',
      rules: [],
      ingestLagMs: null,
      error: `cannot reach keyshift at http://127.0.0.1:${port}/api/v1/keys/acme/versions/v1/readiness: ECONNREFUSED`,
    })
  })

  it('takes a key with shell metacharacters as data, not as code', async () => {
    const port = await freePort()
    const marker = join(mkdtempSync(join(tmpdir(), 'ks-action-')), 'pwned')
    const run = await runStep({ key: `$(touch ${marker})`, version: 'v1', url: `http://127.0.0.1:${port}` })
    expect(run.code).toBe(2)
    expect(() => readFileSync(marker)).toThrow()
    expect((JSON.parse(run.stdout) as { keyId: string }).keyId).toBe(`$(touch ${marker})`)
  })
})
