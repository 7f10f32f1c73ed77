// Rotation edges of the audit writer, on a real temporary directory.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { RotatingWriter } from './writer.js';

const log = pino({ level: 'silent' });

function withDir(fn: (dir: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'warren-writer-'));
    try {
      await fn(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const files = (dir: string) =>
  readdirSync(dir)
    .sort()
    .map((f) => join(dir, f));

describe('RotatingWriter', () => {
  it(
    'never lets a file pass maxBytes, never splits a line, keeps order',
    withDir(async (dir) => {
      const w = new RotatingWriter({ dir, maxBytes: 100, log });
      const lines = Array.from(
        { length: 40 },
        (_, i) => `${JSON.stringify({ n: i, pad: 'x'.repeat(i % 17) })}\n`,
      );
      await w.append(lines.slice(0, 7));
      await w.append(lines.slice(7, 8));
      await w.append(lines.slice(8));
      await w.close();
      const all = files(dir);
      assert.ok(all.length > 5);
      for (const f of all) assert.ok(statSync(f).size <= 100, `${f}: ${statSync(f).size}`);
      assert.equal(all.map((f) => readFileSync(f, 'utf8')).join(''), lines.join(''));
    }),
  );

  it(
    'a line longer than maxBytes gets a file of its own',
    withDir(async (dir) => {
      const w = new RotatingWriter({ dir, maxBytes: 10, log });
      await w.append(['short\n', `${'y'.repeat(30)}\n`, 'end\n']);
      await w.close();
      assert.deepEqual(
        files(dir).map((f) => readFileSync(f, 'utf8')),
        ['short\n', `${'y'.repeat(30)}\n`, 'end\n'],
      );
    }),
  );

  it(
    'a new writer starts a new file instead of appending to an old one',
    withDir(async (dir) => {
      for (const text of ['one\n', 'two\n']) {
        const w = new RotatingWriter({ dir, maxBytes: 1000, log });
        await w.append([text]);
        await w.close();
      }
      assert.deepEqual(
        files(dir).map((f) => readFileSync(f, 'utf8')),
        ['one\n', 'two\n'],
      );
    }),
  );
});
