// What the client needs from a transport: send one batch and settle only when the server has it.
/** An event as the SDK sends it: cliente may be left to the gateway (API key or X-Client-Name). */
export interface SdkEvent {
  id: string;
  cliente?: string;
  evento: string;
  timestamp: string;
  usuario?: string;
}

export interface RetryInfo {
  /** 0 for the first retry. */
  attempt: number;
  /** Why the last attempt failed (status and error code, or the network error). */
  reason: string;
  /** How long the transport waits before the next attempt. */
  delayMs: number;
  events: number;
}

export interface Transport {
  readonly kind: 'http' | 'amqp';
  /**
   * Resolves once every event of the batch is confirmed (HTTP 202, or the broker's publisher
   * confirm). Retries on its own what may succeed later, always with the same ids; rejects with
   * RejectedError when the server refuses the batch for good, or with the signal's reason when
   * the client gives up (close with a timeout).
   */
  send(events: SdkEvent[], signal: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export type OnRetry = (info: RetryInfo) => void;
