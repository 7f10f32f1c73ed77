// README, "Commands": `warren --help` and `warren <command> --help` list every option; exit codes
// are 0 done, 2 bad usage. The README's command table is read here, so a command or an option it
// names that the CLI lacks (or a command the table leaves out) fails this file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ROOT } from './support/helpers.js';

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'warren.js'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The README's command table: each command with the options its row names. */
function readmeCommands(): Map<string, Set<string>> {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Commands'), readme.indexOf('## Settings'));
  const table = new Map<string, Set<string>>();
  for (const row of section.split('\n').filter((l) => l.startsWith('| `warren '))) {
    const [cell] = row.slice(1).split(' | ');
    const names = [...(cell ?? '').matchAll(/`warren ([a-z]+)/g)].map((m) => m[1]!);
    const flags = [...(cell ?? '').matchAll(/--([a-z][a-z-]*)/g)].map((m) => m[1]!);
    for (const n of names) if (!table.has(n)) table.set(n, new Set());
    for (const f of flags) table.get(names[0]!)!.add(f);
  }
  return table;
}

test('warren --help lists exactly the commands of the README table; no command is bad usage', () => {
  const table = readmeCommands();
  assert.ok(table.size >= 10, `the README table parsed to ${[...table.keys()]}`);
  const help = run(['--help']);
  assert.equal(help.code, 0, help.stderr);
  const listed = [...help.stdout.matchAll(/^ {2}([a-z]+)\s+\S/gm)].map((m) => m[1]!);
  assert.deepEqual([...listed].sort(), [...table.keys()].sort(), 'warren --help against the README table');
  const bare = run([]);
  assert.equal(bare.code, 2, 'warren with no command is bad usage');
  assert.equal(bare.stdout, help.stdout, 'and prints the same help');
});

test('warren <command> --help: every option with its text, and every option the README names', () => {
  for (const [name, flags] of readmeCommands()) {
    const r = run([name, '--help']);
    assert.equal(r.code, 0, `${name} --help: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`^warren ${name}: \\S`), `${name} --help has a summary`);
    assert.match(r.stdout, /^usage: warren /m, `${name} --help has a usage line`);
    const options = [...r.stdout.matchAll(/^ {2}--([a-z][a-z-]*)( VALUE)?(.*)$/gm)];
    for (const [line, opt, , text] of options)
      assert.ok((text ?? '').trim().length > 0, `warren ${name} --help: --${opt} has no text: "${line}"`);
    const listed = new Set(options.map((m) => m[1]));
    for (const f of flags)
      assert.ok(listed.has(f), `README names warren ${name} --${f}; its --help does not`);
    assert.ok(listed.has('help'));
  }
});

test('an unknown command or option exits 2 with one line naming it and the help to read', () => {
  const unknown = run(['nosuch']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stdout, '');
  assert.match(unknown.stderr, /^warren: unknown command "nosuch"; run `warren --help` for the list\n$/);
  const option = run(['client', '--no-such-option']);
  assert.equal(option.code, 2);
  assert.match(option.stderr, /^warren client: .*no-such-option.*; run `warren client --help`\n$/);
});
