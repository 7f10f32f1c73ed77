// Builds the browser snippet (src/sdk/browser/warren.ts) into dist/sdk/browser/warren.min.js,
// which `GET /warren.js` on ingest serves. Skips the work when the output is newer than the source.
// Fails when the gzipped file is over its 3 KB budget.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src', 'sdk', 'browser', 'warren.ts');
const out = join(root, 'dist', 'sdk', 'browser', 'warren.min.js');
const BUDGET = 3072;

if (process.argv.includes('--force') || !existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
  const { build } = await import('esbuild');
  mkdirSync(dirname(out), { recursive: true });
  await build({
    entryPoints: [src],
    outfile: out,
    bundle: true,
    minify: true,
    format: 'iife',
    // Browsers of the last few years (fetch keepalive, sendBeacon, optional chaining).
    target: ['chrome80', 'firefox78', 'safari14'],
    legalComments: 'none',
    logLevel: 'warning',
  });
  const body = readFileSync(out);
  const gz = gzipSync(body, { level: 9 }).length;
  process.stderr.write(`build-snippet: ${out} (${body.length} bytes, ${gz} gzipped)\n`);
  if (gz > BUDGET) {
    process.stderr.write(`build-snippet: over the ${BUDGET}-byte gzip budget; make warren.ts smaller\n`);
    process.exit(1);
  }
}
