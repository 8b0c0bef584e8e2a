// Registers `keyshift detect` in the full CLI (for `keyshift --help`); bin/keyshift.js
// runs the command itself through detect-main.ts, which loads only the detector.
import { type Command, Option } from 'commander'
import { hostStdin } from '../shared/host-stdin.ts'
import { DETECT_OPTIONS } from './detect.ts'

export function registerDetectCommand(program: Command): void {
  const cmd = program
    .command('detect')
    .description(
      'score a `timestamp,value` CSV series from stdin; writes `timestamp,value,anomaly_score` (score in [0,1]; 0.5 ≈ 1 in 100 000)',
    )
  for (const spec of DETECT_OPTIONS) {
    const opt = new Option(spec.flags, spec.description).default(spec.default)
    if (spec.choices) opt.choices([...spec.choices])
    cmd.addOption(opt)
  }
  cmd.action(async (opts: Record<string, string>) => {
    const { runDetect } = await import('./detect.ts')
    try {
      await runDetect(hostStdin(), process.stdout, opts)
    } catch (err) {
      process.stderr.write(`keyshift detect: ${(err as Error).message}\n`)
      process.exitCode = (err as { code?: string }).code === 'KS_VALIDATION_FAILED' ? 2 : 1
    }
  })
}
