// Small helpers of the benchmark: waiting, percentiles, number formatting and the /proc figures
// (CPU time, resident memory) of a child process. Free ports are the kernel's (src/net.ts).
import { readdirSync, readFileSync } from 'node:fs';
import type { ChannelModel } from 'amqplib';
import { amqp, coalesceWrites } from '../broker/index.js';

export { freePort } from '../net.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Nearest-rank percentile (p in 0..100) of values sorted ascending; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/** 12345.6 → "12,346"; small numbers keep one decimal. */
export function fmt(n: number | null | undefined, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '-';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export interface ProcSample {
  /** Resident set size now, MB. */
  rssMb: number;
  /** Peak resident set size since the process started (VmHWM), MB. */
  hwmMb: number;
  /** User + system CPU time so far, seconds. */
  cpuS: number;
}

// Linux reports utime/stime in clock ticks; USER_HZ is 100 on every mainstream kernel build.
const TICKS_PER_S = 100;

/** Reads /proc/<pid>/status and /proc/<pid>/stat; undefined when the process is gone or not on Linux. */
export function procSample(pid: number): ProcSample | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start at field 3; utime/stime are 14/15.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const cpuTicks = Number(fields[11]) + Number(fields[12]);
    return { rssMb: kb('VmRSS') / 1024, hwmMb: kb('VmHWM') / 1024, cpuS: cpuTicks / TICKS_PER_S };
  } catch {
    return undefined;
  }
}

/** utime, stime, cutime, cstime of /proc/<pid>/stat in seconds, and the parent pid; undefined when gone. */
function statCpu(pid: number | string): { own: number; reaped: number; ppid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const own = (Number(f[11]) + Number(f[12])) / TICKS_PER_S;
    return { own, reaped: (Number(f[13]) + Number(f[14])) / TICKS_PER_S, ppid: Number(f[1]) };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds of a process and of its children, live or ended (analytics reads SQLite in child
 * processes, src/analytics/read-process.ts: their CPU is analytics' work); undefined when gone.
 */
export function treeCpuS(pid: number): number | undefined {
  const self = statCpu(pid);
  if (!self) return undefined;
  let total = self.own + self.reaped;
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return total;
  }
  for (const e of entries) {
    const c = statCpu(e);
    if (c?.ppid === pid) total += c.own + c.reaped;
  }
  return total;
}

/**
 * The whole machine's CPU time by kind: busy (user, nice, system, irq, softirq; guests are in
 * user), idle, waiting for I/O, and stolen by the hypervisor. In seconds or, from CpuMeter.host(),
 * in cores; busy + idle + iowait + steal is the machine's core count.
 */
export interface HostCpu {
  busy: number;
  idle: number;
  iowait: number;
  steal: number;
}

/** /proc/stat's `cpu` line (every core) in seconds since boot; undefined off Linux. */
export function hostCpuS(): HostCpu | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
    const [user, nice, system, idle, iowait, irq, softirq, steal] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map((v) => Number(v) / TICKS_PER_S);
    if (steal === undefined || !line.startsWith('cpu ')) return undefined;
    return { busy: user! + nice! + system! + irq! + softirq!, idle: idle!, iowait: iowait!, steal };
  } catch {
    return undefined;
  }
}

/**
 * CPU used by named processes (each with its children) between two moments, in cores (1.0 = one
 * core busy all along), and the whole machine's (host()).
 */
export class CpuMeter {
  private readonly start = new Map<string, number>();
  private readonly t0 = performance.now();
  private readonly host0 = hostCpuS();

  constructor(private readonly pids: Record<string, number>) {
    for (const [name, pid] of Object.entries(pids)) this.start.set(name, treeCpuS(pid) ?? 0);
    this.start.set('bench', selfCpuS());
  }

  /**
   * The machine's cores by kind since the meter started: what the measured processes did not
   * use went to other work (busy), nobody (idle), a disk (iowait) or the hypervisor (steal).
   */
  host(): HostCpu | undefined {
    const now = hostCpuS();
    const s = (performance.now() - this.t0) / 1000;
    if (!now || !this.host0 || s <= 0) return undefined;
    const cores = (k: keyof HostCpu) => round((now[k] - this.host0![k]) / s, 2);
    return { busy: cores('busy'), idle: cores('idle'), iowait: cores('iowait'), steal: cores('steal') };
  }

  /** Cores used per process (and by this benchmark process, "bench") since the meter started. */
  read(): Record<string, number> {
    const s = (performance.now() - this.t0) / 1000;
    const out: Record<string, number> = {};
    for (const [name, used] of Object.entries(this.cpuSeconds())) out[name] = round(used / s, 2);
    return out;
  }

  /** CPU seconds used per process (and by "bench") since the meter started. */
  cpuSeconds(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, pid] of Object.entries(this.pids)) {
      const now = treeCpuS(pid);
      if (now !== undefined) out[name] = now - (this.start.get(name) ?? 0);
    }
    out.bench = selfCpuS() - (this.start.get('bench') ?? 0);
    return out;
  }
}

function selfCpuS(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * The process a supervised child really is: `warren up` starts a non-Node child (Traefik) under a
 * small Node guard (src/stack/process.ts), so the pid it knows is the guard's, which uses no CPU.
 * Returns the guard's only child, or pid itself when it has none.
 */
export function guardedPid(pid: number): number {
  try {
    for (const e of readdirSync('/proc')) {
      if (!/^\d+$/.test(e)) continue;
      try {
        const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
        // Field 4 (ppid) is the second after the command name, which may hold spaces.
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) return Number(e);
      } catch {
        // gone meanwhile
      }
    }
  } catch {
    // no /proc (not Linux): the guard's pid is the best there is
  }
  return pid;
}

/**
 * An amqplib connection of the benchmark, tuned as Warren's own (src/broker/connection.ts): Nagle
 * off and a synchronous run of frames corked into one write, so a ceiling measured on it is at
 * least as well tuned as the path it is compared with. A broker that closes it (an internal
 * error, a restart) rejects the operation in flight, which fails the stage with its reason;
 * without this listener the connection's 'error' event would end the whole process instead.
 */
export async function connectBroker(url: string): Promise<ChannelModel> {
  const conn = await amqp.connect(url, { noDelay: true });
  coalesceWrites(conn);
  conn.on('error', () => undefined);
  return conn;
}
