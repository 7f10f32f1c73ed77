import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combine, max, median, min, repeatedJson, spreadTable } from './repeat.js';

describe('bench --repeat figures', () => {
  it('median of odd and even counts', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([7]), 7);
  });

  it('combines key by key, arrays index by index, and leaves a failed run (null) out', () => {
    const runs = [
      { a: 1, n: { p99: 10, list: [{ eps: 5 }] }, name: 'x', gone: null },
      { a: 3, n: { p99: null, list: [{ eps: 7 }] }, name: 'y', gone: null },
      { a: 2, n: { p99: 30, list: [{ eps: 6 }] }, name: 'z', gone: null },
    ];
    assert.deepEqual(combine(runs, median), {
      a: 2,
      n: { p99: 20, list: [{ eps: 6 }] },
      name: 'x',
      gone: null,
    });
    assert.deepEqual(combine(runs, min).n, { p99: 10, list: [{ eps: 5 }] });
    assert.deepEqual(combine(runs, max).a, 3);
  });

  it('gives medians under the same keys, min, max, runs and every error with its run', () => {
    const run = (eps: number, p999: number, errors: unknown[] = []) => ({
      broker_ceiling_eps: eps,
      latency_ms: { p99: p999 / 2, p999 },
      machine: { cores: 2 },
      settings: { quick: true },
      details: { ceiling: { eps } },
      errors,
      started_at: 'then',
      duration_s: eps / 100,
    });
    const json = repeatedJson([
      run(100, 40),
      run(300, 20, [{ stage: 'latency', message: 'boom' }]),
      run(200, 30),
    ]);
    assert.equal(json.broker_ceiling_eps, 200);
    assert.deepEqual(json.latency_ms, { p99: 15, p999: 30 });
    assert.deepEqual(json.min, { broker_ceiling_eps: 100, latency_ms: { p99: 10, p999: 20 } });
    assert.deepEqual(json.max, { broker_ceiling_eps: 300, latency_ms: { p99: 20, p999: 40 } });
    assert.equal(json.repeat, 3);
    assert.equal(json.duration_s, 3);
    assert.deepEqual(json.errors, [{ stage: 'latency', message: 'boom', run: 2 }]);
    const runs = json.runs as Record<string, unknown>[];
    assert.equal(runs.length, 3);
    assert.equal(runs[1]!.broker_ceiling_eps, 300);
    assert.equal(runs[1]!.machine, undefined);
    const text = spreadTable(json);
    assert.match(text, /latency_ms\.p999\s+20\.0\s+30\.0\s+40\.0/);
    assert.match(text, /broker_ceiling_eps\s+100\.0\s+200\.0\s+300\.0/);
  });
});
