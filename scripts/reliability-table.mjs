// Prints RELIABILITY.md's table from test-artifacts/reliability.json (written by `npm run chaos`):
// the latest row of each scenario at the chosen scale (default 1, the full sizes).
//   node scripts/reliability-table.mjs [--scale 0.05] [--file test-artifacts/reliability.json]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? def : args[i + 1];
};
const file = opt('file', join(import.meta.dirname, '..', 'test-artifacts', 'reliability.json'));
const scale = Number(opt('scale', '1'));

const rows = JSON.parse(readFileSync(file, 'utf8')).filter((r) => r.scale === scale);
const latest = new Map();
for (const r of rows) latest.set(r.scenario, r);
if (latest.size === 0) {
  process.stderr.write(`no rows at scale ${scale} in ${file}; run \`npm run chaos\` first\n`);
  process.exit(1);
}

const n = (v) => (typeof v === 'number' ? v.toLocaleString('en-US') : String(v ?? ''));
const head = [
  'scenario',
  'events sent',
  'events confirmed',
  'faults injected',
  'events counted',
  'lost',
  'counted twice',
  'dead-lettered',
  'manual restarts',
  'seconds',
  'passed',
  'notes',
];
const out = [
  `| ${head.join(' | ')} |`,
  `|${head.map((_, i) => (i === 0 || i === 3 || i === head.length - 1 ? '---' : '--:')).join('|')}|`,
];
for (const r of [...latest.values()].sort((a, b) =>
  a.scenario.localeCompare(b.scenario, 'en', { numeric: true }),
)) {
  out.push(
    `| ${[
      r.scenario,
      n(r.events_sent),
      n(r.events_confirmed),
      r.faults,
      n(r.events_counted),
      n(r.lost),
      n(r.counted_twice),
      n(r.dead_lettered),
      n(r.manual_restarts ?? 0),
      n(r.seconds),
      r.ok ? 'yes' : '**no**',
      r.note ?? '',
    ].join(' | ')} |`,
  );
}
process.stdout.write(`${out.join('\n')}\n`);
