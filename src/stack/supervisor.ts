// Runs child processes as one unit: starts them in tiers, waits until each is ready (with a
// deadline), prefixes their output with their name, restarts one that dies (with backoff) and
// stops them all in reverse order. It knows nothing about Warren's parts: `warren up` and
// startTraefik() describe their children as ChildSpecs.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { guarded, running, signalGroup, sleep } from './process.js';

export interface ChildSpec {
  name: string;
  command: string;
  args: string[];
  /** Set on top of this process's environment. */
  env?: Record<string, string>;
  /** Resolves true once the child serves; polled until the deadline. No probe: alive for a second. */
  ready?: () => Promise<boolean>;
  /** What ready() checks, for messages (e.g. its /readyz URL). */
  readyWhat?: string;
}

export interface ChildStatus {
  name: string;
  pid: number | undefined;
  ready: boolean;
  restarts: number;
}

interface Child {
  spec: ChildSpec;
  tier: number;
  proc: ChildProcess | undefined;
  ready: boolean;
  restarts: number;
  failures: number;
  startedAt: number;
  exit: Promise<void>;
  closed: Promise<void>;
  timer: NodeJS.Timeout | undefined;
  tail: string[];
}

export interface SupervisorOptions {
  log: Logger;
  /** Where prefixed child output goes (default: this process's stderr). */
  out?: (line: string) => void;
  /** How long a child gets to stop after SIGTERM before SIGKILL. */
  graceMs?: number;
  /** Called whenever a child starts, becomes ready, exits or restarts. */
  onChange?: (status: ChildStatus[]) => void;
}

const BACKOFF_MS = [500, 1000, 2000, 5000, 10_000];
/** A child that ran this long before dying gets the shortest backoff again. */
const STABLE_MS = 30_000;
const TAIL_LINES = 20;

export class Supervisor {
  private readonly children: Child[] = [];
  private stopping = false;
  private tiers = 0;
  private readonly killOnExit = () => this.killAll();

  constructor(private readonly opts: SupervisorOptions) {
    process.on('exit', this.killOnExit);
  }

  status(): ChildStatus[] {
    return this.children.map((c) => ({
      name: c.spec.name,
      pid: c.proc?.exitCode === null && c.proc.signalCode === null ? c.proc.pid : undefined,
      ready: c.ready,
      restarts: c.restarts,
    }));
  }

  pid(name: string): number | undefined {
    return this.status().find((c) => c.name === name)?.pid;
  }

  /** Starts one tier (in parallel) and waits until all of it is ready, or throws naming who is not. */
  async startTier(specs: ChildSpec[], timeoutMs: number): Promise<void> {
    if (this.stopping) throw new WarrenError('internal', 'stopped while starting');
    const tier = this.tiers++;
    const started = specs.map((spec) => this.spawnChild(this.newChild(spec, tier)));
    const deadline = Date.now() + timeoutMs;
    await Promise.all(started.map((c) => this.waitReady(c, deadline, timeoutMs)));
  }

  /** Stops every child, last tier first (each tier in parallel); SIGKILL after the grace time. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const c of this.children) clearTimeout(c.timer);
    for (let tier = this.tiers - 1; tier >= 0; tier--) {
      await Promise.all(this.children.filter((c) => c.tier === tier).map((c) => this.stopChild(c)));
    }
    process.off('exit', this.killOnExit);
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  /** Last resort (a second Ctrl-C, or this process exiting): SIGKILL every child's group now. */
  killAll(): void {
    this.stopping = true;
    for (const c of this.children) {
      clearTimeout(c.timer);
      if (running(c.proc)) signalGroup(c.proc?.pid, 'SIGKILL');
    }
  }

  private newChild(spec: ChildSpec, tier: number): Child {
    const child: Child = {
      spec,
      tier,
      proc: undefined,
      ready: false,
      restarts: 0,
      failures: 0,
      startedAt: 0,
      exit: Promise.resolve(),
      closed: Promise.resolve(),
      timer: undefined,
      tail: [],
    };
    this.children.push(child);
    return child;
  }

  private spawnChild(c: Child): Child {
    const { spec } = c;
    // Its own process group (detached): a terminal's Ctrl-C reaches only us, and we stop the
    // children in order; killing the group also takes anything the child started. An IPC
    // channel to every child: when this process dies, even by SIGKILL, the channel closes and
    // the child stops by itself (a Node child directly, any other through a guard).
    const [command, args] = guarded(spec);
    const proc = spawn(command, args, {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    proc.on('error', () => undefined); // an IPC write to a child that is gone; 'exit' reports it
    c.proc = proc;
    c.ready = false;
    c.startedAt = Date.now();
    this.pipe(c, proc);
    c.closed = new Promise((resolve) => proc.once('close', () => resolve()));
    c.exit = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        resolve();
        this.onExit(c, proc, code, signal);
      });
      proc.once('error', (err) => {
        this.opts.log.error({ child: spec.name, err: describe(err) }, `${spec.name} could not start`);
        resolve();
      });
    });
    if (proc.pid !== undefined) {
      this.opts.log.info({ child: spec.name, pid: proc.pid }, `${spec.name} started (pid ${proc.pid})`);
    }
    this.changed();
    return c;
  }

  private pipe(c: Child, proc: ChildProcess): void {
    const width = Math.max(...this.children.map((x) => x.spec.name.length), 8);
    const out = this.opts.out ?? ((line: string) => process.stderr.write(`${line}\n`));
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) => {
        c.tail.push(line);
        if (c.tail.length > TAIL_LINES) c.tail.shift();
        out(`${c.spec.name.padEnd(width)} | ${line}`);
      });
    }
  }

  private onExit(c: Child, proc: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (c.proc !== proc) return;
    this.changed();
    if (this.stopping) return;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (!c.ready && c.restarts === 0) return; // still starting: waitReady reports it
    const ranMs = Date.now() - c.startedAt;
    c.failures = ranMs > STABLE_MS ? 0 : c.failures + 1;
    const delay = BACKOFF_MS[Math.min(c.failures, BACKOFF_MS.length - 1)] as number;
    c.restarts++;
    this.opts.log.warn(
      { child: c.spec.name, code, signal, restartInMs: delay, restarts: c.restarts },
      `${c.spec.name} exited (${how}); restarting it in ${delay} ms`,
    );
    c.timer = setTimeout(() => {
      if (this.stopping) return;
      this.spawnChild(c);
      void this.watchReady(c);
    }, delay);
  }

  /** After a restart: marks the child ready again when its probe answers (informational). */
  private async watchReady(c: Child): Promise<void> {
    const proc = c.proc;
    while (!this.stopping && c.proc === proc && running(proc)) {
      if (await probe(c)) {
        c.ready = true;
        this.opts.log.info({ child: c.spec.name, pid: proc?.pid }, `${c.spec.name} is ready again`);
        this.changed();
        return;
      }
      await sleep(200);
    }
  }

  private async waitReady(c: Child, deadline: number, timeoutMs: number): Promise<void> {
    const { spec } = c;
    for (;;) {
      if (this.stopping) throw new WarrenError('internal', 'stopped while starting');
      const proc = c.proc;
      if (!running(proc)) {
        // 'close' comes after the last output line: wait for it so the tail is complete.
        await Promise.race([c.closed, sleep(1000)]);
        const code = proc?.exitCode ?? proc?.signalCode ?? 'unknown';
        throw new WarrenError(
          'internal',
          `${spec.name} exited (${code}) before it was ready; its last lines:\n${c.tail.join('\n')}`,
        );
      }
      if (await probe(c)) {
        c.ready = true;
        this.changed();
        return;
      }
      if (Date.now() > deadline) {
        throw new WarrenError(
          'internal',
          `${spec.name} did not become ready within ${Math.round(timeoutMs / 1000)} s (checked ${spec.readyWhat ?? 'its process'}); see its lines prefixed "${spec.name} |" above, or raise READY_TIMEOUT_S`,
        );
      }
      await sleep(200);
    }
  }

  private async stopChild(c: Child): Promise<void> {
    const proc = c.proc;
    if (!running(proc)) return;
    signalGroup(proc?.pid, 'SIGTERM');
    const graceMs = this.opts.graceMs ?? 10_000;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((r) => {
      timer = setTimeout(() => r(true), graceMs);
    });
    const killed = await Promise.race([c.exit.then(() => false), late]);
    clearTimeout(timer);
    if (killed && running(proc)) {
      this.opts.log.warn(
        { child: c.spec.name },
        `${c.spec.name} did not stop within ${graceMs} ms; killing it`,
      );
      signalGroup(proc?.pid, 'SIGKILL');
      await c.exit;
    }
  }

  private changed(): void {
    this.opts.onChange?.(this.status());
  }
}

/** A child with no probe (a simulated client) counts as ready once it has lived this long. */
const SETTLE_MS = 1000;

async function probe(c: Child): Promise<boolean> {
  if (!c.spec.ready) return running(c.proc) && Date.now() - c.startedAt >= SETTLE_MS;
  try {
    return await c.spec.ready();
  } catch {
    return false;
  }
}
