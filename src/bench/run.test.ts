import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PlannedStage, StageContext } from './plan.js';
import type { Progress } from './progress.js';
import type { Results } from './report.js';
import { runStages, StackHolder } from './run.js';
import type { Stage } from './stage.js';

const progress = { start() {}, end() {}, note() {} } as unknown as Progress;
const context = () =>
  ({ progress, results: { errors: [] } as unknown as Results }) as unknown as StageContext;

describe('bench stages and the measured stack', () => {
  it('starts no stack once interrupted: the stages after the signal are skipped before it', async () => {
    let started = 0;
    const holder = new StackHolder({ ingestInstances: 1 }, async () => {
      started++;
      return {} as Stage;
    });
    // The signal comes while the first stage runs (a stage ends only through the cancel).
    let fire!: (sig: NodeJS.Signals) => void;
    const signal = new Promise<NodeJS.Signals>((r) => {
      fire = r;
    });
    const plan: PlannedStage[] = [
      {
        name: 'ceiling',
        title: 'broker ceiling',
        run: () => {
          fire('SIGINT');
          return new Promise<string>(() => undefined);
        },
      },
      { name: 'amqp', title: 'AMQP path', needsStack: true, run: async () => 'ok' },
    ];
    const ctx = context();
    const got = await runStages(ctx, ['ceiling', 'amqp'], holder, signal, plan);
    assert.equal(got, 'SIGINT');
    assert.equal(started, 0, 'the stack was started after the interrupt');
    assert.deepEqual(
      ctx.results.errors.map((e) => e.stage),
      ['broker ceiling', 'AMQP path'],
    );
  });

  it('waits, on settled(), for a start the interrupt overtook, so its children are cleaned up', async () => {
    let finished = false;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const holder = new StackHolder({ ingestInstances: 1 }, async () => {
      await gate;
      finished = true; // a real start registers its children's clean-up here
      return {} as Stage;
    });
    const cancel = Promise.reject(new Error('interrupted'));
    cancel.catch(() => undefined);
    await holder.ensure(context(), cancel);
    assert.throws(() => holder.get(), /did not start/);
    assert.equal(finished, false);
    const settled = holder.settled();
    release();
    await settled;
    assert.equal(finished, true, 'settled() returned before the start it overtook had finished');
  });
});
