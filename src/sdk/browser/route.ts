// GET /warren.js: the browser snippet, served by ingest so a page can load it from the same origin
// its events go to (no CORS needed). Held in memory with a gzip copy and an ETag; browsers cache
// it for an hour and then revalidate (the URL carries no version, so the cache stays short).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { WarrenError } from '../../errors.js';

interface Snippet {
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Where scripts/build-snippet.mjs writes it, whether this runs from dist/ (tsc) or src/ (tsx). */
export function defaultSnippetPath(): string {
  const here = import.meta.dirname;
  const candidates = [
    join(here, 'warren.min.js'),
    join(here, '..', '..', '..', 'dist', 'sdk', 'browser', 'warren.min.js'),
  ];
  return candidates.find((p) => existsSync(p)) ?? (candidates[0] as string);
}

function load(path: string): Snippet | undefined {
  if (!existsSync(path)) return undefined;
  const body = readFileSync(path);
  const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
  return { body, gzip: gzipSync(body, { level: 9 }), etag };
}

/**
 * CORS for POST /events (Fetch standard, "CORS protocol"), so a page on another origin can send
 * with the snippet. The origin is echoed with Allow-Credentials because sendBeacon always sends in
 * credentials mode "include"; that grants nothing, as ingest reads no cookies. Authorization is not
 * an allowed header: an API key has no place in a public page, so keyed mode stays server-to-server.
 */
function allowCrossOrigin(app: FastifyInstance): void {
  // Callback style: every request passes this hook, and an async one costs a promise and a microtask.
  app.addHook('onRequest', (req, reply, done) => {
    const origin = req.headers.origin;
    if (origin !== undefined && req.url.split('?')[0] === '/events') {
      reply
        .header('access-control-allow-origin', origin)
        .header('access-control-allow-credentials', 'true')
        .header('vary', 'origin');
    }
    done();
  });
  app.options('/events', { schema: { hide: true } }, async (_req, reply) =>
    reply
      .header('access-control-allow-methods', 'POST')
      .header('access-control-allow-headers', 'content-type, idempotency-key, x-client-name')
      .header('access-control-max-age', '86400')
      .status(204)
      .send(),
  );
}

/** GET /warren.js, and CORS for POST /events so the snippet also works from other origins. */
export function registerSnippet(app: FastifyInstance, path = defaultSnippetPath()): void {
  allowCrossOrigin(app);
  // Loaded at the first request, so ingest starts (and serves events) even before it is built.
  let snippet: Snippet | undefined;
  // Hidden from the API documentation: it is a static asset, not part of the API.
  app.get('/warren.js', { schema: { hide: true } }, async (req, reply) => {
    snippet ??= load(path);
    if (!snippet) {
      throw new WarrenError(
        'not_found',
        'The browser snippet is not built; run `node scripts/build-snippet.mjs` (npm start does it).',
        { status: 404 },
      );
    }
    reply
      .header('content-type', 'text/javascript; charset=utf-8')
      .header('cache-control', 'public, max-age=3600')
      .header('etag', snippet.etag)
      .header('vary', 'accept-encoding')
      // Pages that isolate themselves (Cross-Origin-Embedder-Policy) may still load it.
      .header('cross-origin-resource-policy', 'cross-origin');
    if (req.headers['if-none-match'] === snippet.etag) return reply.status(304).send();
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) {
      return reply.header('content-encoding', 'gzip').send(snippet.gzip);
    }
    return reply.send(snippet.body);
  });
}
