// Helpers the latency benches (bench:alert-latency, bench:incident-latency) share.
import { Kafka, logLevel } from 'kafkajs'

/** Whether a Kafka broker answers at `brokers` (comma-separated) within 2 s. */
export async function serving(brokers: string): Promise<boolean> {
  const admin = new Kafka({
    brokers: brokers.split(','),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
    connectionTimeout: 2_000,
  }).admin()
  try {
    await admin.connect()
    await admin.listTopics()
    return true
  } catch {
    return false
  } finally {
    await admin.disconnect().catch(() => {})
  }
}

/** The q-quantile (0–1) of an ascending list, nearest rank. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[i]!
}

/** Milliseconds as seconds with two decimals. */
export const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`
