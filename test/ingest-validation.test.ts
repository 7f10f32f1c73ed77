// Malformed requests: each gets its status and the contract's error code, none is a 5xx, and
// nothing at all reaches the broker (the test queue stays empty; a valid request afterwards shows
// the check would have seen a publish).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { queueDepth, waitFor } from './support/helpers.js';
import { json, metricValue, startIngest } from './support/ingest-fixture.js';

interface Case {
  name: string;
  url?: string;
  method?: 'POST' | 'GET' | 'PUT';
  body?: string | Buffer;
  /** Replaces the default `content-type: application/json`; null sends none. */
  type?: string | null;
  headers?: Record<string, string>;
  status: number;
  code: string;
  check?: (body: { details: Record<string, unknown>[] }) => void;
}

const TS = '2025-04-13T12:00:00Z';
const ok = (over: Record<string, unknown> = {}) =>
  JSON.stringify({ cliente: 'cliente_uno', evento: 'click', timestamp: TS, ...over });
const ev = (over: Record<string, unknown>) => ok(over);
const J = 'application/json';
const bad = (name: string, body: string | Buffer, extra: Partial<Case> = {}): Case => ({
  name,
  body,
  status: 400,
  code: 'invalid_event',
  ...extra,
});
const notJson = (name: string, body: string | Buffer, extra: Partial<Case> = {}): Case => ({
  name,
  body,
  status: 400,
  code: 'invalid_json',
  ...extra,
});
const many = (n: number) => `[${Array.from({ length: n }, () => ok()).join(',')}]`;
const detailsName = (field: string, index?: number) => (b: { details: Record<string, unknown>[] }) =>
  assert.ok(
    b.details.some((d) => d.field === field && (index === undefined || d.index === index)),
    `details name ${field}${index === undefined ? '' : ` at ${index}`}: ${JSON.stringify(b.details)}`,
  );

const cases: Case[] = [
  // Not JSON at all.
  notJson('unterminated object', '{'),
  notJson('truncated', '{"cliente": "cliente_uno", "evento":'),
  notJson('trailing comma', '[{"evento": "a",}]'),
  notJson('single quotes', "{'evento': 'a'}"),
  notJson('NaN literal', '{"evento": NaN}'),
  notJson('comment', '{"evento": "a"} // hi'),
  notJson('two documents', `${ok()}${ok()}`),
  notJson('empty body', ''),
  notJson('whitespace only', '   \n'),
  notJson('invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])),
  notJson('lone surrogate bytes (CESU-8)', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])),
  // JSON, but not an event or an array of 1..1000 events.
  bad('null', 'null'),
  bad('a number', '42'),
  bad('a string', '"click"'),
  bad('a boolean', 'true'),
  bad('empty array', '[]'),
  bad('array of numbers', '[1, 2]', { check: detailsName('(event)', 1) }),
  bad('nested array', `[[${ok()}]]`, { check: detailsName('(event)', 0) }),
  bad('empty object, no header', '{}', { check: detailsName('evento') }),
  bad('missing evento', JSON.stringify({ cliente: 'cliente_uno' }), { check: detailsName('evento') }),
  bad('missing cliente and no X-Client-Name', JSON.stringify({ evento: 'click' }), {
    check: detailsName('cliente'),
  }),
  bad('evento is a number', ev({ evento: 5 }), { check: detailsName('evento') }),
  bad('cliente is an array', ev({ cliente: ['a'] }), { check: detailsName('cliente') }),
  bad('cliente is an object', ev({ cliente: { name: 'a' } }), { check: detailsName('cliente') }),
  bad('evento empty', ev({ evento: '' })),
  bad('evento with a space', ev({ evento: 'add to cart' })),
  bad('evento of 65 characters', ev({ evento: 'e'.repeat(65) })),
  bad('cliente of 65 characters', ev({ cliente: 'c'.repeat(65) })),
  bad('evento of 100,000 characters', ev({ evento: 'e'.repeat(100_000) })),
  bad('cliente with a slash', ev({ cliente: 'a/b' })),
  bad('cliente with a colon', ev({ cliente: 'a:b' })),
  bad('cliente with an accent', ev({ cliente: 'clienté' })),
  bad('evento emoji', ev({ evento: 'click🎉' })),
  bad('evento with NUL', ev({ evento: 'cl\u0000ick' })),
  bad('evento with newline', ev({ evento: 'click\n' })),
  bad('cliente with right-to-left override', ev({ cliente: 'uno\u202eodd' })),
  bad('cliente with zero-width space', ev({ cliente: 'cliente\u200b_uno' })),
  bad('timestamp in words', ev({ timestamp: 'yesterday' }), { check: detailsName('timestamp') }),
  bad('timestamp without zone', ev({ timestamp: '2025-04-13T12:00:00' })),
  bad('timestamp February 30', ev({ timestamp: '2025-02-30T12:00:00Z' })),
  bad('timestamp hour 25', ev({ timestamp: '2025-04-13T25:00:00Z' })),
  bad('timestamp as epoch number', ev({ timestamp: 1744545600 })),
  bad('timestamp with bad offset', ev({ timestamp: '2025-04-13T12:00:00+24:00' })),
  bad('id empty', ev({ id: '' }), { check: detailsName('id') }),
  bad('id of 129 characters', ev({ id: 'i'.repeat(129) })),
  bad('id not ASCII', ev({ id: 'ñandú' })),
  bad('id is a number', ev({ id: 12 })),
  bad('one bad event among valid ones', `[${ok()},${ok()},${ev({ evento: 'a b' })}]`, {
    check: detailsName('evento', 2),
  }),
  bad('duplicate key, last one wrong', '{"cliente":"c","evento":"a","evento":5}'),
  bad('1,001 events', many(1001)),
  bad('1,000 invalid events (details capped)', `[${Array(1000).fill('{}').join(',')}]`, {
    check: (b) => assert.ok(b.details.length > 0 && b.details.length <= 100),
  }),
  bad('deeply nested value', `${'['.repeat(5000)}${']'.repeat(5000)}`),
  bad('__proto__ key', '{"cliente":"c","evento":"a","__proto__":{"polluted":1}}', {
    check: detailsName('__proto__'),
  }),
  bad('__proto__ key in a batch', `[${ok()},{"cliente":"c","evento":"a","__proto__":{"polluted":1}}]`, {
    check: detailsName('__proto__', 1),
  }),
  bad('constructor.prototype key', '{"cliente":"c","evento":"a","constructor":{"prototype":{"polluted":1}}}'),
  bad('bad X-Client-Name, body without cliente', JSON.stringify({ evento: 'a' }), {
    headers: { 'x-client-name': 'no spaces allowed' },
  }),
  bad('Idempotency-Key too long', ok(), { headers: { 'idempotency-key': 'k'.repeat(101) } }),
  bad('Idempotency-Key with a space', ok(), { headers: { 'idempotency-key': 'a b' } }),
  // Size and content type.
  { name: '2 MiB body', body: `[${ok()},"${'x'.repeat(2 * 1024 * 1024)}"]`, status: 413, code: 'too_large' },
  {
    name: '1,000 valid events padded over 1 MiB',
    body: `[${Array(1000)
      .fill(ev({ pad: 'p'.repeat(1100) }))
      .join(',')}]`,
    status: 413,
    code: 'too_large',
  },
  { name: 'text/plain', body: ok(), type: 'text/plain', status: 415, code: 'unsupported_media_type' },
  {
    name: 'form',
    body: 'evento=a',
    type: 'application/x-www-form-urlencoded',
    status: 415,
    code: 'unsupported_media_type',
  },
  { name: 'no content type', body: ok(), type: null, status: 415, code: 'unsupported_media_type' },
  {
    name: 'latin-1 charset',
    body: ok(),
    type: `${J}; charset=iso-8859-1`,
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: 'multipart',
    body: ok(),
    type: 'multipart/form-data; boundary=x',
    status: 415,
    code: 'unsupported_media_type',
  },
  // The seed's /send.
  bad('/send with an array', '[1]', { url: '/send' }),
  bad('/send with a string', '"mensaje"', { url: '/send' }),
  bad('/send with a bad X-Client-Name', '{"message":"m"}', {
    url: '/send',
    headers: { 'x-client-name': 'x/y' },
  }),
  notJson('/send not JSON', 'mensaje de prueba', { url: '/send' }),
  {
    name: '/send text/plain',
    url: '/send',
    body: 'hola',
    type: 'text/plain',
    status: 415,
    code: 'unsupported_media_type',
  },
  {
    name: '/send 2 MiB',
    url: '/send',
    body: `{"message":"${'x'.repeat(2 << 20)}"}`,
    status: 413,
    code: 'too_large',
  },
  // Routes that do not exist.
  { name: 'GET /events', method: 'GET', url: '/events', status: 404, code: 'not_found' },
  { name: 'PUT /send', method: 'PUT', url: '/send', body: ok(), status: 404, code: 'not_found' },
  { name: 'POST /event (typo)', url: '/event', body: ok(), status: 404, code: 'not_found' },
];

test('every malformed request gets its 4xx and code, and nothing is published', async (t) => {
  assert.ok(cases.length >= 40, `${cases.length} cases`);
  const f = await startIngest(t);
  const failures: string[] = [];
  for (const c of cases) {
    const headers: Record<string, string> = { ...c.headers };
    if (c.type !== null) headers['content-type'] = c.type ?? J;
    const res = await f.inject({
      method: c.method ?? 'POST',
      url: c.url ?? '/events',
      headers,
      payload: c.body,
    });
    let body: { error?: string; message?: string; details: Record<string, unknown>[] };
    try {
      body = json(res);
    } catch {
      failures.push(`${c.name}: not JSON: ${res.statusCode} ${res.body.slice(0, 100)}`);
      continue;
    }
    if (res.statusCode >= 500) failures.push(`${c.name}: a 5xx (${res.statusCode})`);
    if (res.statusCode !== c.status || body.error !== c.code) {
      failures.push(`${c.name}: want ${c.status} ${c.code}, got ${res.statusCode} ${res.body.slice(0, 200)}`);
      continue;
    }
    if (typeof body.message !== 'string' || !Array.isArray(body.details))
      failures.push(`${c.name}: bad shape`);
    try {
      c.check?.(body);
    } catch (err) {
      failures.push(`${c.name}: ${(err as Error).message}`);
    }
  }
  assert.deepEqual(failures, []);
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype was polluted');

  // Nothing was handed to the broker, and the queue is empty.
  assert.equal(f.svc.publisher.pending, 0);
  const metrics = (await f.inject({ method: 'GET', url: '/metrics' })).body;
  assert.equal(metricValue(metrics, 'warren_ingest_events_accepted_total'), 0);
  assert.equal(metricValue(metrics, 'warren_ingest_rejections_total', 'code="invalid_event"')! > 40, true);
  assert.equal(await queueDepth(f.te.queue), 0);
  // The same check sees a publish: one valid request makes the depth 1.
  const res = await f.post('/events', ok());
  assert.equal(res.statusCode, 202);
  await waitFor('the valid event in the queue', async () => (await queueDepth(f.te.queue)) === 1, 10_000);
});

test('INGEST_BODY_LIMIT moves the limit: a body one byte over it is 413 too_large, one at it is 202', async (t) => {
  const f = await startIngest(t, { INGEST_BODY_LIMIT: '2000' });
  const sized = (n: number) => {
    const head = '{"cliente":"c","evento":"a","pad":"';
    return `${head}${'p'.repeat(n - head.length - 2)}"}`;
  };
  assert.equal(Buffer.byteLength(sized(2000)), 2000);
  const send = (payload: string) =>
    f.inject({ method: 'POST', url: '/events', headers: { 'content-type': J }, payload });
  const at = await send(sized(2000));
  assert.equal(at.statusCode, 202, at.body);
  const over = await send(sized(2001));
  assert.equal(over.statusCode, 413, over.body);
  assert.equal(json(over).error, 'too_large');
});
