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
// The reconcile answer read after the drain (GET /api/v1/reconcile): its status, and the totals
// that are not zero besides accepted and counted (which equal the confirmed and counted columns).
const reconcile = (rc) => {
  if (!rc) return '';
  const t = rc.totals ?? {};
  const extra = ['uncertain', 'duplicates', 'dead_valid', 'dead_invalid', 'unreported']
    .filter((k) => t[k])
    .map((k) => `${k} ${n(t[k])}`);
  return [rc.status ?? '', `accepted ${n(t.accepted)}`, ...extra].join(', ');
};

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
  'reconcile',
  'seconds',
  'passed',
  'notes',
];
const TEXT = new Set(['scenario', 'faults injected', 'reconcile', 'notes']);
const out = [`| ${head.join(' | ')} |`, `|${head.map((h) => (TEXT.has(h) ? '---' : '--:')).join('|')}|`];
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
      reconcile(r.details?.reconcile),
      n(r.seconds),
      r.ok ? 'yes' : '**no**',
      r.note ?? '',
    ].join(' | ')} |`,
  );
}
process.stdout.write(`${out.join('\n')}\n`);
