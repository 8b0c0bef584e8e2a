// `keyshift demo --story incident` runs the emergency story end to end and
// prints what an operator would see: the incident opened with its snapshot,
// the live view with the attacker and the checklist, the gate, the report.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { runKeyshift } from '../support/daemon.ts'

it('runs the leak story: every known client moved, the attacker listed, gw-us-1 still accepting', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ks-demo-incident-'))
  const r = await runKeyshift([
    'demo',
    '--story',
    'incident',
    '--port',
    '0',
    '--duration',
    '3',
    '--data-dir',
    dir,
  ])
  expect(r.code, r.stderr).toBe(0)
  const lines = r.stdout.split('\n')
  expect(lines.some((l) => /incident inc_[0-9a-f]{16} opened on acme-ledger v1: 7 known users/.test(l))).toBe(
    true,
  )
  expect(lines).toContain('Known users (4 of 4 moved):')
  expect(lines).toContain('Unknown sources (1):')
  expect(lines.find((l) => l.startsWith('  203.0.113.66 '))).toContain('python-requests/2.31.0  via gw-us-1')
  expect(lines).toContain('Gate (incident rules): ready')
  expect(lines.find((l) => l.includes('no_accepted_use_after_deactivation'))).toContain(
    'still accepted on gw-us-1',
  )
  expect(lines.some((l) => l.startsWith('# Incident inc_') && l.endsWith(': acme-ledger v1 (leaked)'))).toBe(
    true,
  )
})
