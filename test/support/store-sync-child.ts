// Run by store-durability.test.ts under strace: opens a SQLite store at argv[2], migrates it, and
// commits argv[3] batches of one new event each, printing "committed N" when done.

import { parse } from '../../src/event.js';
import { SqliteStore } from '../../src/store/index.js';

const [path, batchesArg] = process.argv.slice(2);
const store = new SqliteStore(path!);
await store.migrate();
const batches = Number(batchesArg);
for (let i = 0; i < batches; i++) {
  const r = parse({
    id: `sync-${i}`,
    cliente: 'cliente_uno',
    evento: 'click',
    timestamp: '2025-04-13T12:00:00Z',
  });
  if (!r.ok) throw new Error('bad test event');
  await store.commit([r.event]);
}
process.stdout.write(`committed ${batches}\n`);
await store.close();
