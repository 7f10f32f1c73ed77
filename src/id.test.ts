import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newId } from './id.js';

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('newId: UUID v7 strings, unique across pool refills, stamped with the current millisecond', () => {
  const before = Date.now();
  const ids = Array.from({ length: 50_000 }, newId);
  const after = Date.now();
  assert.equal(new Set(ids).size, ids.length);
  for (const id of [ids[0]!, ids[255]!, ids[256]!, ids.at(-1)!]) {
    assert.match(id, V7);
    const ms = Number.parseInt(id.replaceAll('-', '').slice(0, 12), 16);
    assert.ok(ms >= before && ms <= after, `${id}: ${ms} not in [${before}, ${after}]`);
  }
});
