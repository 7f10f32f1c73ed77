// Follows what analytics has committed, through its Server-Sent Events stream
// (GET /api/v1/stream: one message per committed batch, sent right after the commit). Summing
// `counted` gives the committed total without polling the service being measured, and the
// arrival time of each message tells when a batch became visible (used for latency).
import { WarrenError } from '../errors.js';

export interface BatchSeen {
  /** performance.now() when the message arrived. */
  at: number;
  /** Committed total (this watcher's count) after this batch. */
  total: number;
}

export class CommitWatcher {
  total = 0;
  /** Every batch seen while recording is on. */
  readonly batches: BatchSeen[] = [];
  recording = false;
  private readonly abort = new AbortController();
  private waiters: { target: number; resolve: (at: number) => void }[] = [];
  private failed: Error | undefined;

  private constructor(readonly analyticsUrl: string) {}

  /** Opens the stream; resolves once it is connected (messages from then on are counted). */
  static async open(analyticsUrl: string): Promise<CommitWatcher> {
    const w = new CommitWatcher(analyticsUrl);
    const res = await fetch(`${analyticsUrl}/api/v1/stream`, { signal: w.abort.signal });
    if (!res.ok || !res.body) {
      throw new WarrenError(
        'internal',
        `analytics' event stream answered ${res.status}; is ${analyticsUrl} analytics?`,
      );
    }
    void w.read(res.body);
    return w;
  }

  private async read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of body) {
        buf += decoder.decode(chunk, { stream: true });
        let end = buf.indexOf('\n\n');
        while (end >= 0) {
          this.onMessage(buf.slice(0, end));
          buf = buf.slice(end + 2);
          end = buf.indexOf('\n\n');
        }
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.failed = err instanceof Error ? err : new Error(String(err));
    }
  }

  private onMessage(text: string): void {
    const data = text.split('\n').find((l) => l.startsWith('data:'));
    if (!data) return;
    const at = performance.now();
    const counted = Number((JSON.parse(data.slice(5)) as { counted?: unknown }).counted ?? 0);
    this.total += counted;
    if (this.recording) this.batches.push({ at, total: this.total });
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) this.total >= w.target ? w.resolve(at) : still.push(w);
    this.waiters = still;
  }

  /** Resolves with performance.now() of the batch that brought the total to target. */
  async until(target: number, timeoutMs: number, what: string): Promise<number> {
    if (this.total >= target) return performance.now();
    let timer: NodeJS.Timeout | undefined;
    const reached = new Promise<number>((resolve) => this.waiters.push({ target, resolve }));
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = this.failed ? ` (the event stream failed: ${this.failed.message})` : '';
        reject(
          new WarrenError(
            'internal',
            `${what}: analytics committed ${this.total} of ${target} events within ${Math.round(timeoutMs / 1000)} s${cause}; see its log`,
          ),
        );
      }, timeoutMs);
    });
    try {
      return await Promise.race([reached, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.abort.abort();
  }
}

/** The analytics process's own count of events it committed since it started. */
export async function processed(analyticsUrl: string): Promise<number> {
  const res = await fetch(`${analyticsUrl}/api/v1/status`);
  const body = (await res.json()) as { processed?: number };
  return Number(body.processed ?? Number.NaN);
}
