// The analytics OpenAPI document (src/analytics/docs.ts, from shapes.ts) describes what a real
// analytics process answers: each answer of a running `warren analytics`, fed real events through
// RabbitMQ, is validated against the response schema the served document gives for its route and
// status. An undocumented field fails (the shapes are strict), so code, docs and panel cannot drift.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv, type ValidateFunction } from 'ajv';
import {
  type AlertsAnswer,
  DOCS_PREFIX,
  type ReconcileAnswer,
  type Report,
  type Reporte,
  type Status,
} from '../src/analytics/index.js';
import {
  freePort,
  getJson,
  publishRaw,
  startWarren,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
} from './support/helpers.js';

interface OpenApi {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, Response> } | undefined>>;
}
interface Response {
  content?: Record<string, { schema: object }>;
}

describe('analytics OpenAPI document', () => {
  let env: TestEnv;
  let a: WarrenProcess;
  let base: string;
  let doc: OpenApi;
  // OpenAPI 3.0 schemas: `nullable` is a keyword Ajv knows; formats are documentation only.
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });

  before(async () => {
    env = testEnv('oa');
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    a = await startWarren(['analytics'], { ...env.env, ANALYTICS_PORT: String(port) }, base);
    const ev = (id: string, cliente: string, evento: string, timestamp: string) =>
      JSON.stringify({ id, cliente, evento, timestamp });
    await publishRaw(env.exchange, [
      ev('o1', 'cliente_uno', 'click', '2025-04-13T12:00:00Z'),
      ev('o2', 'cliente_uno', 'view', '2025-04-13T12:01:30Z'),
      ev('o3', 'cliente_dos', 'click', '2025-04-13T13:05:00+02:00'),
      ev('o1', 'cliente_uno', 'click', '2025-04-13T12:00:00Z'), // a duplicate
      'not json', // dead-lettered: the status then has dead letters to show
    ]);
    await waitFor('counted', async () => (await getJson<Reporte>(`${base}/reporte`)).body.total === 3);
    const served = await getJson<OpenApi>(`${base}${DOCS_PREFIX}/json`);
    assert.equal(served.status, 200);
    doc = served.body;
  });
  after(async () => {
    await a?.kill();
    await env?.cleanup();
  });

  function schemaOf(
    path: string,
    status: number,
    type = 'application/json',
    method = 'get',
  ): ValidateFunction {
    const route = doc.paths[path]?.[method];
    assert.ok(route, `the document has ${method} ${path}; it has ${Object.keys(doc.paths).join(', ')}`);
    const schema = route.responses[String(status)]?.content?.[type]?.schema;
    assert.ok(schema, `${method} ${path} documents ${status} as ${type}`);
    return ajv.compile(schema);
  }

  function conforms(path: string, status: number, body: unknown, type?: string, method = 'get'): void {
    const validate = schemaOf(path, status, type, method);
    assert.ok(
      validate(body),
      `${method} ${path} ${status} does not match its documented schema: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`,
    );
  }

  it('is OpenAPI 3, documents every route of the API, and has its page', async () => {
    assert.match(doc.openapi, /^3\./);
    const page = await fetch(`${base}${DOCS_PREFIX}`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /text\/html/);
    await page.body?.cancel();
    for (const p of [
      '/reporte',
      '/api/v1/report',
      '/api/v1/timeseries',
      '/api/v1/status',
      '/api/v1/export',
      '/api/v1/reconcile',
      '/api/v1/alerts',
    ])
      assert.ok(doc.paths[p]?.get, `GET ${p} is documented`);
    assert.ok(doc.paths['/api/v1/alerts']?.post, 'POST /api/v1/alerts is documented');
    assert.ok(doc.paths['/api/v1/alerts/{id}']?.delete, 'DELETE /api/v1/alerts/{id} is documented');
  });

  it('matches /api/v1/alerts: POST 201 and 400, GET with a rule firing, DELETE 404', async () => {
    const post = (body: unknown) =>
      getJson(`${base}/api/v1/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const made = await post({
      kind: 'silence',
      cliente: 'nadie',
      minutes: 0.01,
      webhook: 'http://127.0.0.1:9/x',
    });
    assert.equal(made.status, 201);
    conforms('/api/v1/alerts', 201, made.body, undefined, 'post');
    const bad = await post({ kind: 'silence' });
    assert.equal(bad.status, 400);
    conforms('/api/v1/alerts', 400, bad.body, undefined, 'post');
    const a = await waitFor('the rule firing', async () => {
      const r = await getJson<AlertsAnswer>(`${base}/api/v1/alerts`);
      return r.body.firings?.length === 1 ? r.body : undefined;
    });
    assert.equal(a.rules[0]?.state, 'firing');
    conforms('/api/v1/alerts', 200, a);
    const gone = await getJson(`${base}/api/v1/alerts/r_nope`, { method: 'DELETE' });
    assert.equal(gone.status, 404);
    conforms('/api/v1/alerts/{id}', 404, gone.body, undefined, 'delete');
  });

  it('matches /reporte, /api/v1/report and /api/v1/timeseries as served', async () => {
    const reporte = await getJson<Reporte>(`${base}/reporte`);
    assert.deepEqual(reporte.body, { total: 3, clientes: { cliente_uno: 2, cliente_dos: 1 } });
    conforms('/reporte', 200, reporte.body);

    for (const q of [
      '',
      '?from=2025-04-13T12:00:00Z&to=2025-04-13T12:01:00Z',
      '?cliente=cliente_uno&evento=view',
    ]) {
      const r = await getJson<Report>(`${base}/api/v1/report${q}`);
      assert.equal(r.status, 200);
      conforms('/api/v1/report', 200, r.body);
    }
    for (const bucket of ['minute', 'hour', 'day']) {
      const r = await getJson(`${base}/api/v1/timeseries?bucket=${bucket}&from=2025-04-13T00:00:00Z`);
      assert.equal(r.status, 200);
      conforms('/api/v1/timeseries', 200, r.body);
    }
  });

  it('matches /api/v1/status and /readyz', async () => {
    const s = await waitFor('the dead letter in the status', async () => {
      const r = await getJson<Status>(`${base}/api/v1/status`);
      return r.body.deadLetters === 1 && r.body.invalid === 1 ? r : undefined;
    });
    assert.equal(s.body.processed, 3);
    assert.equal(s.body.duplicates, 1);
    conforms('/api/v1/status', 200, s.body);
    conforms('/readyz', 200, (await getJson(`${base}/readyz`)).body);
  });

  it('matches /api/v1/reconcile, its rows of unreported events and of an unreadable dead letter', async () => {
    // The events were published raw (no reporting publisher): unreported; the dead letter is
    // not JSON, so its row has neither a client nor a minute (both null).
    const a = await waitFor('the dead letter in reconcile', async () => {
      const r = await getJson<ReconcileAnswer>(`${base}/api/v1/reconcile`);
      return r.status === 200 && r.body.totals.dead_invalid === 1 ? r.body : undefined;
    });
    assert.equal(a.totals.unreported, 3);
    assert.ok(a.rows.some((r) => r.cliente === null && r.t === null));
    conforms('/api/v1/reconcile', 200, a);
    const bad = await getJson(`${base}/api/v1/reconcile?evento=click`);
    assert.equal(bad.status, 400);
    conforms('/api/v1/reconcile', 400, bad.body);
  });

  it('matches every line of /api/v1/export', async () => {
    const res = await fetch(`${base}/api/v1/export?bucket=minute`);
    assert.equal(res.status, 200);
    const lines = (await res.text()).trim().split('\n');
    assert.equal(lines.length, 3);
    for (const l of lines) conforms('/api/v1/export', 200, JSON.parse(l), 'application/x-ndjson');
  });

  it('matches the errors, and rejects an answer with an undocumented field', async () => {
    const bad = await getJson(`${base}/api/v1/report?from=yesterday`);
    assert.equal(bad.status, 400);
    conforms('/api/v1/report', 400, bad.body);
    // The check can fail: a field the document does not name is a mismatch.
    const reporte = (await getJson<Reporte>(`${base}/reporte`)).body;
    assert.equal(schemaOf('/reporte', 200)({ ...reporte, extra: 1 }), false);
  });
});
