// Health probe for scripts/kafka.sh: exits 0 when the broker at argv[2] answers a
// metadata request listing at least one live broker, 1 otherwise. Kept in plain
// JavaScript so the shell script can run it without a TypeScript loader.
import kafkajs from 'kafkajs'

const { Kafka, logLevel } = kafkajs
const address = process.argv[2] ?? '127.0.0.1:29092'
const deadline = setTimeout(() => process.exit(1), 5_000)

const admin = new Kafka({
  clientId: 'keyshift-kafka-probe',
  brokers: [address],
  connectionTimeout: 1_000,
  requestTimeout: 2_000,
  retry: { retries: 0 },
  logLevel: logLevel.NOTHING,
}).admin()

let ok = false
try {
  await admin.connect()
  const cluster = await admin.describeCluster()
  ok = cluster.brokers.length > 0
} catch {
  ok = false
} finally {
  await admin.disconnect().catch(() => {})
}
clearTimeout(deadline)
process.exit(ok ? 0 : 1)
