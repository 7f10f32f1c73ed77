// Replays audit files: every valid event is published again with its id, through the confirmed
// publisher, so a store rebuilt from empty ends with the same counts (ids make it count once,
// however often a file is replayed). Events older than the store's dedupe horizon are skipped
// (commands/replay.ts): their ids may be forgotten, and they would be counted again.

import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { publishingEdge } from '../broker/index.js';
import type { Config } from '../config.js';
import { type Event, parseTimestamp } from '../event.js';
import type { Logger } from '../log.js';
import { fromLine } from './record.js';

export interface ReplayCounts {
  files: number;
  confirmed: number;
  /** Valid events without any id: counted again on every replay. */
  withoutId: number;
  invalid: number;
  unreadable: number;
  /** Valid events older than the store's dedupe horizon: not published (ReplayOptions.skipBefore). */
  beforeHorizon: number;
}

export interface ReplayOptions {
  /**
   * Epoch seconds: events whose time is before it are skipped and counted in beforeHorizon. The
   * store may have forgotten their ids, so publishing them again could count them twice.
   */
  skipBefore?: number;
}

/** The files to read: each FILE as given, each DIRECTORY's *.ndjson files in name (= time) order. */
export async function expand(paths: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if ((await stat(p)).isDirectory()) {
      const names = (await readdir(p)).filter((f) => f.endsWith('.ndjson')).sort();
      out.push(...names.map((f) => join(p, f)));
    } else out.push(p);
  }
  return out;
}

async function* events(
  files: string[],
  counts: ReplayCounts,
  log: Logger,
  o: ReplayOptions,
): AsyncGenerator<Event> {
  const skipBeforeMs = o.skipBefore === undefined ? undefined : o.skipBefore * 1000;
  for (const file of files) {
    let lineNo = 0;
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      const d = fromLine(line);
      if (d.kind === 'event') {
        // The event time as the consumer counts it (event.ts), not Date.parse's reading.
        const ms = parseTimestamp(d.event.timestamp);
        if (skipBeforeMs !== undefined && (ms === undefined || ms < skipBeforeMs)) {
          counts.beforeHorizon++;
          continue;
        }
        if (d.event.id === undefined) counts.withoutId++;
        yield d.event;
      } else {
        counts[d.kind]++;
        log.debug({ file, line: lineNo, reason: d.reason }, `skipped an ${d.kind} line`);
      }
    }
    counts.files++;
  }
}

/** Publishes every valid event of `files`; resolves when the broker confirmed all of them. */
export async function replayFiles(
  config: Config,
  log: Logger,
  files: string[],
  progress: (c: ReplayCounts) => void,
  o: ReplayOptions = {},
): Promise<ReplayCounts> {
  const counts: ReplayCounts = {
    files: 0,
    confirmed: 0,
    withoutId: 0,
    invalid: 0,
    unreadable: 0,
    beforeHorizon: 0,
  };
  const { broker, publisher } = publishingEdge(config, log, {
    name: 'warren-replay',
    failFast: false,
    awaitReport: false,
  });
  broker.start();
  const timer = setInterval(() => progress(counts), 2000);
  try {
    await broker.waitConnected(config.readyTimeoutS * 1000);
    const CHUNK = 250;
    const maxChunks = Math.max(2, Math.ceil((config.confirmWindow * 2) / CHUNK));
    const inFlight = new Set<Promise<void>>();
    let chunk: Event[] = [];
    const send = async (batch: Event[]) => {
      // No deadline: after a reconnect the publisher sends the unconfirmed ones again, same ids.
      const p: Promise<void> = publisher.publish(batch).then(() => {
        counts.confirmed += batch.length;
        inFlight.delete(p);
      });
      inFlight.add(p);
      p.catch(() => undefined); // observed by Promise.race/all below; no unhandled rejection meanwhile
      if (inFlight.size >= maxChunks) await Promise.race(inFlight);
    };
    for await (const e of events(files, counts, log, o)) {
      chunk.push(e);
      if (chunk.length === CHUNK) {
        await send(chunk);
        chunk = [];
      }
    }
    if (chunk.length) await send(chunk);
    await Promise.all(inFlight);
    return counts;
  } finally {
    clearInterval(timer);
    await publisher.close();
    await broker.close();
  }
}
