// Registers `keyshift detect` (logic in detect.ts): the failure-spike detector
// over a CSV series on stdin, one scored row out per row in.
import { type Command, Option } from 'commander'
import { hostStdin } from '../shared/host-stdin.ts'
import { DETECT_OPTIONS, runDetect } from './detect.ts'

export function registerDetectCommand(program: Command): void {
  const cmd = program
    .command('detect')
    .description(
      'score a `timestamp,value` CSV series from stdin with the spike detector; writes `timestamp,value,anomaly_score` (score in [0,1], ≥ 0.5 is a spike)',
    )
  for (const spec of DETECT_OPTIONS) {
    const opt = new Option(spec.flags, spec.description).default(spec.default)
    if (spec.choices) opt.choices([...spec.choices])
    cmd.addOption(opt)
  }
  cmd.action(async (opts: Record<string, string>) => {
    const result = await runDetect(hostStdin(), process.stdout, opts)
    process.exitCode = result.exitCode
  })
}
