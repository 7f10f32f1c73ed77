// What `npm test` needs besides Node and RabbitMQ, provided the way Traefik is (scripts/setup.mjs):
// Chromium for the browser tests and a PostgreSQL server for the store tests. Each function
// returns undefined when the thing is there (setting the environment the tests read), or one
// line saying what is missing and the command that installs it.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';

const say = (msg) => process.stderr.write(`setup: ${msg}\n`);
const isRoot = () => process.getuid?.() === 0;

/** An executable regular file (a folder passes X_OK too). */
function executable(path) {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function onPath(names) {
  for (const n of names) {
    const r = spawnSync('sh', ['-c', `command -v ${n}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  return undefined;
}

function aptInstall(pkgs) {
  say(`installing ${pkgs.join(' ')} (apt-get)…`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
  return (
    spawnSync('apt-get', ['install', '-y', '-qq', ...pkgs], { stdio: ['ignore', 'ignore', 'inherit'], env })
      .status === 0
  );
}

/** CHROMIUM_PATH, else chromium on PATH, else `apt-get install chromium` as root. */
export function provideChromium() {
  const set = process.env.CHROMIUM_PATH;
  if (set) {
    return executable(set)
      ? undefined
      : `CHROMIUM_PATH is ${JSON.stringify(set)}, which is not an executable file; fix the path or unset it`;
  }
  const names = ['chromium', 'chromium-browser', 'google-chrome'];
  let found = onPath(names);
  if (!found && isRoot() && onPath(['apt-get'])) {
    aptInstall(['chromium']);
    found = onPath(names);
  }
  if (!found) {
    return 'Chromium is missing (the panel and snippet tests drive it); install it with `sudo apt-get install -y chromium` or set CHROMIUM_PATH to a Chromium binary';
  }
  process.env.CHROMIUM_PATH = found;
  return undefined;
}

function reachable(host, port) {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.setTimeout(2000);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('timeout', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(false));
  });
}

async function waitReachable(host, port, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await reachable(host, port)) return true;
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/** Debian's cluster tools: start the first cluster (creating one if there is none). */
function startDebianCluster() {
  if (!onPath(['pg_ctlcluster'])) return false;
  const versions = existsSync('/etc/postgresql') ? readdirSync('/etc/postgresql') : [];
  if (versions.length === 0) {
    const bins = existsSync('/usr/lib/postgresql') ? readdirSync('/usr/lib/postgresql').sort() : [];
    const v = bins.at(-1);
    if (!v || !onPath(['pg_createcluster'])) return false;
    say(`creating a PostgreSQL ${v} cluster (pg_createcluster ${v} main)…`);
    if (spawnSync('pg_createcluster', [v, 'main'], { stdio: 'ignore' }).status !== 0) return false;
    versions.push(v);
  }
  say(`starting PostgreSQL (pg_ctlcluster ${versions[0]} main start)…`);
  return (
    spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', versions[0], 'main', 'start'], {
      stdio: 'ignore',
    }).status === 0
  );
}

/** Trust auth for local TCP connections as postgres, which TEST_DATABASE_URL's default uses. */
function trustLocal() {
  const hba = spawnSync('sh', ['-c', 'ls /etc/postgresql/*/main/pg_hba.conf 2>/dev/null | head -1'], {
    encoding: 'utf8',
  }).stdout.trim();
  if (!hba) return;
  const text = spawnSync('cat', [hba], { encoding: 'utf8' }).stdout;
  if (/^host\s+all\s+all\s+127\.0\.0\.1\/32\s+trust/m.test(text)) return;
  say(`letting local TCP connections in without a password (${hba}: trust for 127.0.0.1)…`);
  spawnSync(
    'sh',
    [
      '-c',
      `sed -i '1i host all all 127.0.0.1/32 trust' ${hba} && pg_ctlcluster --skip-systemctl-redirect $(echo ${hba} | cut -d/ -f4) main reload`,
    ],
    { stdio: 'ignore' },
  );
}

/** TEST_DATABASE_URL's server answers, else a local cluster is started (root, Debian tools). */
export async function providePostgres() {
  const url = new URL(process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 5432);
  if (await reachable(host, port)) return ensureDatabase(url);
  const local = host === '127.0.0.1' || host === 'localhost';
  if (local && isRoot()) {
    if (!onPath(['pg_ctlcluster']) && onPath(['apt-get'])) aptInstall(['postgresql']);
    if (startDebianCluster() && (await waitReachable(host, port, 60_000))) {
      trustLocal();
      return ensureDatabase(url);
    }
  }
  return `PostgreSQL is not reachable at ${host}:${port} (the store tests need one); start it (\`sudo pg_ctlcluster 15 main start\`, or \`sudo apt-get install -y postgresql\` first) or set TEST_DATABASE_URL`;
}

/** The database TEST_DATABASE_URL names exists (the tests create theirs from it). */
async function ensureDatabase(url) {
  const { default: pg } = await import('pg');
  const name = decodeURIComponent(url.pathname.slice(1)) || 'postgres';
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const c = new pg.Client({ connectionString: admin.toString() });
  try {
    await c.connect();
    const { rowCount } = await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (!rowCount) {
      say(`creating the database ${name}…`);
      await c.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`);
    }
    return undefined;
  } catch (err) {
    return `PostgreSQL at ${url.host} refused the tests (${err.message}); set TEST_DATABASE_URL to a server where its user may create databases`;
  } finally {
    await c.end().catch(() => undefined);
  }
}
