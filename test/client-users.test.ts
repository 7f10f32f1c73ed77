// `warren client --users N`: every event carries a usuario, one of u0 … u<N-1> derived from its id
// (usuarioFor), over AMQP and through the HTTP gateway; analytics counts exactly the users the
// confirmed ids name. A bad N stops it at start (exit 2).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { usuarioFor } from '../src/clients/index.js';
import { freePort, getJson, type TestEnv, testEnv, waitFor, warren } from './support/helpers.js';
import { readIds } from './support/ids.js';
import { report, startAnalytics, startIngest } from './support/sdk-stack.js';

describe('warren client --users', () => {
  let env: TestEnv;
  before(() => {
    env = testEnv('cusers');
  });
  after(async () => {
    await env.cleanup();
  });

  it('gives every event one of N users, over AMQP and over HTTP', async () => {
    const aPort = await freePort();
    const analytics = await startAnalytics(env, aPort);
    const iPort = await freePort();
    const ingest = await startIngest(env, iPort);
    try {
      for (const [name, extra] of [
        ['cu_amqp', []],
        ['cu_http', ['--http', `http://127.0.0.1:${iPort}`]],
      ] as const) {
        const file = join(env.dir, `${name}.ids`);
        const c = warren(
          [
            'client',
            '--name',
            name,
            '--rate',
            '0',
            '--count',
            '300',
            '--users',
            '7',
            '--ids-out',
            file,
            ...extra,
          ],
          env.env,
        );
        assert.equal(await c.exited, 0, c.output());
        const ids = readIds(file);
        const users = new Set(ids.map((id) => usuarioFor(id, 7)));
        assert.ok([...users].every((u) => /^u[0-6]$/.test(u)));
        await waitFor(`${name} counted`, async () => (await report(aPort)).clientes[name] === 300, 20_000);
        const got = await getJson<{ usuarios: number }>(
          `http://127.0.0.1:${aPort}/api/v1/uniques?cliente=${name}`,
        );
        assert.equal(got.body.usuarios, users.size);
        assert.ok(users.size >= 5, `300 events reach most of 7 users (${users.size})`);
      }
    } finally {
      await ingest.kill('SIGKILL');
      await analytics.kill('SIGKILL');
    }
  });

  it('refuses a --users that is not a whole number >= 1', async () => {
    for (const bad of ['0', '2.5', 'x']) {
      const c = warren(['client', '--name', 'cu_bad', '--count', '1', '--users', bad], env.env);
      assert.equal(await c.exited, 2, c.output());
      assert.match(c.output(), /--users/);
    }
  });
});
