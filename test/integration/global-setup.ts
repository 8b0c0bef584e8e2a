// Vitest globalSetup of the `integration` project: makes sure a real Kafka broker
// (scripts/kafka.sh) serves on 127.0.0.1:$KEYSHIFT_KAFKA_PORT (default 29092) and hands
// its address to tests: `inject('kafkaBrokers')`. A broker that was already serving is
// reused and left running; one started here is stopped at teardown. It first
// compiles dist/ (scripts/build.mjs), which the CLI that tests spawn runs, so a
// test never runs a build older than the sources.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { TestProject } from 'vitest/node'
import { brokerAddress, isServing, runKafkaScript } from './kafka-helpers.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap servers of the shared test broker, "host:port[,host:port]". */
    kafkaBrokers: string
  }
}

const buildScript = fileURLToPath(new URL('../../scripts/build.mjs', import.meta.url))

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  await promisify(execFile)(process.execPath, [buildScript], { timeout: 300_000 })
  await runKafkaScript('fetch')
  const startedHere = !(await isServing())
  if (startedHere) {
    const output = await runKafkaScript('start')
    process.stdout.write(output)
  }
  project.provide('kafkaBrokers', brokerAddress())
  return async () => {
    if (startedHere) await runKafkaScript('stop')
  }
}
