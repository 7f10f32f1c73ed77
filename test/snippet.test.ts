// The browser snippet in real Chromium against a real ingest and analytics: a page tracks events
// and leaves at once (navigation, tab close); the events still arrive, each counted once. While
// the broker is away, the page's batches are retried and carried over to the tab's next page.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Browser } from 'playwright-core';
import { freePort, ROOT, type TestEnv, testEnv, type WarrenProcess, waitFor } from './support/helpers.js';
import { launchChromium } from './support/panel-fixture.js';
import { report, startAnalytics, startIngest } from './support/sdk-stack.js';
import { type Site, startSite } from './support/snippet-origin.js';
import { TcpProxy } from './support/tcp-proxy.js';

const tracking = (cliente: string, n: number, then: string) => `<!doctype html>
<script src="/warren.js" data-cliente="${cliente}"></script>
<script>for (let i = 0; i < ${n}; i++) warren.track(i % 2 ? 'click' : 'view'); ${then}</script>`;

const pages: Record<string, string> = {
  '/leave.html': tracking('snip_nav', 7, "location.href = '/bye.html';"),
  '/close.html': tracking('snip_close', 5, ''),
  '/retry.html': tracking('snip_retry', 6, 'warren.flush();'),
  '/resume.html': '<!doctype html><script src="/warren.js" data-cliente="snip_retry"></script><p>resumed</p>',
  '/bye.html': '<!doctype html><p>bye</p>',
};

describe('browser snippet (warren.js) in Chromium', () => {
  let env: TestEnv;
  let proxy: TcpProxy;
  let browser: Browser;
  let site: Site;
  let aPort: number;
  let ingestUrl: string;
  const children: WarrenProcess[] = [];
  before(async () => {
    const built = spawnSync(process.execPath, ['scripts/build-snippet.mjs'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(built.status, 0, built.stderr);
    env = testEnv('snip');
    proxy = new TcpProxy(await freePort(), { host: '127.0.0.1', port: 5672 });
    await proxy.up();
    aPort = await freePort();
    children.push(await startAnalytics(env, aPort));
    const iPort = await freePort();
    children.push(await startIngest(env, iPort, { AMQP_URL: proxy.url }));
    // Another origin (localhost is not 127.0.0.1): the script and its events come from ingest itself.
    pages['/cross.html'] = `<!doctype html>
<script src="http://localhost:${iPort}/warren.js" data-cliente="snip_cross"></script>
<script>for (let i = 0; i < 4; i++) warren.track('click'); warren.flush();
for (let i = 0; i < 3; i++) warren.track('view'); location.href = '/bye.html';</script>`;
    // The script from the page's own origin, its events to another one named by data-url.
    pages['/data-url.html'] = `<!doctype html>
<script src="/warren.js" data-cliente="snip_dataurl" data-url="http://localhost:${iPort}"></script>
<script>for (let i = 0; i < 3; i++) warren.track('click'); warren.flush();</script>`;
    ingestUrl = `http://localhost:${iPort}`;
    site = await startSite(await freePort(), iPort, pages);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await site?.close();
    await Promise.all(children.map((c) => c.kill('SIGKILL')));
    await proxy.down();
    await env.cleanup();
  });

  it('is under 3 KB gzipped, served with caching headers, and POST /events answers CORS preflights', async () => {
    const file = readFileSync(join(ROOT, 'dist', 'sdk', 'browser', 'warren.min.js'));
    assert.ok(gzipSync(file, { level: 9 }).length < 3072, 'warren.min.js over 3 KB gzipped');
    const res = await fetch(`${site.url}/warren.js`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/);
    assert.match(res.headers.get('cache-control') ?? '', /max-age=\d+/);
    const etag = res.headers.get('etag');
    assert.ok(etag);
    assert.equal(await res.text(), file.toString());
    const again = await fetch(`${site.url}/warren.js`, { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);

    // The CORS preflight a page on another origin makes before POST /events.
    const pre = await fetch(`${site.url}/events`, {
      method: 'OPTIONS',
      headers: {
        origin: 'https://shop.example',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type',
      },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'https://shop.example');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /content-type/);
    assert.doesNotMatch(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
  });

  it('delivers events of a page that navigates away or closes right after tracking', async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/leave.html`);
    await page.waitForURL('**/bye.html');
    const closing = await browser.newPage();
    await closing.goto(`${site.url}/close.html`);
    await closing.close({ runBeforeUnload: true });
    const rep = await waitFor(
      'the pages’ events counted',
      async () => {
        const r = await report(aPort);
        return r.clientes.snip_nav === 7 && r.clientes.snip_close === 5 ? r : undefined;
      },
      20_000,
    );
    assert.equal(rep.clientes.snip_nav, 7);
    assert.equal(rep.clientes.snip_close, 5);
    await page.close();
  });

  it('sends from a page on another origin (CORS), by fetch and by beacon', async () => {
    const page = await browser.newPage();
    await page.goto(`${site.url}/cross.html`);
    await page.waitForURL('**/bye.html');
    await waitFor(
      'the cross-origin events counted',
      async () => (await report(aPort)).clientes.snip_cross === 7,
      20_000,
    );
    await page.close();
  });

  it('sends to the data-url origin, not the page’s own', async () => {
    const page = await browser.newPage();
    const posts: string[] = [];
    page.on('request', (r) => {
      if (r.method() === 'POST') posts.push(r.url());
    });
    const answered = page.waitForResponse(
      (r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/events',
      { timeout: 20_000 },
    );
    await page.goto(`${site.url}/data-url.html`);
    const res = await answered;
    assert.equal(res.url(), `${ingestUrl}/events`);
    assert.equal(res.status(), 202);
    await waitFor(
      'the data-url events counted',
      async () => (await report(aPort)).clientes.snip_dataurl === 3,
      20_000,
    );
    await page.close();
    assert.deepEqual(posts, [`${ingestUrl}/events`], 'one POST, to data-url and not to the page’s origin');
  });

  it('retries with the same ids while the broker is away and carries them to the next page', async () => {
    await proxy.down();
    const page = await browser.newPage();
    const refused = page.waitForResponse((r) => r.url().endsWith('/events') && r.status() === 503);
    const posts: { from: string; ids: string[] }[] = [];
    page.on('request', (r) => {
      if (r.method() !== 'POST' || !r.url().endsWith('/events')) return;
      const events = r.postDataJSON() as { id: string }[];
      posts.push({ from: new URL(r.frame().url()).pathname, ids: events.map((e) => e.id) });
    });
    await page.goto(`${site.url}/retry.html`);
    await refused;
    // Leave while the batch waits for its retry: the beacon meets the same 503, so the tab's next
    // page sends the batch again from sessionStorage, with the same ids.
    await page.goto(`${site.url}/resume.html`);
    await proxy.up();
    await waitFor(
      'the retried events counted',
      async () => (await report(aPort)).clientes.snip_retry === 6,
      30_000,
    );
    // Every copy that was sent (fetch, beacon, the next page) is in by now: still 6.
    await page.evaluate(() => window.warren?.flush());
    await page.close();
    const rep = await report(aPort);
    assert.equal(rep.clientes.snip_retry, 6);
    const first = posts.find((p) => p.from === '/retry.html');
    assert.equal(first?.ids.length, 6);
    assert.equal(new Set(first?.ids).size, 6);
    assert.ok(
      posts.some((p) => p.from === '/resume.html' && p.ids.join() === first?.ids.join()),
      `the next page resent the same ids: ${JSON.stringify(posts)}`,
    );
  });
});
