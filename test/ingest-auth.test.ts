// Keys mode (401 / 403, no spoofing through the header or the body, keys picked up while running,
// a missing, empty or broken keys file refusing everything), `warren keys`, read keys, and the
// per-client rate limit (429 with Retry-After).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { test } from 'node:test';
import { addKey, hashKey, revokeKeys } from '../src/ingest/keys.js';
import { queueDepth, testEnv, waitFor, warren } from './support/helpers.js';
import { json, startIngest } from './support/ingest-fixture.js';

const ev = (cliente?: string, evento = 'click') => (cliente === undefined ? { evento } : { cliente, evento });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const KEYS = { INGEST_AUTH: 'keys' };

test('keyed mode: 401 without a good key, 403 for another client however it is named', async (t) => {
  const te = testEnv('ingest_keys');
  const uno = addKey(te.env.API_KEYS_FILE!, 'cliente_uno');
  addKey(te.env.API_KEYS_FILE!, 'cliente_dos');
  const f = await startIngest(t, KEYS, { te });
  const cases: [string, string, unknown, Record<string, string>, number, string][] = [
    ['no key', '/events', ev('cliente_uno'), {}, 401, 'unauthorized'],
    ['unknown key', '/events', ev('cliente_uno'), bearer('wrn_not-a-key'), 401, 'unauthorized'],
    ['basic auth', '/events', ev('cliente_uno'), { authorization: `Basic ${uno}` }, 401, 'unauthorized'],
    ['the key without Bearer', '/events', ev('cliente_uno'), { authorization: uno }, 401, 'unauthorized'],
    ['no key on /send', '/send', { message: 'm' }, {}, 401, 'unauthorized'],
    ['no key and a non-JSON body', '/events', '{', {}, 401, 'unauthorized'],
    ['body names another client', '/events', ev('cliente_dos'), bearer(uno), 403, 'forbidden'],
    [
      'header names another client',
      '/events',
      ev(),
      { ...bearer(uno), 'x-client-name': 'cliente_dos' },
      403,
      'forbidden',
    ],
    [
      'one event of a batch for another client',
      '/events',
      [ev('cliente_uno'), ev('cliente_dos')],
      bearer(uno),
      403,
      'forbidden',
    ],
    [
      '/send as another client',
      '/send',
      { message: 'm' },
      { ...bearer(uno), 'x-client-name': 'cliente_dos' },
      403,
      'forbidden',
    ],
  ];
  for (const [name, url, body, headers, status, code] of cases) {
    const res = await f.post(url, body, headers);
    assert.equal(res.statusCode, status, `${name}: ${res.body}`);
    assert.equal(json(res).error, code, name);
  }
  const mixed = await f.post('/events', [ev('cliente_uno'), ev('cliente_dos')], bearer(uno));
  assert.deepEqual(json<{ details: { index?: number; field: string }[] }>(mixed).details, [
    { index: 1, field: 'cliente', rule: "must be cliente_uno (the API key's client)", value: 'cliente_dos' },
  ]);
  // What the key allows: its client, named or not, with a matching header or none.
  for (const [body, headers] of [
    [ev('cliente_uno'), bearer(uno)],
    [ev(), bearer(uno)],
    [ev(), { ...bearer(uno), 'x-client-name': 'cliente_uno' }],
    [{ message: 'm' }, bearer(uno)],
  ] as const) {
    const url = 'message' in body ? '/send' : '/events';
    const res = await f.post(url, body, { ...headers });
    assert.equal(res.statusCode, 202, res.body);
  }
  assert.equal(await queueDepth(f.te.queue), 4, 'only the allowed requests were published');
  // The documentation and probes need no key.
  for (const url of ['/healthz', '/readyz', '/docs/json', '/metrics']) {
    assert.equal((await f.inject({ method: 'GET', url })).statusCode, 200, url);
  }
});

test('keys added or revoked while ingest runs take effect; revoking the last key leaves it closed', async (t) => {
  const f = await startIngest(t, KEYS);
  let accepted = 0;
  const send = async (headers: Record<string, string> = {}) => {
    const res = await f.post('/events', ev('cliente_uno'), headers);
    if (res.statusCode === 202) accepted++;
    return res;
  };
  assert.equal((await send()).statusCode, 401, 'keys mode with no keys file refuses');
  const key = addKey(f.config.apiKeysFile, 'cliente_uno');
  // README: "every instance re-reads the file within a second of a change". 2 s: that second,
  // plus room for the test's own polling and requests on a busy machine (a 3 s recheck fails).
  await waitFor('the new key accepted', async () => (await send(bearer(key))).statusCode === 202, 2000);
  assert.equal((await send()).statusCode, 401, 'still closed without a key');
  revokeKeys(f.config.apiKeysFile, 'cliente_uno');
  await waitFor('the revoked key refused', async () => (await send(bearer(key))).statusCode === 401, 2000);
  // The file now holds no keys at all: nobody may publish, with or without a key.
  for (const headers of [{}, bearer(key), bearer('wrn_guess')]) {
    const res = await send(headers);
    assert.equal(res.statusCode, 401, res.body);
    assert.equal(json(res).error, 'unauthorized');
  }
  assert.equal(await queueDepth(f.te.queue), accepted, 'only requests with a live key were published');
});

test('keys mode: a missing, empty, unreadable or corrupt keys file refuses everything, with a log line', async (t) => {
  const te = testEnv('keys_broken');
  const file = te.env.API_KEYS_FILE!;
  const lines: string[] = [];
  const f = await startIngest(t, KEYS, { te, logLines: lines });
  const key = addKey(file, 'cliente_uno');
  await waitFor(
    'keys read',
    async () => (await f.post('/events', ev(), bearer(key))).statusCode === 202,
    5000,
  );
  const breakages: [string, () => void, RegExp][] = [
    ['missing', () => undefined, /does not exist/],
    ['empty', () => writeFileSync(file, ''), /holds no send keys/],
    ['corrupt', () => writeFileSync(file, '{"keys": [{"cliente": "cliente_uno"'), /not a Warren keys file/],
    ['not keys', () => writeFileSync(file, '{"keys": [{"cliente": "x", "sha256": "nope"}]}'), /not a Warren/],
    ['unreadable', () => mkdirSync(file), /cannot be read/],
  ];
  for (const [what, breakIt, logged] of breakages) {
    rmSync(file, { recursive: true, force: true });
    breakIt();
    await waitFor(
      `${what}: refused`,
      async () => (await f.post('/events', ev(), bearer(key))).statusCode === 401,
      5000,
    );
    for (const headers of [{}, bearer(key)]) {
      const res = await f.post('/send', { message: 'm' }, headers);
      assert.equal(res.statusCode, 401, `${what}: ${res.body}`);
      assert.match(json<{ message: string }>(res).message, /keys file/);
    }
    await waitFor(`${what}: logged`, () => lines.some((l) => logged.test(l) && /"level":50/.test(l)), 5000);
    // Put the good file back: the next breakage starts from a working gateway.
    rmSync(file, { recursive: true, force: true });
    writeFileSync(file, JSON.stringify({ keys: [{ cliente: 'cliente_uno', sha256: hashKey(key) }] }));
    await waitFor(
      `${what}: fixed`,
      async () => (await f.post('/events', ev(), bearer(key))).statusCode === 202,
      5000,
    );
  }
});

test('open mode (the default) needs no key, even when the keys file holds keys', async (t) => {
  const te = testEnv('keys_open');
  addKey(te.env.API_KEYS_FILE!, 'cliente_uno');
  const f = await startIngest(t, {}, { te });
  assert.equal(f.config.ingestAuth, 'open');
  assert.equal((await f.post('/events', ev('cliente_dos'))).statusCode, 202);
});

test('`warren keys add` prints a key once and stores only its hash', async (t) => {
  const te = testEnv('keys_cli');
  t.after(() => te.cleanup());
  const add = warren(['keys', 'add', 'cliente_uno'], te.env);
  assert.equal(await add.exited, 0, add.output());
  const key = add.stdout().trim();
  assert.match(key, /^wrn_[A-Za-z0-9_-]{43}$/);
  const text = readFileSync(te.env.API_KEYS_FILE!, 'utf8');
  assert.ok(!text.includes(key), 'the key itself is not stored');
  const file = JSON.parse(text) as { keys: { cliente: string; sha256: string }[] };
  assert.deepEqual(
    file.keys.map((k) => [k.cliente, k.sha256]),
    [['cliente_uno', hashKey(key)]],
  );
  const list = warren(['keys', 'list'], te.env);
  assert.equal(await list.exited, 0);
  assert.match(list.stdout(), /^cliente_uno\t/);
  const badName = warren(['keys', 'add', 'no spaces'], te.env);
  assert.equal(await badName.exited, 2);
  assert.match(badName.output(), /client name must be/);
  const noName = warren(['keys', 'add'], te.env);
  assert.equal(await noName.exited, 2);
});

test('`warren keys add --read` makes a read-only key; revoking the last send key says the gateway is closed', async (t) => {
  const te = testEnv('keys_read_cli');
  t.after(() => te.cleanup());
  const env = { ...te.env, INGEST_AUTH: 'keys' };
  const send = warren(['keys', 'add', 'cliente_uno'], env);
  assert.equal(await send.exited, 0, send.output());
  const read = warren(['keys', 'add', '--read', 'informes'], env);
  assert.equal(await read.exited, 0, read.output());
  const readKey = read.stdout().trim();
  assert.match(readKey, /^wrn_[A-Za-z0-9_-]{43}$/);
  const file = JSON.parse(readFileSync(te.env.API_KEYS_FILE!, 'utf8')) as { keys: Record<string, string>[] };
  assert.deepEqual(file.keys[1], {
    read: 'informes',
    sha256: hashKey(readKey),
    created: file.keys[1]?.created,
  });
  const list = warren(['keys', 'list'], env);
  assert.equal(await list.exited, 0);
  assert.match(list.stdout(), /^cliente_uno\tsend\t.*\ninformes\tread\t/);
  // A read key never sends: ingest answers 403.
  const f = await startIngest(t, KEYS, { te });
  const res = await f.post('/events', ev('informes'), bearer(readKey));
  assert.equal(res.statusCode, 403, res.body);
  assert.equal(json(res).error, 'forbidden');
  const revoke = warren(['keys', 'revoke', 'cliente_uno'], env);
  assert.equal(await revoke.exited, 0, revoke.output());
  assert.match(revoke.output(), /no send keys are left; .* refuses every request/);
  const revokeRead = warren(['keys', 'revoke', '--read', 'informes'], env);
  assert.equal(await revokeRead.exited, 0, revokeRead.output());
  assert.deepEqual(JSON.parse(readFileSync(te.env.API_KEYS_FILE!, 'utf8')), { keys: [] });
});

test('rate limit: 429 rate_limited with Retry-After, per client, all or nothing', async (t) => {
  const f = await startIngest(t, { RATE_LIMIT: '5', RATE_BURST: '10' });
  const batch = (cliente: string, n: number) => Array.from({ length: n }, () => ev(cliente));
  assert.equal((await f.post('/events', batch('cliente_uno', 10))).statusCode, 202, 'the burst passes');
  const limited = await f.post('/events', batch('cliente_uno', 3));
  assert.equal(limited.statusCode, 429);
  assert.equal(json(limited).error, 'rate_limited');
  assert.ok(Number(limited.headers['retry-after']) >= 1, 'Retry-After in seconds');
  assert.equal(
    (await f.post('/events', batch('cliente_dos', 3))).statusCode,
    202,
    'other clients unaffected',
  );
  const mixed = await f.post('/events', [...batch('cliente_tres', 1), ...batch('cliente_uno', 1)]);
  assert.equal(mixed.statusCode, 429, 'one limited client refuses the whole request');
  assert.equal((await f.post('/events', batch('cliente_tres', 10))).statusCode, 202, 'and took nothing');
  const tooBig = await f.post('/events', batch('cliente_cuatro', 11));
  assert.equal(tooBig.statusCode, 429);
  assert.match(json<{ message: string }>(tooBig).message, /RATE_BURST/);
  const sendLimited = await f.post('/send', { message: 'm' }, { 'x-client-name': 'cliente_uno' });
  assert.equal(sendLimited.statusCode, 429, '/send counts too');
  await waitFor(
    'tokens refill at RATE_LIMIT per second',
    async () => {
      return (await f.post('/events', batch('cliente_uno', 3))).statusCode === 202;
    },
    5000,
    200,
  );
  assert.equal(await queueDepth(f.te.queue), 10 + 3 + 10 + 3);
});
