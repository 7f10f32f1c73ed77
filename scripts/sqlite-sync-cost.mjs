// The SQLite store's commit cost, synchronous=NORMAL vs FULL, alternating in one run (BENCHMARKS.md,
// "Durable commits"): `npm run build && node scripts/sqlite-sync-cost.mjs COMMITS EVENTS_PER_COMMIT`.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '../dist/event.js';
import { SqliteStore } from '../dist/store/index.js';

const dir = mkdtempSync(join(tmpdir(), 'commit-cost-'));
let seq = 0;
async function run(mode, commits, batch) {
  const store = new SqliteStore(join(dir, `${mode}-${seq++}.db`));
  store.db.pragma(`synchronous = ${mode}`);
  await store.migrate();
  const times = [];
  for (let i = 0; i < commits; i++) {
    const events = [];
    for (let j = 0; j < batch; j++) {
      const r = parse({
        id: `e-${i}-${j}`,
        cliente: `c${j % 50}`,
        evento: 'click',
        timestamp: '2025-04-13T12:00:00Z',
      });
      events.push(r.event);
    }
    const t0 = performance.now();
    await store.commit(events);
    times.push(performance.now() - t0);
  }
  await store.close();
  times.sort((a, b) => a - b);
  const total = times.reduce((a, b) => a + b, 0);
  return {
    p50: times[Math.floor(times.length / 2)],
    p99: times[Math.floor(times.length * 0.99)],
    eps: (commits * batch) / (total / 1000),
  };
}
const [commits, batch] = process.argv.slice(2).map(Number);
for (let round = 1; round <= 3; round++)
  for (const mode of ['NORMAL', 'FULL']) {
    const r = await run(mode, commits, batch);
    console.log(
      `${mode} batch=${batch} commits=${commits} round=${round}: commit p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, ${Math.round(r.eps)} events/s committed`,
    );
  }
rmSync(dir, { recursive: true, force: true });
