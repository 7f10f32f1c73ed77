// The local broker's Erlang VM and its quorum write-ahead log, read from /proc and its files: the
// benchmark reports the broker's CPU and its WAL roll-overs beside its own figures. When several
// brokers run on this machine (the shared one on 5672, a private node on another port), the one
// measured is the one that listens on AMQP_URL's port.
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { procSample } from './util.js';

/** Entries of a directory, or none when it cannot be read. */
function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The inodes of the sockets listening on a TCP port (Linux /proc/net/tcp, tcp6). */
function listeningInodes(port: number): Set<string> {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is ADDR:PORT in hex; state 0A is LISTEN; the inode is the tenth field.
      if (f[3] === '0A' && f[1]?.endsWith(`:${hex}`) && f[9]) inodes.add(f[9]);
    }
  }
  return inodes;
}

/** Whether a process holds one of these sockets (needs the right to read its fds: root or owner). */
function holdsSocket(pid: number, inodes: Set<string>): boolean {
  for (const fd of list(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1]!)) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/** The port of a local AMQP URL, undefined for a remote one (or none). */
function localPort(url: string | undefined): number | undefined {
  if (url === undefined) return undefined;
  try {
    const u = new URL(url);
    if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) return undefined;
    return u.port === '' ? (u.protocol === 'amqps:' ? 5671 : 5672) : Number(u.port);
  } catch {
    return undefined;
  }
}

/**
 * The local RabbitMQ's Erlang VM (for its CPU figure and WAL): the one listening on `url`'s port
 * when that can be seen (undefined when something else holds it, e.g. a proxy), else the biggest
 * broker VM (rabbitmqctl and friends run short-lived Erlang VMs too). undefined when none runs here.
 */
export function findBrokerPid(url?: string): number | undefined {
  const brokers: { pid: number; rss: number }[] = [];
  for (const e of list('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (!cmd.includes('beam.smp') || !cmd.includes('rabbit')) continue;
      brokers.push({ pid: Number(e), rss: procSample(Number(e))?.rssMb ?? 0 });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  const port = localPort(url);
  const inodes = port === undefined ? new Set<string>() : listeningInodes(port);
  // Whose socket it is can be seen only with the right to read the brokers' fds (root, or their user).
  if (inodes.size > 0 && brokers.some((b) => list(`/proc/${b.pid}/fd`).length > 0))
    return brokers.find((b) => holdsSocket(b.pid, inodes))?.pid;
  brokers.sort((a, b) => b.rss - a.rss);
  return brokers[0]?.pid;
}

/** Where a local broker's quorum write-ahead log is: its current file's number and size. */
export interface WalState {
  file: number;
  bytes: number;
}

/** The broker's Mnesia base directory: RABBITMQ_MNESIA_BASE, else `<home>/mnesia`. */
function mnesiaBase(pid: number): string | undefined {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const base = env.find((v) => v.startsWith('RABBITMQ_MNESIA_BASE='))?.slice(21);
    if (base?.startsWith('/')) return base;
  } catch {
    // not ours to read: the command line may still say
  }
  try {
    const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const home = args[args.indexOf('-home') + 1];
    return home?.startsWith('/') ? join(home, 'mnesia') : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The local broker's quorum WAL (Ra's shared write-ahead log, `<mnesia>/<node>/quorum/<node>/
 * NNNNNNNN.wal`): a new file means it rolled over (at `raft.wal_max_size_bytes`, 512 MB by
 * default), when it writes every queue's entries into segment files. undefined when the broker
 * is not local or its files are not readable.
 */
export function brokerWal(pid: number | undefined): WalState | undefined {
  const base = pid === undefined ? undefined : mnesiaBase(pid);
  if (base === undefined) return undefined;
  let best: WalState | undefined;
  for (const node of list(base)) {
    for (const ra of list(join(base, node, 'quorum'))) {
      const dir = join(base, node, 'quorum', ra);
      for (const f of list(dir)) {
        const m = /^(\d+)\.wal$/.exec(f);
        if (!m) continue;
        const file = Number(m[1]);
        if (best && file <= best.file) continue;
        try {
          best = { file, bytes: statSync(join(dir, f)).size };
        } catch {
          // rolled over meanwhile
        }
      }
    }
  }
  return best;
}
