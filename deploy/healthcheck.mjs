// The image's HEALTHCHECK: healthy means ready. It finds which Warren command runs as PID 1
// (`node bin/warren.js <command>`) and asks that command's /readyz on its port (the same
// environment variable and default as src/config.ts). A command without an HTTP port (a simulated
// client) is healthy while it runs. Exit 0 healthy, 1 not (Docker's convention).
import { readFileSync } from 'node:fs';

const PORTS = {
  ingest: ['INGEST_PORT', 5046],
  analytics: ['ANALYTICS_PORT', 5064],
  panel: ['PANEL_PORT', 8080],
};

function command() {
  const argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0');
  const i = argv.findIndex((a) => a.endsWith('bin/warren.js'));
  return i >= 0 ? argv[i + 1] : undefined;
}

const entry = PORTS[command() ?? ''];
if (!entry) process.exit(0);
const [variable, fallback] = entry;
const port = Number(process.env[variable] || fallback);
try {
  const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(15_000) });
  process.stdout.write(`${res.status} ${await res.text()}\n`);
  process.exit(res.ok ? 0 : 1);
} catch (err) {
  process.stdout.write(`http://127.0.0.1:${port}/readyz: ${err.message}\n`);
  process.exit(1);
}
