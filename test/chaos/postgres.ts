// The local PostgreSQL cluster, restarted for real by scenario 4 (`pg_ctlcluster restart`: every
// connection is dropped, the server goes away for a moment, then accepts connections again).
// The chaos suite runs alone and serially, so no other test sees the restart.

import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { PG_URL, waitFor } from '../support/helpers.js';

/** The newest cluster version under /etc/postgresql (e.g. "15"). */
export function pgVersion(): string {
  const versions = readdirSync('/etc/postgresql')
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a));
  if (!versions[0]) throw new Error('no PostgreSQL cluster under /etc/postgresql');
  return versions[0];
}

function ctl(action: 'restart' | 'start'): void {
  const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', pgVersion(), 'main', action], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.status !== 0) throw new Error(`pg_ctlcluster ${action} failed: ${r.stderr}${r.stdout}`);
}

async function answers(): Promise<boolean> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** Restarts the cluster and waits until it answers; returns the seconds it took. */
export async function restartPostgres(): Promise<number> {
  const t0 = Date.now();
  ctl('restart');
  await waitFor('PostgreSQL back after the restart', answers, 60_000, 100);
  return (Date.now() - t0) / 1000;
}

/** Starts the cluster when it is not online (also after a failed scenario) and waits for it. */
export async function ensurePostgresUp(): Promise<void> {
  const ok = await answers().catch(() => false);
  if (ok) return;
  const ls = spawnSync('pg_lsclusters', ['--no-header'], { encoding: 'utf8' });
  if (!/\bonline\b/.test(ls.stdout ?? '')) ctl('start');
  await waitFor('PostgreSQL up', answers, 60_000, 200);
}
