// `npm run chaos`: the fault suite, one scenario file at a time (they share the machine's two
// cores and the local PostgreSQL cluster, which scenario 04 restarts). Arguments pass through to
// `node --test`, before the file list, so both of these work:
//   npm run chaos -- --test-name-pattern="PostgreSQL restarted"
//   npm run chaos -- test/chaos/03-ingest-kill.test.ts
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
const args = process.argv.slice(2);
const named = args.filter((a) => a.endsWith('.test.ts'));
const options = args.filter((a) => !a.endsWith('.test.ts'));
const all = readdirSync(import.meta.dirname)
  .filter((f) => f.endsWith('.test.ts'))
  .sort()
  .map((f) => relative(root, join(import.meta.dirname, f)));
const r = spawnSync(
  process.execPath,
  [
    '--import',
    'tsx',
    '--test',
    '--test-concurrency=1',
    '--test-force-exit',
    '--test-reporter=spec',
    ...options,
    ...(named.length ? named : all),
  ],
  { cwd: root, stdio: 'inherit' },
);
process.exit(r.status ?? 1);
