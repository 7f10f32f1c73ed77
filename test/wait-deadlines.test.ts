// Waits in the tests end at their deadline and say what they waited for, even when the thing
// polled never answers (a request to a process that stopped answering): the fault suite relies
// on it so that a stuck run names what it was stuck on.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { waitFor, within } from './support/helpers.js';

const never = () => new Promise<boolean>(() => undefined);

test('waitFor gives up at its deadline when a check never settles', { timeout: 10_000 }, async () => {
  const t0 = Date.now();
  await assert.rejects(
    waitFor('the check that never answers', never, 300, 50),
    /timed out after 300 ms waiting for the check that never answers; last: a check was still unanswered/,
  );
  assert.ok(Date.now() - t0 < 2000, `gave up after ${Date.now() - t0} ms`);
});

test('waitFor still returns the first truthy value', async () => {
  let n = 0;
  assert.equal(await waitFor('the third poll', () => (++n >= 3 ? n : 0), 5000, 10), 3);
});

test('within fails naming what it waited for, and passes a settled value through', async () => {
  await assert.rejects(
    within('the queue to drain', 50, never()),
    /timed out after 50 ms waiting for the queue to drain/,
  );
  assert.equal(await within('a value', 1000, Promise.resolve(7)), 7);
});
