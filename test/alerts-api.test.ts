// /api/v1/alerts over a real store (both stores), in-process (README "Alerts"): POST validates
// every kind (400 with details naming the field), answers the secret once, and GET never shows
// it (nor the webhook's credentials or query); DELETE removes (404 when unknown); writes fail
// closed: with READ_USER/READ_PASSWORD they need them, without they are local only (a remote
// client behind a trusted proxy is remote).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlertCreated, AlertsAnswer } from '../src/analytics/index.js';
import { apiOn, kinds, withStore } from './support/store.js';

const creds = { user: 'reader', password: 'pa:ss word' };
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

const good = {
  kind: 'silence',
  cliente: 'cliente_uno',
  minutes: 5,
  webhook: 'https://user:pw@hooks.example/path?token=abc#frag',
};

for (const kind of kinds) {
  describe(`/api/v1/alerts (${kind.name})`, () => {
    it('adds, lists without secrets, and removes rules; 400 names each bad field; 404 for an unknown id', () =>
      withStore(kind, async (store) => {
        let changed = 0;
        const app = apiOn(store, { alerts: { credentials: undefined, changed: () => changed++ } });
        const post = (payload: unknown) =>
          app.inject({ method: 'POST', url: '/api/v1/alerts', payload: payload as object });
        const made = await post(good);
        assert.equal(made.statusCode, 201, made.body);
        const created = made.json<AlertCreated>();
        assert.ok(created.secret.length >= 16, 'a generated secret, shown once');
        assert.equal(
          created.rule.webhook,
          'https://hooks.example/…',
          'no credentials, path, query or fragment',
        );
        assert.equal(created.rule.state, 'ok');
        assert.equal(changed, 1, 'the evaluator is told');
        const t = await post({
          kind: 'threshold',
          cliente: 'c',
          evento: 'click',
          minutes: 0.5,
          below: 3,
          webhook: 'http://h/x',
          format: 'slack',
          secret: 'my-secret-1',
        });
        assert.equal(t.statusCode, 201, t.body);
        assert.equal(t.json<AlertCreated>().secret, 'my-secret-1');
        const d = await post({ kind: 'dead_letters', valid: true, webhook: 'HTTP://H.Example:80/y' });
        assert.equal(d.statusCode, 201, d.body);
        assert.equal(
          d.json<AlertCreated>().rule.webhook,
          'http://h.example/…',
          'written as the URL parser does, path hidden',
        );

        const list = await app.inject({ url: '/api/v1/alerts' });
        assert.equal(list.statusCode, 200);
        const body = list.json<AlertsAnswer>();
        assert.deepEqual(
          body.rules.map((r) => r.kind),
          ['silence', 'threshold', 'dead_letters'],
        );
        assert.equal(body.rules[1]?.below, 3);
        assert.equal(body.rules[2]?.valid, true);
        assert.deepEqual(body.firings, []);
        for (const secret of [created.secret, 'my-secret-1', 'token=abc', 'pw@'])
          assert.ok(!list.body.includes(secret), `GET shows no ${secret}`);
        assert.ok(!list.body.includes('"secret"'));

        const bad = [
          [{ ...good, kind: 'nope' }, 'kind'],
          [{ ...good, cliente: 'bad name!' }, 'cliente'],
          [{ ...good, minutes: 0 }, 'minutes'],
          [{ ...good, minutes: '5' }, 'minutes'],
          [{ ...good, webhook: 'ftp://x/y' }, 'webhook'],
          [{ ...good, webhook: 'not a url' }, 'webhook'],
          [{ ...good, format: 'xml' }, 'format'],
          [{ ...good, secret: 'short' }, 'secret'],
          [{ ...good, extra: 1 }, ''],
          [{ kind: 'threshold', cliente: 'c', evento: 'e', minutes: 1, webhook: 'http://h/' }, 'above'],
          [
            {
              kind: 'threshold',
              cliente: 'c',
              evento: 'e',
              minutes: 1,
              above: 1,
              below: 2,
              webhook: 'http://h/',
            },
            'above',
          ],
          [{ kind: 'threshold', cliente: 'c', minutes: 1, above: 1, webhook: 'http://h/' }, 'evento'],
          [{ kind: 'dead_letters', webhook: 'http://h/' }, 'above'],
          [{ kind: 'dead_letters', above: 1.5, webhook: 'http://h/' }, 'above'],
          [[good], ''],
        ] as const;
        for (const [payload, field] of bad) {
          const r = await post(payload);
          assert.equal(r.statusCode, 400, `${JSON.stringify(payload)} → ${r.body}`);
          const e = r.json<{ error: string; details: { field: string }[] }>();
          assert.equal(e.error, 'bad_request');
          assert.ok(
            e.details.some((x) => x.field.includes(field)),
            `details name ${field}: ${JSON.stringify(e.details)}`,
          );
        }
        const notJson = await app.inject({
          method: 'POST',
          url: '/api/v1/alerts',
          headers: { 'content-type': 'application/json' },
          payload: '{oops',
        });
        assert.equal(notJson.statusCode, 400);
        assert.equal(notJson.json<{ error: string }>().error, 'invalid_json');
        assert.equal((await app.inject({ url: '/api/v1/alerts?limit=0' })).statusCode, 400);
        assert.equal((await app.inject({ url: '/api/v1/alerts?limit=1001' })).statusCode, 400);

        const del = await app.inject({ method: 'DELETE', url: `/api/v1/alerts/${created.rule.id}` });
        assert.equal(del.statusCode, 204);
        const again = await app.inject({ method: 'DELETE', url: `/api/v1/alerts/${created.rule.id}` });
        assert.equal(again.statusCode, 404);
        assert.equal(again.json<{ error: string }>().error, 'not_found');
        assert.equal((await app.inject({ url: '/api/v1/alerts' })).json<AlertsAnswer>().rules.length, 2);
        // CONTRACT.md's `DELETE /api/v1/alerts`: the id may come as ?id=; without one, 400.
        const [other] = (await app.inject({ url: '/api/v1/alerts' })).json<AlertsAnswer>().rules;
        const byQuery = await app.inject({ method: 'DELETE', url: `/api/v1/alerts?id=${other!.id}` });
        assert.equal(byQuery.statusCode, 204, byQuery.body);
        const noId = await app.inject({ method: 'DELETE', url: '/api/v1/alerts' });
        assert.equal(noId.statusCode, 400);
        assert.equal(noId.json<{ error: string }>().error, 'bad_request');
        assert.equal((await app.inject({ url: '/api/v1/alerts' })).json<AlertsAnswer>().rules.length, 1);
        await app.close();
      }));

    it('writes fail closed: credentials required when configured, local only when not', () =>
      withStore(kind, async (store) => {
        const locked = apiOn(store, { alerts: { credentials: creds, changed: () => undefined } });
        const post = (headers: Record<string, string>) =>
          locked.inject({ method: 'POST', url: '/api/v1/alerts', payload: good, headers });
        assert.equal((await post({})).statusCode, 401, 'no credentials (even from loopback)');
        assert.equal((await post({ authorization: basic('reader', 'wrong') })).statusCode, 401);
        assert.equal((await post({ authorization: 'Bearer abc' })).statusCode, 401);
        const ok = await post({ authorization: basic(creds.user, creds.password) });
        assert.equal(ok.statusCode, 201, ok.body);
        const id = ok.json<AlertCreated>().rule.id;
        const delNo = await locked.inject({ method: 'DELETE', url: `/api/v1/alerts/${id}` });
        assert.equal(delNo.statusCode, 401);
        assert.equal(
          (await locked.inject({ url: '/api/v1/alerts' })).statusCode,
          200,
          'reads as other reads',
        );
        await locked.close();

        // Open: only this machine. Behind a trusted proxy, the forwarded client decides.
        const open = apiOn(store, { trustedProxies: ['127.0.0.1'] });
        const remote = await open.inject({
          method: 'POST',
          url: '/api/v1/alerts',
          payload: good,
          remoteAddress: '203.0.113.7',
        });
        assert.equal(remote.statusCode, 403);
        assert.equal(remote.json<{ error: string }>().error, 'forbidden');
        const proxied = await open.inject({
          method: 'POST',
          url: '/api/v1/alerts',
          payload: good,
          headers: { 'x-forwarded-for': '198.51.100.4' },
        });
        assert.equal(proxied.statusCode, 403, 'a remote client through a local proxy is remote');
        const remoteDel = await open.inject({
          method: 'DELETE',
          url: `/api/v1/alerts/${id}`,
          remoteAddress: '203.0.113.7',
        });
        assert.equal(remoteDel.statusCode, 403);
        const local = await open.inject({ method: 'DELETE', url: `/api/v1/alerts/${id}` });
        assert.equal(local.statusCode, 204);
        await open.close();
      }));
  });
}
