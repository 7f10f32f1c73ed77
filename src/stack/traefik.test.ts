// README, "npm start": Traefik comes from TRAEFIK_BIN, else PATH, else the set-up's .venv; a
// TRAEFIK_BIN that is not an executable file stops the stack before anything starts, naming it.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { isUsageOrConfig } from '../command.js';
import { findTraefik, REPO_ROOT } from './traefik.js';

const dir = mkdtempSync(join(tmpdir(), 'warren-traefik-bin-'));
const savedPath = process.env.PATH;
after(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

function fakeTraefik(folder: string, mode = 0o755): string {
  const file = join(folder, 'traefik');
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, mode);
  return file;
}

test('findTraefik: TRAEFIK_BIN first, then PATH, then .venv; a bad TRAEFIK_BIN is a config error naming it', () => {
  const own = fakeTraefik(mkdtempSync(join(dir, 'own-')));
  const onPath = mkdtempSync(join(dir, 'path-'));
  fakeTraefik(onPath);
  process.env.PATH = `${onPath}:/usr/bin:/bin`;
  assert.equal(findTraefik(own), own, 'TRAEFIK_BIN wins over PATH');
  assert.equal(findTraefik(''), join(onPath, 'traefik'), 'PATH when TRAEFIK_BIN is unset');

  const notExecutable = fakeTraefik(mkdtempSync(join(dir, 'noexec-')), 0o644);
  for (const bad of [notExecutable, join(dir, 'missing', 'traefik'), dir]) {
    assert.throws(
      () => findTraefik(bad),
      (err) =>
        isUsageOrConfig(err) &&
        err.message.includes(`TRAEFIK_BIN is ${JSON.stringify(bad)}`) &&
        /fix the path or unset it/.test(err.message),
      bad,
    );
  }

  // Nothing on PATH: the set-up's .venv copy when there is one, else an error saying how to get one.
  process.env.PATH = '/nonexistent';
  const venv = join(REPO_ROOT, '.venv', 'bin', 'traefik');
  if (existsSync(venv)) assert.equal(findTraefik(''), venv);
  else
    assert.throws(
      () => findTraefik(''),
      (err) => isUsageOrConfig(err) && /npm run setup.*TRAEFIK_BIN/.test(err.message),
    );
});
