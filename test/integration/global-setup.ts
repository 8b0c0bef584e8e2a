// Vitest globalSetup of the `integration` project: makes sure a real Kafka broker
// (scripts/kafka.sh) serves on 127.0.0.1:$KEYSHIFT_KAFKA_PORT (default 29092) and hands
// its address to tests: `inject('kafkaBrokers')`. A broker that was already serving is
// reused and left running; one started here is stopped at teardown.
import type { TestProject } from 'vitest/node'
import { brokerAddress, isServing, runKafkaScript } from './kafka-helpers.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Bootstrap servers of the shared test broker, "host:port[,host:port]". */
    kafkaBrokers: string
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
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
