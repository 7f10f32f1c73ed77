// `warren export` as a user runs it (the built CLI as a child) on both stores, after a rollup:
// the file sums to the report of the range, in CSV and NDJSON; progress goes to stderr, the
// summary to stdout; bad usage exits 2 and leaves no file.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { retentionPass } from '../src/store/index.js';
import { warren } from './support/helpers.js';
import {
  AT_NOW,
  CUT,
  commitAll,
  DAY,
  dataset,
  isoS,
  kinds,
  NOW,
  SETTINGS,
} from './support/retention-helpers.js';
import { rows, withDb } from './support/store.js';

function sums(lines: { cliente: string; evento: string; count: number }[]): string[] {
  const m = new Map<string, number>();
  for (const r of lines)
    m.set(`${r.cliente}/${r.evento}`, (m.get(`${r.cliente}/${r.evento}`) ?? 0) + r.count);
  return [...m].map(([k, n]) => `${k}=${n}`).sort();
}

function parseCsv(text: string) {
  const [header, ...lines] = text.trimEnd().split('\n');
  assert.equal(header, 'cliente,evento,t,count');
  return lines.map((l) => {
    const [cliente, evento, t, count] = l.split(',');
    return { cliente: cliente!, evento: evento!, t: t!, count: Number(count) };
  });
}

function parseNdjson(text: string) {
  return text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { cliente: string; evento: string; t: string; count: number });
}

for (const kind of kinds) {
  describe(`warren export: ${kind}`, () => {
    test('writes a range that sums to its report, as CSV and as NDJSON', () =>
      withDb(kind, AT_NOW, async (db) => {
        const dir = mkdtempSync(join(tmpdir(), 'warren-export-'));
        try {
          const store = await db.open();
          await commitAll(store, dataset(2000, 41));
          await retentionPass(store, SETTINGS, { now: NOW });
          // Across all three levels, aligned to days.
          const from = CUT.hour - 5 * DAY;
          const to = Math.floor(NOW / DAY) * DAY + DAY;
          const report = rows(await store.report({ from, to }));
          const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
          const range = ['--from', isoS(from), '--to', isoS(to)];

          const csvFile = join(dir, 'out.csv');
          const csv = warren(
            ['export', ...range, '--bucket', 'hour', '--format', 'csv', '--out', csvFile],
            env,
          );
          assert.equal(await csv.exited, 0, csv.output());
          const csvRows = parseCsv(readFileSync(csvFile, 'utf8'));
          assert.deepEqual(sums(csvRows), report);
          assert.ok(csvRows.every((r) => r.t.endsWith(':00:00Z') && r.t >= isoS(from) && r.t < isoS(to)));
          assert.match(csv.stdout(), new RegExp(`^wrote ${csvRows.length.toLocaleString('en-US')} rows`));
          assert.match(csv.output().replace(csv.stdout(), ''), /export: \[#+\] 100%/);
          assert.equal(existsSync(`${csvFile}.partial`), false);

          const ndFile = join(dir, 'out.ndjson');
          const nd = warren(['export', ...range, '--bucket', 'day', '--out', ndFile], env);
          assert.equal(await nd.exited, 0, nd.output());
          assert.deepEqual(sums(parseNdjson(readFileSync(ndFile, 'utf8'))), report);

          const one = warren(['export', ...range, '--cliente', 'cliente_3', '--out', '-'], env);
          assert.equal(await one.exited, 0, one.output());
          assert.deepEqual(
            sums(parseNdjson(one.stdout())),
            rows(await store.report({ from, to, cliente: 'cliente_3' })),
          );
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }));
  });
}

test('warren export: bad usage exits 2 and writes nothing', () =>
  withDb('sqlite', AT_NOW, async (db) => {
    await db.open();
    const dir = mkdtempSync(join(tmpdir(), 'warren-export-'));
    const out = join(dir, 'x.csv');
    try {
      const cases: [string[], Record<string, string>, RegExp][] = [
        [['export'], {}, /--out FILE is required/],
        [['export', '--out', out, '--bucket', 'week'], {}, /--bucket is not valid: one of minute, hour, day/],
        [['export', '--out', out, '--from', 'yesterday'], {}, /--from is not valid: an RFC 3339/],
        [['export', '--out', out, '--format', 'xml'], {}, /--format must be ndjson or csv/],
        [['export', '--out', out], { DATABASE_URL: `sqlite:${join(dir, 'none.db')}` }, /no store there/],
      ];
      for (const [args, env, message] of cases) {
        const p = warren(args, { DATABASE_URL: db.url, ...env });
        assert.equal(await p.exited, 2, p.output());
        assert.match(p.output(), message);
        assert.equal(existsSync(out), false);
      }
      assert.equal(existsSync(join(dir, 'none.db')), false, 'export never creates a store');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }));
