// Topic housekeeping shared by the consumers: keyshift's own topics (lifecycle,
// dead letters, leadership) are created when missing, so a fresh cluster needs
// no manual step and a consumer never subscribes while the broker is still
// auto-creating its topic (which kafkajs reports as an unknown partition).
import type { Kafka } from 'kafkajs'

/** Creates `topic` when missing and waits until every partition has a leader; returns its partition count. */
export async function ensureTopic(
  kafka: Kafka,
  topic: string,
  opts: { partitions: number; replicationFactor?: number },
): Promise<number> {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const existing = await admin.listTopics()
    if (!existing.includes(topic)) {
      try {
        await admin.createTopics({
          topics: [
            // -1: the broker's default.replication.factor (1 on a single node, 3 on a cluster).
            { topic, numPartitions: opts.partitions, replicationFactor: opts.replicationFactor ?? -1 },
          ],
          waitForLeaders: false, // kafkajs can throw UNKNOWN_TOPIC_OR_PARTITION while waiting; we poll below
        })
      } catch (err) {
        // Another instance created it first.
        if ((err as { type?: string }).type !== 'TOPIC_ALREADY_EXISTS') throw err
      }
    }
    // Wait until every partition has a leader: subscribing earlier fails.
    for (let attempt = 0; ; attempt++) {
      const meta = await admin.fetchTopicMetadata({ topics: [topic] }).catch(() => null)
      const parts = meta?.topics[0]?.partitions ?? []
      if (parts.length > 0 && parts.every((p) => p.leader >= 0)) return parts.length
      if (attempt >= 50) throw new Error(`topic ${topic} has no leader for every partition after 10 s`)
      await new Promise((r) => setTimeout(r, 200))
    }
  } finally {
    await admin.disconnect()
  }
}
