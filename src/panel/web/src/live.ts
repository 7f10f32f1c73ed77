// The live stream (the panel's relay of analytics' /api/v1/stream) and a throttle for the
// refreshes it triggers. EventSource retries by itself while the server answers 200; when the
// relay answers 503 (analytics down) it gives up, so this reconnects with a capped back-off.

export interface Batch {
  counted: number;
  duplicates: number;
  invalid: number;
  at: string;
}

export interface StreamHandlers {
  onOpen: () => void;
  onBatch: (b: Batch) => void;
  onDrop: () => void;
}

export interface Stream {
  readonly open: boolean;
  /** Reconnects at once if the stream is not open (when analytics is seen back). */
  nudge: () => void;
}

export function connectStream(path: string, h: StreamHandlers): Stream {
  let es: EventSource | undefined;
  let open = false;
  let delay = 1000;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const connect = () => {
    timer = undefined;
    es?.close();
    const source = new EventSource(new URL(path, document.baseURI));
    es = source;
    source.onopen = () => {
      open = true;
      delay = 1000;
      h.onOpen();
    };
    source.addEventListener('batch', (e) => {
      try {
        h.onBatch(JSON.parse((e as MessageEvent<string>).data) as Batch);
      } catch {
        // A malformed message is not worth dropping the stream for.
      }
    });
    source.onerror = () => {
      if (source !== es) return;
      if (open) h.onDrop();
      open = false;
      if (source.readyState === EventSource.CLOSED && !timer) {
        timer = setTimeout(connect, delay);
        delay = Math.min(delay * 2, 8000);
      }
    };
  };
  connect();
  return {
    get open() {
      return open;
    },
    nudge() {
      if (open || es?.readyState === EventSource.CONNECTING) return;
      if (timer) clearTimeout(timer);
      delay = 1000;
      connect();
    },
  };
}

/**
 * Runs `task` at most once per `gapMs`: the first request runs at once (so a batch shows within
 * a second), later ones within the gap fold into one trailing run; never two at a time.
 */
export function throttle(task: () => Promise<void>, gapMs: number): () => void {
  let running = false;
  let pending = false;
  let last = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const run = async () => {
    timer = undefined;
    running = true;
    pending = false;
    last = Date.now();
    try {
      await task();
    } finally {
      running = false;
      if (pending) request();
    }
  };
  function request(): void {
    if (running) {
      pending = true;
      return;
    }
    if (timer) return;
    const wait = Math.max(0, last + gapMs - Date.now());
    if (wait === 0) void run();
    else timer = setTimeout(run, wait);
  }
  return request;
}
