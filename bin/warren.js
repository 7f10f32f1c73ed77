#!/usr/bin/env node
// The `warren` command: runs the compiled CLI. `npm run build` (or `npm start`/`npm test`) compiles it.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const cli = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (!existsSync(cli)) {
  process.stderr.write('warren: dist/cli.js is missing; run `npm ci && npm run build` first\n');
  process.exit(2);
}
const { main } = await import(pathToFileURL(cli).href);
process.exit(await main(process.argv.slice(2)));
