// What a client can be told, and what it tells back.

export interface ClientOptions {
  /** Default cliente of every event (required for AMQP; over HTTP an API key may imply it). */
  cliente?: string;
  /** Events per batch (HTTP at most 1000). Default 500 over HTTP, 250 over AMQP. */
  batchSize?: number;
  /** Bytes of JSON per batch, at most. Default 512 KiB (the gateway takes 1 MiB). */
  maxBatchBytes?: number;
  /** A partial batch is sent after this long. Default 1000 ms. */
  flushIntervalMs?: number;
  /** Batches in flight at once. Default 4. */
  concurrency?: number;
  /** Events held (not yet confirmed), at most; beyond it track() throws. Default 10,000. */
  maxBufferEvents?: number;
  /** Bytes held, at most. Default 8 MiB. */
  maxBufferBytes?: number;
  /** Append pending batches to this NDJSON file and send what it holds at start. One client per file. */
  spoolFile?: string;
}

export interface TrackOptions {
  cliente?: string;
  /** Event time; default now. */
  timestamp?: Date | string;
  /** Default a new UUID v7. Give your own to make a retried track() count once. */
  id?: string;
  /** The actor of this event; default the one identify() set. null: none for this event. */
  usuario?: string | null;
}

export interface ClientStats {
  tracked: number;
  confirmed: number;
  rejected: number;
  /** Held now: buffered, spooled or in flight. */
  pending: number;
}
