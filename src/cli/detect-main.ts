// Entry of `keyshift detect` when started on its own (bin/keyshift.js routes it
// here before loading the rest of the CLI): argument parsing by hand, so the
// command loads only the detector it runs. Exit codes: 0 every row written
// (unusable rows included, with score 0), 1 unreadable input, 2 bad options.
import { DETECT_OPTIONS, type DetectOptions, runDetect } from './detect.ts'

export const DETECT_USAGE = [
  'Usage: keyshift detect [options]',
  '',
  'Scores a `timestamp,value` CSV series from stdin; writes `timestamp,value,anomaly_score`',
  'for every row, in order, streaming. Rows that cannot be used get score 0 and a warning on stderr.',
  '',
  'Options:',
  ...DETECT_OPTIONS.map(
    (o) =>
      `  ${o.flags.padEnd(24)}${o.description} (default: ${o.default}${o.choices ? `; one of ${o.choices.join(', ')}` : ''})`,
  ),
  `  ${'-h, --help'.padEnd(24)}display help for command`,
  '',
].join('\n')

/** Parses `argv` (after `detect`); returns options, or 'help'. Throws on an unknown or incomplete flag. */
export function parseDetectArgs(argv: readonly string[]): DetectOptions | 'help' {
  const out: Record<string, string> = {}
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === '-h' || arg === '--help') return 'help'
    const [flag, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg, undefined]
    const spec = DETECT_OPTIONS.find((o) => o.flags.split(' ')[0] === flag)
    if (!spec) throw new Error(`unknown option '${arg}'`)
    const value = inline ?? argv[++i]
    if (value === undefined) throw new Error(`option '${spec.flags}' argument missing`)
    out[spec.name] = value
  }
  return out
}

export async function main(argv: readonly string[]): Promise<number> {
  let options: DetectOptions | 'help'
  try {
    options = parseDetectArgs(argv)
  } catch (err) {
    process.stderr.write(`keyshift detect: ${(err as Error).message}\n\n${DETECT_USAGE}`)
    return 2
  }
  if (options === 'help') {
    process.stdout.write(DETECT_USAGE)
    return 0
  }
  try {
    await runDetect(process.stdin, process.stdout, options)
    return 0
  } catch (err) {
    const e = err as Error & { code?: string }
    process.stderr.write(`keyshift detect: ${e.message}\n`)
    return e.code === 'KS_VALIDATION_FAILED' ? 2 : 1
  }
}
