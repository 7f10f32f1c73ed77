// The browser snippet's users in real Chromium against a real ingest and analytics: without
// identify() every event carries this browser's anonymous id, kept in localStorage (no cookie), so
// two page loads are one user and another browser profile is another; with storage blocked it is
// one id per page load; identify() names the user; data-anonymous="off" sends no usuario at all.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext } from 'playwright-core';
import {
  freePort,
  getJson,
  ROOT,
  type TestEnv,
  testEnv,
  type WarrenProcess,
  waitFor,
} from './support/helpers.js';
import { launchChromium } from './support/panel-fixture.js';
import { report, startAnalytics, startIngest } from './support/sdk-stack.js';
import { type Site, startSite } from './support/snippet-origin.js';

const page = (cliente: string, body: string, attrs = '') => `<!doctype html>
<script src="/warren.js" data-cliente="${cliente}" ${attrs}></script>
<script>${body} warren.flush();</script><p>ok</p>`;

const pages: Record<string, string> = {
  '/anon.html': page('snip_anon', "warren.track('view'); warren.track('click'); warren.track('view');"),
  '/blocked.html': page('snip_blocked', "warren.track('view'); warren.track('click');"),
  '/ident.html': page(
    'snip_ident',
    "warren.identify('alice'); warren.track('view'); warren.track('click'); warren.identify(); warren.track('view');",
  ),
  '/off.html': page('snip_off', "warren.track('view'); warren.track('click');", 'data-anonymous="off"'),
};

describe('browser snippet users (anonymous id, identify) in Chromium', () => {
  let env: TestEnv;
  let browser: Browser;
  let site: Site;
  let aPort: number;
  const children: WarrenProcess[] = [];
  const contexts: BrowserContext[] = [];
  /** The usuario of every event posted, by page path. */
  const sent: { path: string; usuario: string | undefined }[] = [];

  before(async () => {
    const built = spawnSync(process.execPath, ['scripts/build-snippet.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    env = testEnv('snipu');
    aPort = await freePort();
    children.push(await startAnalytics(env, aPort));
    const iPort = await freePort();
    children.push(await startIngest(env, iPort));
    site = await startSite(await freePort(), iPort, pages);
    browser = await launchChromium();
  });
  after(async () => {
    for (const c of contexts) await c.close().catch(() => undefined);
    await browser?.close();
    await site?.close();
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await env.cleanup();
  });

  async function context(blockStorage = false): Promise<BrowserContext> {
    const c = await browser.newContext();
    contexts.push(c);
    if (blockStorage) {
      // What a browser that blocks site data does: touching localStorage throws.
      await c.addInitScript(() => {
        Object.defineProperty(window, 'localStorage', {
          get() {
            throw new DOMException('storage is blocked', 'SecurityError');
          },
        });
      });
    }
    c.on('request', (r) => {
      if (r.method() !== 'POST' || !r.url().endsWith('/events')) return;
      const path = new URL(r.frame().url()).pathname;
      for (const e of r.postDataJSON() as { usuario?: string }[]) sent.push({ path, usuario: e.usuario });
    });
    return c;
  }

  async function visit(c: BrowserContext, path: string): Promise<void> {
    const p = await c.newPage();
    // Listen before navigating: the page posts as it loads, and the answer can come before goto returns.
    const accepted = p.waitForResponse((r) => r.url().endsWith('/events') && r.status() === 202);
    await p.goto(`${site.url}${path}`);
    await accepted;
    await p.close();
  }

  const users = async (cliente: string) =>
    (await getJson<{ usuarios: number }>(`http://127.0.0.1:${aPort}/api/v1/uniques?cliente=${cliente}`)).body
      .usuarios;

  async function counted(cliente: string, n: number): Promise<void> {
    await waitFor(
      `${n} events of ${cliente} counted`,
      async () => (await report(aPort)).clientes[cliente] === n,
      20_000,
    );
  }

  it('keeps one anonymous id per browser in localStorage, not in a cookie', async () => {
    const a = await context();
    await visit(a, '/anon.html');
    await visit(a, '/anon.html');
    await counted('snip_anon', 6);
    assert.equal(await users('snip_anon'), 1, 'two page loads of one browser are one user');
    const p = await a.newPage();
    await p.goto(`${site.url}/anon.html`);
    const stored = await p.evaluate(() => localStorage.getItem('warren:anon'));
    assert.match(stored ?? '', /^anon-[0-9a-f-]{36}$/);
    assert.equal(await p.evaluate(() => document.cookie), '');
    assert.deepEqual((await a.cookies()).length, 0, 'no cookie is set');
    await p.close();
    const ids = new Set(sent.filter((s) => s.path === '/anon.html').map((s) => s.usuario));
    assert.deepEqual([...ids], [stored], 'every event carried the stored id');

    const b = await context();
    await visit(b, '/anon.html');
    await counted('snip_anon', 12);
    assert.equal(await users('snip_anon'), 2, 'another browser is another user');
  });

  it('uses a new id per page load when storage is blocked', async () => {
    const c = await context(true);
    await visit(c, '/blocked.html');
    await visit(c, '/blocked.html');
    await counted('snip_blocked', 4);
    assert.equal(await users('snip_blocked'), 2);
    const ids = sent.filter((s) => s.path === '/blocked.html').map((s) => s.usuario);
    assert.ok(
      ids.every((u) => /^anon-/.test(u ?? '')),
      JSON.stringify(ids),
    );
  });

  it('identify() names the user; identify() with nothing goes back to the anonymous id', async () => {
    const c = await context();
    await visit(c, '/ident.html');
    await counted('snip_ident', 3);
    assert.equal(await users('snip_ident'), 2);
    const ids = sent.filter((s) => s.path === '/ident.html').map((s) => s.usuario);
    assert.deepEqual(ids.slice(0, 2), ['alice', 'alice']);
    assert.match(ids[2] ?? '', /^anon-/);
  });

  it('sends no usuario with data-anonymous="off" and no identify()', async () => {
    const c = await context();
    await visit(c, '/off.html');
    await counted('snip_off', 2);
    assert.equal(await users('snip_off'), 0);
    assert.deepEqual(
      sent.filter((s) => s.path === '/off.html').map((s) => s.usuario),
      [undefined, undefined],
    );
    const p = await c.newPage();
    await p.goto(`${site.url}/off.html`);
    assert.equal(await p.evaluate(() => localStorage.getItem('warren:anon')), null, 'nothing stored');
    await p.close();
  });
});
