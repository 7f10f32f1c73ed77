// `npm test`: provides what the tests need (Chromium, PostgreSQL), then typecheck, lint, the layout
// check, then every test (unit tests beside the code, integration and end-to-end tests under test/)
// with node's test runner. What cannot be provided is said in one line, with the command that
// installs it, before anything runs.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { provideChromium, providePostgres } from './test-deps.mjs';

const root = join(import.meta.dirname, '..');
const step = (name, cmd, args) => {
  process.stderr.write(`\n== ${name}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`npm test: ${name} failed\n`);
    process.exit(r.status ?? 1);
  }
};

function find(dir, out = []) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      // The chaos suite is long: `npm run chaos` runs it.
      if (e.name !== 'chaos' && e.name !== 'node_modules' && e.name !== 'dist') find(p, out);
    } else if (e.name.endsWith('.test.ts')) out.push(relative(root, p));
  }
  return out;
}

// A subset may be named on the command line: `npm test -- test/pipeline.test.ts`.
const only = process.argv.slice(2);
const missing = [provideChromium(), await providePostgres()].filter(Boolean);
if (missing.length) {
  for (const m of missing) process.stderr.write(`npm test: ${m}\n`);
  process.exit(1);
}
step('typecheck', 'npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
step('lint', 'npx', ['biome', 'check', 'src', 'test', 'scripts', 'deploy']);
// Parts meet only at their doors (index.ts) and no import cycles (.dependency-cruiser.cjs).
step('layout', 'npx', ['depcruise', 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err']);
const files = only.length ? only : [...find(join(root, 'src')), ...find(join(root, 'test'))].sort();
step('tests', process.execPath, [
  '--import',
  'tsx',
  '--test',
  '--test-reporter=spec',
  `--test-concurrency=${process.env.TEST_CONCURRENCY ?? 2}`,
  '--test-timeout=600000',
  ...files,
]);
