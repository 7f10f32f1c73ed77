// The layout check of `npm test` (.dependency-cruiser.cjs): it passes on src/, and on a small tree
// with a door bypassed, a part without a door and an import cycle it fails naming each of them,
// while the imports that go through a door stay unreported.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
const CONFIG = join(ROOT, '.dependency-cruiser.cjs');
const DEPCRUISE = join(ROOT, 'node_modules', '.bin', 'depcruise');

interface Violation {
  rule: { name: string };
  from: string;
  to: string;
  cycle?: { name: string }[];
}

/** The check as `npm test` runs it: its exit code and what it prints. */
function check(cwd: string): { status: number | null; output: string } {
  const r = spawnSync(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'err'], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

/** The same check's violations, one by one. */
function violations(cwd: string): Violation[] {
  const r = spawnSync(DEPCRUISE, ['src', '--config', CONFIG, '--output-type', 'json'], {
    cwd,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.ok(r.stdout, `depcruise printed nothing (exit ${r.status}): ${r.stderr}`);
  return (JSON.parse(r.stdout) as { summary: { violations: Violation[] } }).summary.violations;
}

const edges = (vs: Violation[], rule: string) =>
  vs.filter((v) => v.rule.name === rule).map((v) => `${v.from} -> ${v.to}`);

describe('the layout check', () => {
  const dir = mkdtempSync(join(tmpdir(), 'warren-layout-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  };

  it('finds nothing in src/', () => {
    const { status, output } = check(ROOT);
    assert.equal(status, 0, output);
  });

  it('fails on a bypassed door, a part without one, and a cycle, and lets doors through', () => {
    // The kernel: one file any part may import.
    write('src/event.ts', 'export const kernel = 1;\n');
    // Part a: a door and what it exports.
    write('src/a/index.ts', "export { x } from './x.js';\n");
    write('src/a/x.ts', "import { kernel } from '../event.js';\nexport const x = kernel;\n");
    // Part b: one import through a's door, one past it, one into a part that has no door.
    write('src/b/index.ts', "export { good } from './good.js';\nexport { bad } from './bad.js';\n");
    write('src/b/good.ts', "import { x } from '../a/index.js';\nexport const good = x;\n");
    write(
      'src/b/bad.ts',
      "import { x } from '../a/x.js';\nimport { z } from '../d/z.js';\nexport const bad = x + z;\n",
    );
    write('src/d/z.ts', 'export const z = 3;\n');
    // Part c: two files that import each other (types count too).
    write('src/c/index.ts', "export { p } from './p.js';\n");
    write('src/c/p.ts', "import type { Q } from './q.js';\nexport const p = 1;\nexport type P = Q;\n");
    write('src/c/q.ts', "import { p } from './p.js';\nexport type Q = typeof p;\n");
    // The CLI loads b past its door.
    write('src/cli.ts', "export const load = () => import('./b/bad.js');\n");

    const { status, output } = check(dir);
    const found = violations(dir);
    // depcruise exits with the number of errors it found.
    assert.notEqual(status, 0, output);
    assert.equal(status, found.length, output);
    assert.deepEqual(edges(found, 'part-through-door').sort(), [
      'src/b/bad.ts -> src/a/x.ts',
      'src/b/bad.ts -> src/d/z.ts',
    ]);
    assert.deepEqual(edges(found, 'kernel-through-door'), ['src/cli.ts -> src/b/bad.ts']);
    const cycles = found.filter((v) => v.rule.name === 'no-cycle');
    assert.ok(cycles.length >= 1, output);
    for (const c of cycles) assert.match(`${c.from} ${c.to}`, /^src\/c\/[pq]\.ts src\/c\/[pq]\.ts$/);
    // Nothing else: the door import (b/good.ts -> a/index.ts) and the kernel import pass.
    assert.equal(found.length, 3 + cycles.length, JSON.stringify(found, null, 2));
  });
});
