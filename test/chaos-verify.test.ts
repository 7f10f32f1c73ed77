// The chaos suite's by-id check (test/chaos/verify.ts) on both stores. Ids are scoped per client
// (CONTRACT.md, "Event"), so a confirmed id counts as found only under the client that sent it:
// the same id counted for another client is a different event. Looking ids up by (cliente, id)
// also follows seen_ids' primary key; by id alone it scanned the table once per id.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ledger, readStore } from './chaos/verify.js';
import { ev, kinds, withStore } from './support/store.js';

for (const kind of kinds) {
  test(`chaos readStore (${kind.name}): a confirmed id is found only under its own client`, () =>
    withStore(kind, async (store, db) => {
      await store.commit([
        ev('x-1', 'cliente_a', 'click', '2025-04-13T12:00:00Z'),
        ev('x-2', 'cliente_a', 'click', '2025-04-13T12:00:00Z'),
      ]);
      const ledger = new Ledger();
      ledger.addIds('cliente_a', ['x-1', 'x-2', 'x-2']); // a retried request repeats its ids
      ledger.addIds('cliente_b', ['x-1']); // never counted for cliente_b
      const facts = await readStore(
        { store: kind.name, dbPath: db.url.replace(/^sqlite:/, ''), databaseUrl: db.url },
        ledger,
      );
      assert.equal(facts.missingIds, 1, "cliente_b's x-1 is missing");
      assert.deepEqual(Object.fromEntries(facts.foundIds), { cliente_a: 2, cliente_b: 0 });
      assert.equal(facts.seen, 2);
      assert.equal(facts.counted, 2);
    }));
}
