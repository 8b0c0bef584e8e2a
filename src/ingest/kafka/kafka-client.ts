// Builds the kafkajs client from config. Only ingest/ imports kafkajs.
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs'
import type { Config } from '../../config/schema.ts'
import type { Logger } from '../../telemetry/logger.ts'

export function createKafka(cfg: Config['kafka'], logger: Logger, clientSuffix = ''): Kafka {
  const kc: KafkaConfig = {
    clientId: `${cfg.client_id}${clientSuffix}`,
    brokers: [...cfg.brokers],
    ssl: cfg.ssl,
    connectionTimeout: cfg.connection_timeout_ms,
    // Reconnects are ours to decide (the pipeline waits and retries); keep
    // kafkajs' own retries modest so broker outages surface as events.
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 5_000 },
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...extra } = log
        const fields = { component: 'kafkajs', ...extra }
        if (level === logLevel.ERROR) logger.error(fields, String(message))
        else if (level === logLevel.WARN) logger.warn(fields, String(message))
        else logger.debug(fields, String(message))
      },
  }
  if (cfg.sasl) {
    kc.sasl = {
      mechanism: cfg.sasl.mechanism,
      username: cfg.sasl.username,
      password: cfg.sasl.password.reveal(),
    } as KafkaConfig['sasl']
  }
  return new Kafka(kc)
}
