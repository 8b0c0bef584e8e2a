// Splits a V8 CPU profile of the daemon (`node --cpu-prof`, see bench/ingest.ts
// KEYSHIFT_BENCH_CPU_PROF) into ingest stages by where each sample's own code
// lives: self time per stage, in ms and as a share of the busy main thread.
//   node --import tsx bench/cpu-profile-stages.ts <file.cpuprofile>
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

/** First matching rule names the stage of a frame; order matters (specific before general). */
const STAGES: [string, (fn: string, url: string) => boolean][] = [
  ['gc', (fn) => fn === '(garbage collector)'],
  ['idle', (fn) => fn === '(idle)'],
  ['fetch (kafkajs)', (_, url) => url.includes('/kafkajs/')],
  ['scrub', (_, url) => url.includes('/ingest/secrets/')],
  ['decode', (_, url) => url.includes('/ingest/decode/')],
  ['encode', (fn, url) => url.includes('/store/clickhouse/event-store') && /encode/i.test(fn)],
  [
    'insert (client, spool, engine call)',
    (_, url) => url.includes('/store/clickhouse/') || url.includes('/chdb/') || url.includes('@clickhouse'),
  ],
  ['pipeline', (_, url) => url.includes('/ingest/')],
  ['metrics (prom-client)', (_, url) => url.includes('/prom-client/')],
  ['program', (fn) => fn === '(program)'],
]

/**
 * A sample's stage: its own frame's, except that built-ins and node internals
 * (JSON.parse, Buffer.toString, …) count for the nearest caller with a stage.
 */
function stageOf(id: number, nodes: Map<number, ProfileNode>, parent: Map<number, number>): string {
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const { functionName, url } = nodes.get(at)!.callFrame
    for (const [stage, match] of STAGES) if (match(functionName, url)) return stage
  }
  return 'other'
}

const profile = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as Profile
const nodes = new Map(profile.nodes.map((n) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const byStage = new Map<string, number>()
const memo = new Map<number, string>()
for (let i = 0; i < profile.samples.length; i++) {
  const id = profile.samples[i]!
  let stage = memo.get(id)
  if (stage === undefined) {
    stage = stageOf(id, nodes, parent)
    memo.set(id, stage)
  }
  byStage.set(stage, (byStage.get(stage) ?? 0) + profile.timeDeltas[i]! / 1000)
}
const busy = [...byStage].filter(([s]) => s !== 'idle').reduce((n, [, ms]) => n + ms, 0)
for (const [stage, ms] of [...byStage].sort(([, a], [, b]) => b - a))
  console.log(
    `${stage.padEnd(38)} ${ms.toFixed(0).padStart(7)} ms${stage === 'idle' ? '' : `  ${((ms / busy) * 100).toFixed(1).padStart(5)} %`}`,
  )
