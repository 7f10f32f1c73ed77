// Reconcile's ledger in the store, on both stores: the consumer's commit records counted,
// unreported and duplicates in its own transaction, exactly once per publish (a redelivery of a
// committed batch, which is what a kill between commit and ack produces, changes nothing), and a
// report applied twice counts once.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reconcileOf } from '../src/analytics/store/index.js';
import type { LedgerRow } from '../src/analytics/store/reconcile.js';
import type { ParsedEvent } from '../src/event.js';
import { ev, kinds, withStore } from './store-kinds.js';

const T = '2025-04-13T12:00:10Z';
const MINUTE = Date.parse('2025-04-13T12:00:00Z') / 1000;

function tagged(id: string | undefined, cliente: string, pub?: string): ParsedEvent {
  const e = ev(id, cliente, 'click', T);
  if (pub !== undefined) e.pub = pub;
  return e;
}

function plain(rows: LedgerRow[]): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const r of rows)
    out[`${r.cliente}@${Number(r.t)}`] = [r.attempted, r.accepted, r.counted, r.unreported, r.duplicates].map(
      Number,
    );
  return out;
}

for (const kind of kinds) {
  describe(`reconcile ledger (${kind.name})`, () => {
    it('counts a redelivered batch once, a client retry as one duplicate, once, and unreported events apart', async () => {
      await withStore(kind, async (store) => {
        const ledger = reconcileOf(store)!;
        const batch = [tagged('a', 'c1', 'r.1'), tagged('b', 'c1', 'r.2'), tagged('x', 'c2')];
        await store.commit(batch);
        // The broker redelivers the committed batch (analytics killed between commit and ack),
        // and the publisher sent `a` again itself after a lost confirm (same tag): no duplicates.
        await store.commit([...batch, tagged('a', 'c1', 'r.1')]);
        // A client retried `a` (a new publish, new tag), and that delivery came twice.
        const r = await store.commit([tagged('a', 'c1', 'r.9')]);
        assert.equal(r.duplicates, 1);
        await store.commit([tagged('a', 'c1', 'r.9')]);
        // Inside one batch: the first copy is counted, a second publish of it is a duplicate.
        await store.commit([tagged('d', 'c1', 'r.3'), tagged('d', 'c1', 'r.4')]);
        assert.deepEqual(plain(await ledger.rows({})), {
          [`c1@${MINUTE}`]: [0, 0, 3, 0, 2],
          [`c2@${MINUTE}`]: [0, 0, 0, 1, 0],
        });
      });
    });

    it('applies a report once however often it is delivered, and filters by client and range', async () => {
      await withStore(kind, async (store) => {
        const ledger = reconcileOf(store)!;
        const report = {
          id: 'rep.1',
          rows: [
            { cliente: 'c1', t: MINUTE, attempted: 3, accepted: 2 },
            { cliente: 'c2', t: MINUTE + 60, attempted: 1, accepted: 1 },
          ],
        };
        assert.equal(await ledger.applyReports([report, report], 1000), 1);
        assert.equal(await ledger.applyReports([report], 1001), 0);
        assert.equal(
          await ledger.applyReports(
            [{ id: 'rep.2', rows: [{ cliente: 'c1', t: MINUTE, attempted: 1, accepted: 1 }] }],
            1002,
          ),
          1,
        );
        assert.deepEqual(plain(await ledger.rows({})), {
          [`c1@${MINUTE}`]: [4, 3, 0, 0, 0],
          [`c2@${MINUTE + 60}`]: [1, 1, 0, 0, 0],
        });
        assert.deepEqual(Object.keys(plain(await ledger.rows({ cliente: 'c2' }))), [`c2@${MINUTE + 60}`]);
        assert.deepEqual(Object.keys(plain(await ledger.rows({ from: MINUTE, to: MINUTE + 60 }))), [
          `c1@${MINUTE}`,
        ]);
        // Retention forgets rows and report ids before its cutoff, nothing after it.
        assert.ok((await ledger.prune(MINUTE + 60)) >= 1);
        assert.deepEqual(Object.keys(plain(await ledger.rows({}))), [`c2@${MINUTE + 60}`]);
      });
    });
  });
}
