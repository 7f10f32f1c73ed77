import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { defaultTimestamp } from './routes.js';

test('the default timestamp is Date.toISOString of now, across milliseconds, seconds and days', () => {
  mock.timers.enable({ apis: ['Date'], now: Date.UTC(2025, 11, 31, 23, 59, 58, 990) });
  try {
    for (let i = 0; i < 2100; i++) {
      assert.equal(defaultTimestamp(), new Date(Date.now()).toISOString());
      mock.timers.tick(i % 7 === 0 ? 3 : 1);
    }
  } finally {
    mock.timers.reset();
  }
});
