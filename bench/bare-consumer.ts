// The bare consumer bench/ingest.ts measures keyshift against: kafkajs reading a
// topic from the start and `JSON.parse`-ing each record, nothing else. Run as a
// child process, so its CPU and RSS are its own:
//   node --import tsx bench/bare-consumer.ts <brokers> <topic> <events> <partitions>
// Prints one JSON line once <events> records are read: the records of its first
// batch, the seconds from that batch to the last, and its CPU seconds from
// before it connects to the end.
import { Kafka, logLevel } from 'kafkajs'
import { runBench } from './run.ts'

const [brokers, topic, eventsArg, partitionsArg] = process.argv.slice(2)
const events = Number(eventsArg)

const cpuSeconds = () => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

async function main() {
  const cpuAtStart = cpuSeconds()
  const kafka = new Kafka({ brokers: [brokers!], clientId: 'bench-bare', logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({
    groupId: `bare-${topic}`,
    maxWaitTimeInMs: 250,
    maxBytesPerPartition: 1_048_576,
  })
  await consumer.connect()
  await consumer.subscribe({ topic: topic!, fromBeginning: true })
  let seen = 0
  let first = 0
  let firstCount = 0
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      partitionsConsumedConcurrently: Number(partitionsArg),
      eachBatch: async ({ batch }) => {
        if (first === 0) {
          first = performance.now()
          firstCount = batch.messages.length
        }
        for (const m of batch.messages) JSON.parse(m.value!.toString('utf8'))
        seen += batch.messages.length
        if (seen >= events) resolve()
      },
    })
  })
  await done
  const seconds = (performance.now() - first) / 1000
  const cpu = cpuSeconds() - cpuAtStart
  process.stdout.write(`${JSON.stringify({ stored: seen, firstCount, seconds, cpu })}\n`)
  await consumer.disconnect()
}

runBench(main)
