// Retry timing: exponential backoff with jitter, the server's Retry-After (RFC 9110 §10.2.3:
// delay-seconds or an HTTP-date), and a sleep that an AbortSignal ends early.

export interface BackoffOptions {
  /** First delay, doubled on every attempt. */
  baseMs: number;
  /** Upper bound of any one delay (also caps a Retry-After). */
  maxMs: number;
}

/**
 * "Equal jitter": half the exponential delay plus a random part of the other half, so clients that
 * failed together do not come back together, and no delay collapses to zero.
 */
export function backoffMs(attempt: number, opts: BackoffOptions, random = Math.random): number {
  const exp = Math.min(opts.maxMs, opts.baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exp / 2 + random() * (exp / 2));
}

/** Milliseconds a Retry-After value asks for, or undefined when there is none or it is unreadable. */
export function parseRetryAfter(value: string | null | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  // An HTTP-date names its day and month; this also keeps Date.parse away from bare numbers.
  if (!/[a-z]/i.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * The delay before the next attempt: the server's Retry-After when it sent one (never earlier,
 * plus up to 20% so clients told the same second spread out), else the backoff.
 */
export function retryDelayMs(
  attempt: number,
  retryAfterMs: number | undefined,
  opts: BackoffOptions,
  random = Math.random,
): number {
  if (retryAfterMs === undefined) return backoffMs(attempt, opts, random);
  return Math.round(Math.min(opts.maxMs, retryAfterMs) * (1 + random() * 0.2));
}

/** Resolves after ms, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
