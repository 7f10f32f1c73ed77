// One pass over the chosen stages, in PLAN's order (`--repeat N` makes N passes). The measured
// stack (analytics, ingest, Traefik) is started once, just before the first stage that measures
// it, and kept for the later passes: each pass measures the same processes.
import { describe, WarrenError } from '../errors.js';
import { PLAN, type PlannedStage, type StageContext, type StageName } from './plan.js';
import { type StackOptions, type Stage, startStack } from './stage.js';

/** The measured stack, started at most once for the whole run. */
export class StackHolder {
  private stack: Stage | undefined;
  private error: unknown;
  private tried = false;
  private starting: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: StackOptions,
    private readonly start: typeof startStack = startStack,
  ) {}

  /** Starts the stack the first time it is asked for; a failure is kept and reported by get(). */
  async ensure(ctx: StageContext, cancel: Promise<never>): Promise<void> {
    if (this.tried) return;
    this.tried = true;
    const starting = this.start(ctx.env, ctx.progress, this.options);
    this.starting = starting.then(
      () => undefined,
      () => undefined,
    );
    try {
      this.stack = await Promise.race([starting, cancel]);
    } catch (err) {
      this.error = err;
    }
  }

  /**
   * Resolves once a start is over. An interrupt ends ensure() while the start goes on; children it
   * spawns after that register their clean-up late, so the run's clean-up waits for this first.
   */
  settled(): Promise<void> {
    return this.starting;
  }

  get = (): Stage => {
    if (!this.stack) {
      throw new WarrenError('internal', `the measured stack did not start: ${describe(this.error)}`, {
        cause: this.error,
      });
    }
    return this.stack;
  };
}

/**
 * Runs the chosen stages in PLAN's order; a stage that fails is reported and the next one runs.
 * A stop signal ends the stage in progress and skips the rest. Returns that signal, if one came.
 */
export async function runStages(
  ctx: StageContext,
  only: readonly StageName[],
  holder: StackHolder,
  stopSignal: Promise<NodeJS.Signals>,
  plan: readonly PlannedStage[] = PLAN,
): Promise<NodeJS.Signals | undefined> {
  const { progress, results } = ctx;
  let interrupted: NodeJS.Signals | undefined;
  const cancel = stopSignal.then((sig): never => {
    interrupted = sig;
    throw new WarrenError('interrupted', `interrupted by ${sig}`);
  });
  cancel.catch(() => undefined);

  for (const planned of plan) {
    if (!only.includes(planned.name)) continue;
    // No stack is started once interrupted: its children would outlive the run (settled()).
    if (planned.needsStack && !interrupted) await holder.ensure(ctx, cancel);
    if (interrupted) {
      results.errors.push({ stage: planned.title, message: `skipped: interrupted by ${interrupted}` });
      continue;
    }
    progress.start(planned.title);
    try {
      progress.end(await Promise.race([planned.run(ctx, holder.get), cancel]));
    } catch (err) {
      const message = describe(err);
      results.errors.push({ stage: planned.title, message });
      progress.end(`FAILED: ${message}`);
    }
  }
  return interrupted;
}
