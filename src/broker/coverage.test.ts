import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ReportCoverage } from './coverage.js';

test('a wait with every queued report confirmed is answered at once; with none queued too', () => {
  const c = new ReportCoverage();
  let n = 0;
  c.wait(() => n++);
  assert.equal(n, 1);
  const r = c.add();
  c.confirmed(r);
  c.wait(() => n++);
  assert.equal(n, 2);
});

test('a wait is answered only once every report queued before it is confirmed, in any order', () => {
  const c = new ReportCoverage();
  const r1 = c.add();
  const r2 = c.add();
  const answered: string[] = [];
  c.wait(() => answered.push('a')); // needs r1 and r2
  const r3 = c.add();
  c.wait(() => answered.push('b')); // needs r1, r2 and r3
  c.confirmed(r2);
  c.confirmed(r3);
  assert.deepEqual(answered, [], 'r1 is still open');
  c.confirmed(r1);
  assert.deepEqual(answered, ['a', 'b']);
});

test('a later report open does not hold a wait taken before it was queued', () => {
  const c = new ReportCoverage();
  const r1 = c.add();
  let done = false;
  c.wait(() => {
    done = true;
  });
  c.add(); // r2, still open
  c.confirmed(r1);
  assert.equal(done, true);
});

test('a withdrawn wait is never answered; the others still are', () => {
  const c = new ReportCoverage();
  const r1 = c.add();
  const answered: string[] = [];
  const withdraw = c.wait(() => answered.push('gone'));
  c.wait(() => answered.push('kept'));
  withdraw();
  c.confirmed(r1);
  assert.deepEqual(answered, ['kept']);
});
