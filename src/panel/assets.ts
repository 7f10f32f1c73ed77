// The page's built files (scripts/build-panel.mjs writes them to src/panel/web/dist), held in
// memory with a gzip copy and an ETag: the bundle is small, and this avoids a static-file plugin.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { WarrenError } from '../errors.js';

export interface Asset {
  body: Buffer;
  gzip: Buffer | undefined;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Where the built page lives, whether this runs from src/ (tsx) or from dist/ (tsc). */
export function defaultAssetsDir(): string {
  const here = import.meta.dirname;
  const candidates = [join(here, 'web', 'dist'), join(here, '..', '..', 'src', 'panel', 'web', 'dist')];
  return candidates.find((d) => existsSync(join(d, 'index.html'))) ?? (candidates[0] as string);
}

function asset(body: Buffer, type: string): Asset {
  // Compressing tiny files costs more than it saves.
  const gzip = body.length > 1024 && !type.startsWith('image/png') ? gzipSync(body, { level: 9 }) : undefined;
  const etag = `"${createHash('sha1').update(body).digest('base64url').slice(0, 20)}"`;
  return { body, gzip, type, etag };
}

export function loadAssets(dir: string): Map<string, Asset> {
  if (!existsSync(join(dir, 'index.html'))) {
    throw new WarrenError(
      'config',
      `the panel's page is not built (no ${join(dir, 'index.html')}); run \`node scripts/build-panel.mjs\` (npm start does it)`,
    );
  }
  const out = new Map<string, Asset>();
  for (const name of readdirSync(dir)) {
    const type = TYPES[extname(name)];
    if (type) out.set(name, asset(readFileSync(join(dir, name)), type));
  }
  return out;
}

const PREFIX_RE = /^\/[A-Za-z0-9._~/-]{0,200}$/;

/**
 * The page's base URL. Traefik's stripPrefix middleware removes `/panel` and sets
 * X-Forwarded-Prefix, so the server sees `/` for both `/panel` and `/panel/`; a `<base>` of
 * `/panel/` makes every relative URL (assets, api/..., the stream) resolve under the prefix
 * in both cases. Anything unexpected in the header falls back to `/`.
 */
export function baseHref(forwardedPrefix: string | string[] | undefined): string {
  const raw = (Array.isArray(forwardedPrefix) ? forwardedPrefix[0] : forwardedPrefix)?.split(',')[0]?.trim();
  // No `..` and no `//` (a protocol-relative base would load the page's scripts from elsewhere).
  if (!raw || !PREFIX_RE.test(raw) || raw.includes('..') || raw.includes('//')) return '/';
  return `${raw.replace(/\/+$/, '')}/`;
}

/** index.html with its base filled in (a fresh Asset per distinct prefix, cached). */
export function indexFor(template: Asset, base: string, cache: Map<string, Asset>): Asset {
  let a = cache.get(base);
  if (!a) {
    a = asset(Buffer.from(template.body.toString('utf8').replace('%BASE%', base)), template.type);
    if (cache.size < 32) cache.set(base, a);
  }
  return a;
}
