// The unique-users stage (issue #19): accuracy and cost of the distinct-user sketches.
// Generated data (uniques-data.ts: seeded, `clients` clients, `users` users of Zipf activity over
// `days` days ending now) is committed to each store through the consumer's own commit, rolled up
// by the real retention pass, and then served by an analytics child: every answer comes from
// GET /api/v1/uniques (the same route, read worker and cache as production). Each answer is
// compared with the exact distinct count of the same events (JavaScript, from the generated
// arrays); the timed 90-day queries vary their bounds to the minute, so none is a cache hit.
// Then the AMQP path is run without and with a usuario on every event (uniques-amqp.ts).
import http from 'node:http';
import type { RetentionSettings } from '../store/index.js';
import { spawnWarren } from './child.js';
import type { BenchEnv } from './env.js';
import type { Progress } from './progress.js';
import type { Stage } from './stage.js';
import { type AmqpUsersResult, runAmqpUsers } from './uniques-amqp.js';
import {
  clienteName,
  type Data,
  ExactCounter,
  eventoName,
  generate,
  prng,
  type RangeQuery,
} from './uniques-data.js';
import { bucketStartOf, fillUniques, rollUp } from './uniques-fill.js';
import {
  type BenchDb,
  compactBytes,
  createDb,
  measureStore,
  openStore,
  type StoreFigures,
  type StoreKind,
  settleStore,
} from './uniques-store.js';
import { freePort, percentile, round, sortedCopy } from './util.js';

export interface UniquesSize {
  events: number;
  users: number;
  clients: number;
  types: number;
  days: number;
  /** Answers compared with exact counts, besides the timed ones. */
  queries: number;
  /** Timed 90-day requests per kind (one client, all clients). */
  requests: number;
  amqpEvents: number;
  amqpClients: number;
  amqpRounds: number;
}

/**
 * Where old data sits: minutes for 48 h (the default), hours for 30 days, days after. The default
 * HOUR_RETENTION_DAYS (90) would leave no event of a 90-day window at day resolution.
 */
export const UNIQUES_RETENTION: RetentionSettings = {
  dedupeWindowDays: 7,
  minuteRetentionHours: 48,
  hourRetentionDays: 30,
};

const DAY = 86_400_000;
const MINUTE = 60_000;

export interface StoreResult extends StoreFigures {
  kind: StoreKind;
  /** The store's size once compacted (PostgreSQL: VACUUM FULL; SQLite: its pages in use). */
  compactBytes: number;
  fillSeconds: number;
  rollupSeconds: number;
  /** Relative errors |answer − exact| / exact over every answer. */
  errorP95: number;
  errorMax: number;
  answers: number;
  /** Answers above the sparse limit (2,500 users), where the estimate is not exact. */
  denseAnswers: number;
  queryMs: {
    /** The first 90-day all-clients answer of the store, before anything was kept. */
    firstMs: number;
    oneClient90dP50: number;
    oneClient90dP95: number;
    allClients90dP50: number;
    allClients90dP95: number;
  };
}

export interface UniquesResult {
  size: UniquesSize;
  retention: RetentionSettings;
  /** Distinct users in the data (each sends at least one event). */
  distinctUsers: number;
  stores: StoreResult[];
  amqp?: AmqpUsersResult;
}

/** The compared ranges: 90 days, one client or all, some by event type; 3 days; 40 days. */
function accuracyQueries(data: Data, n: number, rand: () => number): RangeQuery[] {
  const { now, days, clients, types } = data.spec;
  const start = now - days * DAY;
  const minuteIn = (a: number, span: number) => a + Math.floor(rand() * (span / MINUTE)) * MINUTE;
  const client = () => Math.floor(rand() * clients);
  const kinds: ((i: number) => RangeQuery)[] = [
    () => ({ label: '90d all', from: minuteIn(start, DAY), to: minuteIn(now - 3_600_000, 3_600_000) }),
    () => ({ label: '90d client', from: minuteIn(start, DAY), to: now, cliente: client() }),
    (i) => ({ label: '90d evento', from: minuteIn(start, DAY), to: now, evento: i % types }),
    (i) => ({ label: '90d client evento', from: start, to: now, cliente: client(), evento: i % types }),
    () => ({
      label: '3d all',
      from: minuteIn(now - 3 * DAY, 6 * 3_600_000),
      to: minuteIn(now - 3_600_000, 3_600_000),
    }),
    () => ({
      label: '40d all',
      from: minuteIn(now - 40 * DAY, DAY),
      to: minuteIn(now - 2 * 3_600_000, 3_600_000),
    }),
    () => ({ label: '40d client', from: minuteIn(now - 40 * DAY, DAY), to: now, cliente: client() }),
  ];
  return Array.from({ length: n }, (_, i) => kinds[i % kinds.length]!(i));
}

/** 90-day ranges, each bound moved by whole minutes: every request is a different question. */
function timedQueries(data: Data, n: number, cliente: boolean, rand: () => number): RangeQuery[] {
  const { now, days, clients } = data.spec;
  return Array.from({ length: n }, (_, i) => ({
    label: cliente ? '90d client (timed)' : '90d all (timed)',
    from: now - days * DAY + (i + 1) * MINUTE,
    to: now - Math.floor(rand() * 120) * MINUTE,
    ...(cliente ? { cliente: Math.floor(rand() * clients) } : {}),
  }));
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function getJson(url: string): Promise<{ usuarios: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) reject(new Error(`${url} answered ${res.statusCode}: ${body}`));
          else resolve(JSON.parse(body) as { usuarios: number });
        });
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

function uniquesUrl(base: string, q: RangeQuery): string {
  const p = new URLSearchParams({ from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString() });
  if (q.cliente !== undefined) p.set('cliente', clienteName(q.cliente));
  if (q.evento !== undefined) p.set('evento', eventoName(q.evento));
  return `${base}/api/v1/uniques?${p}`;
}

interface Asked {
  errors: number[];
  dense: number;
  ms: number[];
}

async function ask(base: string, queries: RangeQuery[], exact: ExactCounter, into: Asked): Promise<number[]> {
  const ms: number[] = [];
  for (const q of queries) {
    const want = exact.count(q);
    const t0 = performance.now();
    const got = (await getJson(uniquesUrl(base, q))).usuarios;
    ms.push(performance.now() - t0);
    into.errors.push(want === 0 ? (got === 0 ? 0 : 1) : Math.abs(got - want) / want);
    if (want > 2500) into.dense++;
  }
  return ms;
}

const p95 = (v: number[]) => round(percentile(sortedCopy(v), 95), 1);
const p50 = (v: number[]) => round(percentile(sortedCopy(v), 50), 1);

/** Commits the data to a new store, rolls it up and measures it; the store is closed after. */
async function prepareStore(
  db: BenchDb,
  progress: Progress,
  data: Data,
): Promise<StoreFigures & { fillSeconds: number; rollupSeconds: number }> {
  const store = openStore(db);
  try {
    const t0 = performance.now();
    await store.migrate();
    await fillUniques(store, data, progress, db.kind);
    const fillSeconds = (performance.now() - t0) / 1000;
    progress.update(`${db.kind}: rolling old minutes into hours and days`);
    await rollUp(store, data, UNIQUES_RETENTION);
    const rollupSeconds = (performance.now() - t0) / 1000 - fillSeconds;
    await settleStore(db);
    return {
      ...(await measureStore(store)),
      fillSeconds: round(fillSeconds, 1),
      rollupSeconds: round(rollupSeconds, 1),
    };
  } finally {
    await store.close();
  }
}

type Answers = Pick<StoreResult, 'errorP95' | 'errorMax' | 'answers' | 'denseAnswers' | 'queryMs'>;

/** Every compared range, then the timed 90-day ones, asked of an analytics child over HTTP. */
async function askAll(
  base: string,
  data: Data,
  size: UniquesSize,
  kind: StoreKind,
  progress: Progress,
): Promise<Answers> {
  const rand = prng(data.spec.seed + 1);
  const exact = new ExactCounter(data, bucketStartOf(Math.floor(data.spec.now / 1000), UNIQUES_RETENTION));
  const asked: Asked = { errors: [], dense: 0, ms: [] };
  progress.update(`${kind}: comparing answers with exact counts`);
  // The first is a 90-day all-clients range, asked before anything was kept (day unions).
  const [first] = await ask(base, accuracyQueries(data, size.queries, rand), exact, asked);
  progress.update(`${kind}: timing 90-day queries`);
  const one = await ask(base, timedQueries(data, size.requests, true, rand), exact, asked);
  const all = await ask(base, timedQueries(data, size.requests, false, rand), exact, asked);
  return {
    errorP95: round(percentile(sortedCopy(asked.errors), 95), 5),
    errorMax: round(Math.max(...asked.errors), 5),
    answers: asked.errors.length,
    denseAnswers: asked.dense,
    queryMs: {
      firstMs: round(first ?? Number.NaN, 1),
      oneClient90dP50: p50(one),
      oneClient90dP95: p95(one),
      allClients90dP50: p50(all),
      allClients90dP95: p95(all),
    },
  };
}

/** Fills one store, measures it, serves it with an analytics child and asks it every query. */
export async function runStore(
  env: BenchEnv,
  progress: Progress,
  kind: StoreKind,
  data: Data,
  size: UniquesSize,
): Promise<StoreResult> {
  const db = await createDb(env, kind);
  try {
    const prepared = await prepareStore(db, progress, data);
    const names = env.names(`uniques-${kind}`);
    env.track(names);
    const port = await freePort();
    const analytics = await spawnWarren({
      name: `analytics-uniques-${kind}`,
      command: 'analytics',
      port,
      dir: env.dir,
      env: env.childEnv(names, { ANALYTICS_PORT: String(port), DATABASE_URL: db.url }),
    });
    let answers: Answers;
    try {
      answers = await askAll(analytics.url, data, size, kind, progress);
    } finally {
      await analytics.stop();
    }
    progress.update(`${kind}: the store's own size`);
    return { kind, ...prepared, ...answers, compactBytes: await compactBytes(db) };
  } finally {
    await db.drop();
  }
}

export async function runUniques(
  env: BenchEnv,
  progress: Progress,
  size: UniquesSize,
  stack: () => Stage,
): Promise<UniquesResult> {
  progress.update('generating the data');
  const now = Math.floor(Date.now() / MINUTE) * MINUTE;
  const data = generate({ ...size, seed: 19, now });
  const result: UniquesResult = { size, retention: UNIQUES_RETENTION, distinctUsers: size.users, stores: [] };
  for (const kind of ['sqlite', 'postgres'] as const) {
    result.stores.push(await runStore(env, progress, kind, data, size));
  }
  result.amqp = await runAmqpUsers(stack(), {
    events: size.amqpEvents,
    clients: size.amqpClients,
    users: size.users,
    rounds: size.amqpRounds,
  });
  return result;
}

/** The line progress shows when the stage ends. */
export function uniquesLine(r: UniquesResult): string {
  const parts = r.stores.map(
    (s) =>
      `${s.kind}: error p95 ${(s.errorP95 * 100).toFixed(2)}%, 90 d p95 ${s.queryMs.oneClient90dP95} ms one client / ${s.queryMs.allClients90dP95} ms all`,
  );
  if (r.amqp) parts.push(`AMQP with usuario ${(r.amqp.ratio * 100).toFixed(0)}% of without`);
  return parts.join('; ');
}
