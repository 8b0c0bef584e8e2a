import { existsSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { describe, expect, it } from 'vitest'
import { parseConfig } from '../config/load.ts'
import { createFingerprinter } from '../ingest/secrets/fingerprint.ts'
import { existingPepper, scrubCommandInputs } from './scrub-input.ts'

const CANARY = 'sk_live_CANARY4f8a2c9e1b7d3f6a0c5e8b2d9f4a7c1e'
const PEPPER = 'pepper-of-the-data-dir-0123456789'
const F = createFingerprinter(PEPPER)(CANARY)

/** A data dir with a pepper file, and a config file pointing at it. */
function configWithPepper(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ks-cli-scrub-'))
  writeFileSync(join(dir, 'pepper'), `${PEPPER}\n`)
  const config = join(dir, 'keyshift.yaml')
  writeFileSync(config, `data_dir: ${dir}\n`)
  return config
}

/** A program shaped like `keyshift silence add` / `key create`; returns what the action saw. */
async function run(argv: string[]) {
  const seen: { args: unknown[]; opts: Record<string, unknown> } = { args: [], opts: {} }
  const program = new Command().exitOverride()
  program
    .command('add')
    .argument('<key>')
    .argument('[file]')
    .option('-c, --config <file>')
    .option('--comment <text>')
    .option('--owners <list>')
    .option('--created-by <name>', 'who', `cli-user ${CANARY}`)
    .option('--url <url>')
    .option('--token <token>')
    .action((key: string, file: string | undefined, opts: Record<string, unknown>) => {
      seen.args = [key, file]
      seen.opts = opts
    })
  scrubCommandInputs(program)
  await program.parseAsync(['node', 'keyshift', 'add', ...argv])
  return seen
}

describe('scrubCommandInputs: the CLI edge', () => {
  it("scrubs arguments, options and env-derived defaults with the data dir's pepper", async () => {
    const config = configWithPepper()
    const seen = await run([
      `acme-${CANARY}`,
      '/tmp/replay.log',
      '-c',
      config,
      '--comment',
      `rotating after ${CANARY} leaked`,
      '--owners',
      'payments@example.com',
      '--token',
      CANARY,
    ])
    expect(seen.args).toEqual([`acme-${F}`, '/tmp/replay.log'])
    expect(seen.opts).toEqual({
      config,
      comment: `rotating after ${F} leaked`,
      owners: 'payments@example.com',
      createdBy: `cli-user ${F}`,
      token: CANARY, // used to authenticate, never stored or printed
    })
  })

  it('without a pepper on disk, keys are still removed (under a random pepper) and no pepper is created', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-cli-scrub-empty-'))
    const config = join(dir, 'keyshift.yaml')
    writeFileSync(config, `data_dir: ${join(dir, 'data')}\n`)
    const seen = await run(['acme', '-c', config, '--comment', CANARY])
    expect(seen.opts.comment).toMatch(/^fp_[0-9a-f]{32}$/)
    expect(seen.opts.comment).not.toBe(F)
    expect(existsSync(join(dir, 'data'))).toBe(false)
  })

  it('with --url the values go as given: the daemon scrubs them with its own pepper', async () => {
    const seen = await run(['acme', '--url', 'http://127.0.0.1:9464', '--comment', CANARY])
    expect(seen.opts.comment).toBe(CANARY)
  })
})

describe('existingPepper', () => {
  it('reads the configured pepper, else the data dir pepper file, and never creates one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-cli-pepper-'))
    expect(existingPepper(parseConfig({ data_dir: dir }))).toBeUndefined()
    expect(existingPepper(parseConfig({ data_dir: join(dir, 'none') }))).toBeUndefined()
    expect(existsSync(join(dir, 'pepper'))).toBe(false)
    writeFileSync(join(dir, 'pepper'), `${PEPPER}\n`)
    expect(existingPepper(parseConfig({ data_dir: dir }))).toBe(PEPPER)
    expect(
      existingPepper(parseConfig({ data_dir: dir, secrets: { pepper: 'configured-pepper-0123456789' } })),
    ).toBe('configured-pepper-0123456789')
  })
})
