// Ingest's CPU per single-event request, for before/after pairs of a change on a shared machine:
// builds under comparison (dist directories) run one after the other, ROUNDS times, each as an
// ingest process of its own (on a private exchange and queue, no consumer), loaded straight (no
// Traefik) by autocannon at a FIXED request rate: CPU per request falls as the rate rises (more
// requests share each event-loop turn), so only equal rates compare. Prints each build's CPU per
// request (µs, from /proc) per round and the median.
// Usage: node scripts/ingest-cpu.mjs [--rate 500] [--seconds 10] [--rounds 3] [--path /events]
//   [--profile DIR (V8 CPU profiles of the ingest processes)] DIST... (or `floor`: a Node HTTP
//   server that only answers 202, the least any Node ingest could cost; `floor-fastify`: the same
//   in Fastify, with a buffer body parser and JSON.parse, the least a Fastify ingest could cost;
//   `floor-amqp`: that Fastify route publishing each event, persistent and mandatory, on an
//   amqplib confirm channel (Nagle off, a tick's writes corked into one, as Warren's connection)
//   and answering 202 on its confirm: the least a Fastify gateway with broker confirms could cost)
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import amqp from 'amqplib';
import autocannon from 'autocannon';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '128' },
    path: { type: 'string', default: '/events' },
    profile: { type: 'string' },
  },
});
if (positionals.length === 0) {
  process.stderr.write(
    'usage: node scripts/ingest-cpu.mjs [--rate R] [--seconds S] [--rounds N] [--path P] DIST...\n',
  );
  process.exit(2);
}
const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const freePort = () =>
  new Promise((res) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });

function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

// "floor": a Node HTTP server that answers every POST with a 202 of ingest's size and does nothing
// else (the proxy ceiling's backend, src/bench/proxy.ts): what no Node ingest can go below.
const FLOOR = `
const body = JSON.stringify({ accepted: 1, ids: ['0190c5a2-7f3e-7c1a-9b2e-3f4a5b6c7d8e'] });
require('node:http').createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(req.method === 'POST' ? 202 : 200, { 'content-type': 'application/json' });
    res.end(body);
  });
}).listen(Number(process.env.INGEST_PORT), '127.0.0.1');
`;

// "floor-fastify": the same answer from a Fastify route that reads and parses the JSON body.
const FLOOR_FASTIFY = `
import Fastify from 'fastify';
const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
  done(null, JSON.parse(body.toString())));
const body = { accepted: 1, ids: ['0190c5a2-7f3e-7c1a-9b2e-3f4a5b6c7d8e'] };
app.get('/readyz', async () => ({ status: 'ready' }));
app.post('/events', async (_req, reply) => reply.status(202).send(body));
app.post('/send', async (_req, reply) => reply.status(202).send(body));
await app.listen({ port: Number(process.env.INGEST_PORT), host: '127.0.0.1' });
`;

// "floor-amqp": floor-fastify plus a confirmed publish per event to a quorum queue of its own.
const FLOOR_AMQP = `
import Fastify from 'fastify';
import amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
const conn = await amqp.connect(process.env.AMQP_URL, { noDelay: true });
const socket = conn.connection.stream;
const write = socket.write;
let corked = false;
socket.write = function (...args) {
  if (!corked) {
    corked = true;
    socket.cork();
    process.nextTick(() => { corked = false; socket.uncork(); });
  }
  return write.apply(this, args);
};
const ch = await conn.createConfirmChannel();
const ex = process.env.EXCHANGE + '.floor';
await ch.assertExchange(ex, 'fanout', { durable: true });
await ch.assertQueue(process.env.QUEUE + '.floor', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
await ch.bindQueue(process.env.QUEUE + '.floor', ex, '');
const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) =>
  done(null, JSON.parse(body.toString())));
app.get('/readyz', async () => ({ status: 'ready' }));
const handler = (req, reply) => {
  const e = req.body;
  const id = randomUUID();
  const body = Buffer.from(JSON.stringify({ id, cliente: e.cliente ?? 'bench_cpu', evento: e.evento ?? 'message', timestamp: new Date().toISOString() }));
  ch.publish(ex, '', body, { persistent: true, mandatory: true, contentType: 'application/json', messageId: id, type: 'click', appId: 'bench_cpu', timestamp: Math.floor(Date.now() / 1000) }, (err) => {
    if (err) reply.status(503).send({ error: 'nack' });
    else reply.status(202).send({ accepted: 1, ids: [id] });
  });
  return reply;
};
app.post('/events', handler);
app.post('/send', handler);
await app.listen({ port: Number(process.env.INGEST_PORT), host: '127.0.0.1' });
`;

async function startIngest(dist, base, dir) {
  const port = await freePort();
  const code =
    dist === 'floor'
      ? FLOOR
      : dist === 'floor-fastify'
        ? FLOOR_FASTIFY
        : dist === 'floor-amqp'
          ? FLOOR_AMQP
          : `const { main } = await import(${JSON.stringify(join(resolve(dist), 'cli.js'))}); process.exit(await main(['ingest']));`;
  const prof = values.profile ? ['--cpu-prof', `--cpu-prof-dir=${values.profile}`] : [];
  const type = dist === 'floor' ? [] : ['--input-type=module'];
  const proc = spawn(process.execPath, [...prof, ...type, '-e', code], {
    env: {
      ...process.env,
      AMQP_URL,
      EXCHANGE: `${base}.eventos`,
      QUEUE: `${base}.cola`,
      TOPIC_PATTERN: `${base}.#`,
      AUDIT: 'false',
      HOST: '127.0.0.1',
      INGEST_PORT: String(port),
      DATABASE_URL: `sqlite:${join(dir, 'x.db')}`,
      API_KEYS_FILE: join(dir, 'keys.json'),
      RATE_LIMIT: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${url}/readyz`)).status === 200) return { proc, url };
    } catch {}
    await sleep(100);
  }
  proc.kill('SIGKILL');
  throw new Error(`ingest from ${dist} did not get ready`);
}

const load = (url, seconds, rate) =>
  autocannon({
    url: `${url}${values.path}`,
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-client-name': 'bench_cpu' },
    body:
      values.path === '/send'
        ? JSON.stringify({ message: 'mensaje de prueba' })
        : JSON.stringify({ cliente: 'bench_cpu', evento: 'click' }),
    connections: Number(values.connections),
    overallRate: rate,
    duration: seconds,
  });

async function measure(dist, base, dir) {
  const { proc, url } = await startIngest(dist, base, dir);
  try {
    await load(url, 2, Number(values.rate)); // warm-up, not measured
    const c0 = cpuSeconds(proc.pid);
    const r = await load(url, Number(values.seconds), Number(values.rate));
    const used = cpuSeconds(proc.pid) - c0;
    const ok = r.statusCodeStats['202']?.count ?? 0;
    return { us: (used * 1e6) / r.requests.total, ok, total: r.requests.total, p99: r.latency.p99 };
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
  }
}

async function cleanup(base) {
  const conn = await amqp.connect(AMQP_URL);
  try {
    for (const q of [
      `${base}.cola`,
      `${base}.cola.floor`,
      `${base}.cola.dlq`,
      `${base}.cola.control`,
      `${base}.cola.reconcile`,
    ]) {
      const ch = await conn.createChannel();
      ch.on('error', () => undefined);
      await ch.deleteQueue(q).catch(() => undefined);
      await ch.close().catch(() => undefined);
    }
    const ch = await conn.createChannel();
    ch.on('error', () => undefined);
    await ch.deleteExchange(`${base}.eventos`).catch(() => undefined);
    await ch.deleteExchange(`${base}.eventos.floor`).catch(() => undefined);
    await ch.deleteExchange(`${base}.eventos.dlx`).catch(() => undefined);
    await ch.close().catch(() => undefined);
  } finally {
    await conn.close();
  }
}

const base = `warren_cpu_${randomBytes(4).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), `${base}-`));
const figures = new Map(positionals.map((d) => [d, []]));
try {
  for (let round = 1; round <= Number(values.rounds); round++) {
    for (const dist of positionals) {
      const m = await measure(dist, base, dir);
      figures.get(dist).push(m.us);
      const load1 = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
      console.log(
        `round ${round} ${dist}: ${m.us.toFixed(1)} µs/request (${m.ok}/${m.total} × 202, p99 ${m.p99} ms, load ${load1})`,
      );
    }
  }
} finally {
  await cleanup(base).catch((err) => process.stderr.write(`cleanup: ${err}; delete ${base}.* by hand\n`));
  rmSync(dir, { recursive: true, force: true });
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
for (const [dist, us] of figures)
  console.log(`${dist}: median ${median(us).toFixed(1)} µs/request over ${us.length} rounds`);
