// What the read-limit tests share: a store filled with a day of events, report URLs no earlier
// request asked (so every answer is computed), and this process's read worker processes as the
// operating system lists them (the tests stop and count them).
import { readdirSync, readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { ParsedEvent } from '../../src/event.js';
import type { Store } from '../../src/store/index.js';

export const DAY_S = 86_400;
export const NOW_S = Math.floor(Date.now() / 1000 / 60) * 60;

export const isoS = (s: number) => new Date(s * 1000).toISOString();

/** `events` events of `clients` clients and 20 types over the last 24 h, in big commits. */
export async function fillDay(store: Store, events: number, clients: number): Promise<void> {
  for (let done = 0; done < events; ) {
    const n = Math.min(50_000, events - done);
    const batch: ParsedEvent[] = [];
    for (let i = 0; i < n; i++) {
      const k = done + i;
      const ms = (NOW_S - 1 - ((k * 7919) % DAY_S)) * 1000;
      batch.push({
        id: `fill-${k}`,
        cliente: `cliente_${String(k % clients).padStart(5, '0')}`,
        evento: `evento_${String(Math.floor(k / clients) % 20).padStart(2, '0')}`,
        timestamp: new Date(ms).toISOString(),
        ms,
      });
    }
    await store.commit(batch);
    done += n;
  }
}

/** A 24 h report whose `from` no earlier request used: never in the report cache. */
export function uncachedReport(n: number): string {
  const to = NOW_S + 60;
  return `/api/v1/report?from=${isoS(to - DAY_S - n)}&to=${isoS(to)}`;
}

export async function get(app: FastifyInstance, url: string) {
  const res = await app.inject({ method: 'GET', url });
  const json = res.headers['content-type']?.startsWith('application/json') ? res.json() : undefined;
  return { status: res.statusCode, headers: res.headers, body: res.body, json };
}

/** Live (not yet reaped) child processes of `parent` (this process) that run the read worker. */
export function readProcesses(parent = process.pid): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      // "pid (comm) state ppid …": comm may hold spaces or parentheses, so read after the last ")".
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) !== parent || state === 'Z') continue;
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes('read-worker')) out.push(Number(name));
    } catch {
      // gone while listed
    }
  }
  return out.sort((a, b) => a - b);
}

/** Whether a process still runs (a zombie waiting to be reaped does not). */
export function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}
