// Builds the panel's page: bundles src/panel/web/src (main.ts with uPlot; styles.css with uPlot's CSS) with esbuild into
// src/panel/web/dist (app.js, app.css) next to index.html and favicon.svg. `scripts/setup.mjs`
// runs it when the sources are newer than the output; `node scripts/build-panel.mjs` by hand.
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src', 'panel', 'web', 'src');
const out = join(root, 'src', 'panel', 'web', 'dist');

// A fresh directory also gives it a new mtime, which is what setup.mjs compares.
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

try {
  await build({
    entryPoints: [
      { in: join(src, 'main.ts'), out: 'app' },
      { in: join(src, 'styles.css'), out: 'app' },
    ],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
    outdir: out,
    legalComments: 'none',
    logLevel: 'warning',
  });
} catch {
  // esbuild has printed the errors with file and line.
  process.stderr.write('build-panel: the page did not build; fix the errors above\n');
  process.exit(1);
}
for (const f of ['index.html', 'favicon.svg']) copyFileSync(join(src, f), join(out, f));

const sizes = ['app.js', 'app.css', 'index.html'].map((f) => {
  const body = readFileSync(join(out, f));
  return `${f} ${(body.length / 1024).toFixed(1)} KiB (${(gzipSync(body).length / 1024).toFixed(1)} KiB gzip)`;
});
process.stderr.write(`build-panel: ${sizes.join(', ')}\n`);
