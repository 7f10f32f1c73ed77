// `warren alerts add|list|remove` as a user runs them, on both stores (README "Alerts"): each kind
// is added (decimals in --minutes), listed (as text and as JSON, never with the secret), and
// removed; bad usage exits 2 with one line naming the problem.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlertsAnswer } from '../src/analytics/index.js';
import { addRule } from './support/alerts.js';
import { warren } from './support/helpers.js';
import { kinds } from './support/store.js';

async function run(args: string[], env: Record<string, string>) {
  const p = warren(['alerts', ...args], env);
  const code = await p.exited;
  return { code, out: p.stdout(), all: p.output() };
}

for (const kind of kinds) {
  describe(`warren alerts (${kind.name})`, () => {
    it('adds each kind, lists without secrets, removes; bad usage exits 2 with one line', async () => {
      const db = await kind.fresh();
      const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
      try {
        const s = await addRule(
          [
            'silence',
            '--cliente',
            'cliente_uno',
            '--minutes',
            '0.05',
            '--webhook',
            'https://u:p@hooks.example/s?k=1',
          ],
          env,
        );
        const t = await addRule(
          [
            'threshold',
            '--cliente',
            'cliente_uno',
            '--evento',
            'click',
            '--minutes',
            '5',
            '--below',
            '10',
            '--webhook',
            'http://127.0.0.1:9/t',
            '--format',
            'slack',
            '--secret',
            'given-secret-1',
          ],
          env,
        );
        assert.equal(t.secret, 'given-secret-1');
        const d = await addRule(['dead_letters', '--valid', '--webhook', 'http://127.0.0.1:9/d'], env);

        const text = await run(['list'], env);
        assert.equal(text.code, 0, text.all);
        const lines = text.out.trim().split('\n');
        assert.equal(lines.length, 3);
        assert.match(
          lines[0]!,
          new RegExp(
            `^${s.id}\tsilence\tno events from cliente_uno for 0.05 min\tok\thttps://hooks.example/…$`,
          ),
        );
        const json = await run(['list', '--json'], env);
        const body = JSON.parse(json.out) as AlertsAnswer;
        assert.deepEqual(
          body.rules.map((r) => [r.id, r.kind, r.format]),
          [
            [s.id, 'silence', 'json'],
            [t.id, 'threshold', 'slack'],
            [d.id, 'dead_letters', 'json'],
          ],
        );
        assert.equal(body.rules[0]?.minutes, 0.05);
        for (const secret of [s.secret, t.secret, d.secret, 'k=1', 'u:p'])
          assert.ok(!text.all.includes(secret) && !json.all.includes(secret), `list shows no ${secret}`);

        const rm = await run(['remove', t.id], env);
        assert.equal(rm.code, 0, rm.all);
        assert.equal((await run(['remove', t.id], env)).code, 1, 'an unknown id');
        const after = JSON.parse((await run(['list', '--json'], env)).out) as AlertsAnswer;
        assert.deepEqual(
          after.rules.map((r) => r.id),
          [s.id, d.id],
        );

        const bad: [string[], RegExp][] = [
          [['add'], /usage/],
          [['add', 'nope', '--webhook', 'http://h/'], /usage/],
          [['add', 'silence', '--minutes', '5', '--webhook', 'http://h/'], /cliente/],
          [
            ['add', 'silence', '--cliente', 'c', '--minutes', 'abc', '--webhook', 'http://h/'],
            /--minutes must be a number/,
          ],
          [
            ['add', 'silence', '--cliente', 'c', '--minutes=-1', '--webhook', 'http://h/'],
            /minutes must be above 0/,
          ],
          [['add', 'silence', '--cliente', 'c', '--minutes', '1', '--webhook', 'ftp://h/'], /webhook/],
          [
            ['add', 'silence', '--cliente', 'c', '--minutes', '1', '--webhook', 'http://h/', '--above', '3'],
            /above/,
          ],
          [
            [
              'add',
              'threshold',
              '--cliente',
              'c',
              '--evento',
              'e',
              '--minutes',
              '1',
              '--webhook',
              'http://h/',
            ],
            /above or below/,
          ],
          [['add', 'dead_letters', '--webhook', 'http://h/'], /above/],
          [
            [
              'add',
              'silence',
              '--cliente',
              'c',
              '--minutes',
              '1',
              '--webhook',
              'http://h/',
              '--format',
              'xml',
            ],
            /format/,
          ],
          [['list', 'extra'], /usage/],
          [['list', '--cliente', 'c'], /--cliente is for warren alerts add/],
          [['remove'], /usage/],
          [['frobnicate'], /needs one of add, list, remove, deliver/],
          [['add', 'silence', '--bogus'], /bogus/],
        ];
        for (const [args, why] of bad) {
          const r = await run(args, env);
          assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.all}`);
          const msg = r.all.trim();
          assert.equal(msg.split('\n').length, 1, `one line: ${msg}`);
          assert.match(msg, why);
        }
        assert.equal(
          JSON.parse((await run(['list', '--json'], env)).out).rules.length,
          2,
          'nothing added by bad usage',
        );
      } finally {
        await db.drop();
      }
    });
  });
}
