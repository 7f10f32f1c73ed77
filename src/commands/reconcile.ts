// `warren reconcile`: asks analytics (ANALYTICS_URL) for GET /api/v1/reconcile and prints, per
// client and minute, accepted / uncertain against counted + duplicates + dead letters. Exits 1
// when the equation does not hold (or cannot be shown to yet: events or reports in flight).
import type { ReconcileAnswer, ReconcileRow } from '../analytics/index.js';
import { type CommandSpec, usageError } from '../command.js';
import { WarrenError } from '../errors.js';
import { parseTimestamp } from '../event.js';

const COLS = [
  'accepted',
  'uncertain',
  'counted',
  'duplicates',
  'dead_valid',
  'dead_invalid',
  'unreported',
] as const;

function table(a: ReconcileAnswer): string {
  const head = ['minute (UTC)', 'cliente', ...COLS, 'balanced'];
  const line = (r: Pick<ReconcileRow, (typeof COLS)[number]>, t: string, c: string, ok: string) => [
    t,
    c,
    ...COLS.map((k) => String(r[k])),
    ok,
  ];
  const body = a.rows.map((r) =>
    line(r, r.t ?? '(unknown)', r.cliente ?? '(unknown)', r.balanced ? 'yes' : 'NO'),
  );
  body.push(line(a.totals, 'total', '', a.balanced ? 'yes' : 'NO'));
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  const verdict =
    a.status === 'balanced'
      ? 'balanced'
      : a.status === 'in_flight'
        ? `not settled: ${a.in_flight.events ?? '?'} events and ${a.in_flight.reports ?? '?'} reports in flight; run it again`
        : 'UNBALANCED: events are missing or counted beyond what was accepted';
  const unscanned = a.dead_letters_unscanned
    ? `\n${a.dead_letters_unscanned} dead letters beyond the scan limit were not counted`
    : '';
  return `${fmt(head)}\n${body.map(fmt).join('\n')}\n\n${a.equation}: ${verdict}${unscanned}\n`;
}

function time(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || parseTimestamp(v) === undefined)
    throw usageError(`--${name} must be an RFC 3339 time with a zone, e.g. 2025-04-13T12:00:00Z`);
  return v;
}

export const command: CommandSpec = {
  summary:
    'per client and minute: events accepted vs counted, duplicates and dead letters; exit 1 unless balanced',
  usage: 'warren reconcile [--from TIME] [--to TIME] [--cliente NAME] [--json]',
  options: {
    from: { type: 'string' },
    to: { type: 'string' },
    cliente: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: {
    from: 'first minute (RFC 3339, inclusive)',
    to: 'end (RFC 3339, exclusive)',
    cliente: 'one client only',
    json: 'print the API answer as JSON instead of a table',
  },
  async run({ config, values }) {
    const q = new URLSearchParams();
    const from = time(values.from, 'from');
    const to = time(values.to, 'to');
    if (from) q.set('from', from);
    if (to) q.set('to', to);
    if (typeof values.cliente === 'string') q.set('cliente', values.cliente);
    const url = `${config.analyticsUrl}/api/v1/reconcile${q.size ? `?${q}` : ''}`;
    const headers: Record<string, string> = {};
    if (config.readUser && config.readPassword)
      headers.authorization = `Basic ${Buffer.from(`${config.readUser}:${config.readPassword}`).toString('base64')}`;
    let res: Response;
    try {
      res = await fetch(url, { headers });
    } catch (err) {
      throw new WarrenError(
        'analytics_unavailable',
        `analytics does not answer at ${config.analyticsUrl} (${(err as Error).message}); start it (warren analytics or warren up) or set ANALYTICS_URL`,
        { cause: err },
      );
    }
    const text = await res.text();
    if (res.status === 401 || res.status === 403)
      throw new WarrenError(
        'unauthorized',
        `analytics refused the read (${res.status}) at ${url}: set READ_USER and READ_PASSWORD to the reader's credentials`,
      );
    if (res.status !== 200)
      throw new WarrenError(
        'analytics_unavailable',
        `analytics answered ${res.status} to ${url}: ${text.slice(0, 300)}`,
      );
    const answer = JSON.parse(text) as ReconcileAnswer;
    process.stdout.write(values.json ? `${JSON.stringify(answer)}\n` : table(answer));
    return answer.balanced ? 0 : 1;
  },
};
