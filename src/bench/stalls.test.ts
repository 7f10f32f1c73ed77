// The latency stage's stall windows: consecutive slow events make one window, with the worst
// visible and confirm times; fast events close it; only the first `limit` windows are kept.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stallWindows } from './stalls.js';

test('runs of slow events become windows with their worst visible and confirm times', () => {
  // Sent every 100 ms from t0 = 1000; visible after [10, 400, 900, 20, 300, 30] ms.
  const sentAt = Float64Array.from([1000, 1100, 1200, 1300, 1400, 1500]);
  const visibleMs = [10, 400, 900, 20, 300, 30];
  const confirmMs = [5, 380, 850, 10, 8, 9];
  const t = {
    sentAt,
    visibleAt: sentAt.map((s, i) => s + visibleMs[i]!),
    confirmedAt: sentAt.map((s, i) => s + confirmMs[i]!),
    t0: 1000,
  };
  assert.deepEqual(stallWindows(t, 250), [
    { fromS: 0.1, toS: 0.2, events: 2, maxMs: 900, confirmMaxMs: 850 },
    { fromS: 0.4, toS: 0.4, events: 1, maxMs: 300, confirmMaxMs: 8 },
  ]);
  assert.deepEqual(stallWindows(t, 250, 1).length, 1);
  assert.deepEqual(stallWindows(t, 1000), []);
});
