// The contract between sources (Kafka, file, stdin) and the ingest pipeline.
// A source hands over raw records with their position; the pipeline decodes,
// stores them together with the position, and only then resolves `submit`.
// Nothing is acknowledged (Kafka offset, file position) before it is stored.

/** One raw record as read from a source, before decoding. */
export interface SourceRecord {
  /** Raw bytes exactly as read (a Kafka message value, one log line without its newline). */
  value: Buffer
  /** Partition within the source: a Kafka partition, or the file's inode for files. */
  partition: number
  /** Offset of this record: Kafka offset, or byte offset of the line start in the file. */
  offset: bigint
  /** Offset the source resumes at after this record (Kafka: offset+1; file: byte after the newline). */
  nextOffset: bigint
  /** Broker/file timestamp in epoch ms, when known. */
  timestamp?: number
}

/** A position the pipeline has durably stored for a (source, partition). */
export interface StoredPosition {
  source: string
  partition: number
  /** Next offset to read: everything before it is stored. */
  nextOffset: bigint
  /**
   * Set when the process stopped while writing a batch: the batch covered
   * [nextOffset, pendingLastOffset]. The sink rebuilds exactly that batch from
   * the records it is handed next (same batch identity ⇒ the store deduplicates
   * whatever part of it was already written); sources just resume at nextOffset.
   */
  pendingLastOffset: bigint | null
  /** Opaque source detail stored with the position (e.g. a file's path and size). */
  meta: string
  updatedAt: number
  /** Incremented each time the partition was rewound; part of every batch identity. */
  epoch: number
}

/** What a source needs from the pipeline. */
export interface IngestSink {
  /**
   * Positions stored for `source`, one per partition. `partitions`: those a
   * consumer group just assigned to this process, which the sink claims first
   * so that an earlier owner's late write cannot store them twice.
   */
  positions(source: string, partitions?: readonly number[]): Promise<StoredPosition[]>
  /**
   * Decodes and stores `records` of one partition (in offset order), recording
   * the partition's new position with them. Resolves only when durably stored;
   * rejects only on shutdown or a non-retriable error (retriable store failures
   * are retried inside with backoff, so this call simply takes longer).
   */
  submit(source: string, partition: number, records: SourceRecord[], meta?: string): Promise<void>
  /**
   * Moves a partition's position back to `offset` (a truncated or rewritten
   * file). Starts a new epoch, so batches at reused offsets get new identities.
   */
  rewind?(source: string, partition: number, offset: bigint): void
  /**
   * The source is losing its partitions (a consumer-group rebalance): drop
   * records of `source` that are buffered but not yet being written, and forget
   * its positions. Their submits reject with a fenced error; the next owner
   * re-reads them from the stored positions.
   */
  fence?(source: string): void
  /** Resolves when no write is in flight. */
  idle?(): Promise<void>
  /** False while the sink holds as many records as it may: sources then wait for `room()`. */
  hasRoom?(): boolean
  /** Resolves once the sink takes records again (or is shutting down). */
  room?(): Promise<void>
}

/** A running source. `stop()` resolves once no submit is in flight. */
export interface Source {
  readonly id: string
  start(): Promise<void>
  stop(): Promise<void>
  /** True once the source is consuming (Kafka: partitions assigned; file: file opened). */
  ready(): boolean
  /**
   * Records the source knows of and has not handed over yet (Kafka: consumer lag,
   * last measured; file: lines read but not submitted plus the unread rest of the
   * file, estimated from the bytes per line so far). 0 when caught up. Readiness
   * verdicts treat data as fresh only when every source is caught up.
   */
  backlog?(): number
}
