// Samples which node leads a quorum queue every few hundred milliseconds (test/support/leader-probe.escript:
// one hidden Erlang node that asks each cluster node over distribution). The cluster tests used
// `rabbitmqctl list_queues`, which boots an Erlang VM per call: 1–8 s per sample on this machine
// and over 10 s under load, so the longest measured stretch "without a leader" was mostly the
// polls' own duration, and went over its bound on a loaded machine while the queue had a leader.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { rabbitUser } from '../../deploy/rabbit-cluster.js';

/** One sample: when it arrived, and each node's answer (a leader's node name, "none" or "error"). */
export interface ProbeSample {
  t: number;
  answers: Map<string, string>;
}

export interface LeaderProbe {
  /** Ends the probe (its standard input closes) and waits for it to exit. */
  stop(): Promise<void>;
  /** What the probe wrote to stderr (for failure messages). */
  errors(): string;
}

/**
 * Starts the probe on `queue` (in vhost "/") of `nodes`; `onSample` gets every sample. `dir` must
 * be readable by the rabbitmq user (the probe runs as that user, to share the nodes' cookie).
 */
export function startLeaderProbe(
  dir: string,
  queue: string,
  nodes: string[],
  onSample: (s: ProbeSample) => void,
  everyMs = 250,
): LeaderProbe {
  const script = join(dir, 'leader-probe.escript');
  copyFileSync(join(import.meta.dirname, 'leader-probe.escript'), script);
  chmodSync(script, 0o644);
  const { uid, gid } = rabbitUser();
  const name = `warren_probe_${process.pid}_${Date.now() % 100_000}@localhost`;
  const child: ChildProcess = spawn('escript', [script, name, queue, String(everyMs), ...nodes], {
    uid,
    gid,
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/var/lib/rabbitmq', LANG: 'C.UTF-8' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-5000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stdout! }).on('line', (line) => {
    const answers = new Map<string, string>();
    for (const pair of line.trim().split(' ')) {
      const eq = pair.indexOf('=');
      if (eq > 0) answers.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    onSample({ t: Date.now(), answers });
  });
  return {
    async stop() {
      child.stdin?.end();
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
    errors: () => err,
  };
}
