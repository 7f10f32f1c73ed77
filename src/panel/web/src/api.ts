// The analytics API as the panel relays it (relative `api/...` paths: they resolve against the
// page's <base>, so they work at /panel, /panel/ and directly on the panel's port).

// The answers' types are analytics' own (src/analytics/shapes.ts), imported as types only: the
// page's bundle takes nothing from analytics but these names.
import type {
  Point,
  Report,
  ReportClient,
  Status,
  Timeseries,
  UniquesAnswer,
} from '../../../analytics/index.js';

export type { Point, Report, ReportClient, Status };
export type Series = Timeseries;
export type Users = UniquesAnswer;

/** Which side failed: analytics (the relay said so) or the panel server itself. */
export type FailureKind = 'analytics' | 'panel';

export class FetchError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 6000;

async function getJson<T>(path: string, params: Record<string, string | undefined> = {}): Promise<T> {
  const url = new URL(path, document.baseURI);
  for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, v);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS), cache: 'no-store' });
  } catch (err) {
    throw new FetchError('panel', err instanceof Error ? err.message : String(err));
  }
  const body = (await res.json().catch(() => undefined)) as { error?: string; message?: string } | undefined;
  if (!res.ok) {
    // 503 comes from the relay (analytics unreachable) or from analytics (store not ready).
    const kind = res.status === 503 || body?.error === 'analytics_unavailable' ? 'analytics' : 'panel';
    throw new FetchError(kind, body?.message ?? `HTTP ${res.status}`);
  }
  if (body === undefined) throw new FetchError('panel', 'the answer was not JSON');
  return body as T;
}

export function fetchReport(from?: string): Promise<Report> {
  return getJson<Report>('api/report', { from });
}

export function fetchSeries(from: string, bucket: string, cliente?: string): Promise<Series> {
  return getJson<Series>('api/timeseries', { from, bucket, cliente });
}

/** Distinct users (usuario) in the range, and per bucket: the chart's users line. */
export function fetchUsers(from: string, bucket: string, cliente?: string): Promise<Users> {
  return getJson<Users>('api/uniques', { from, bucket, cliente });
}

export function fetchStatus(): Promise<Status> {
  return getJson<Status>('api/status');
}

// The alerts answer (GET /api/v1/alerts). Declared here rather than imported: analytics' shapes
// for it are built on another branch, and the fields below are the agreed shape.
export interface AlertRule {
  id: string;
  kind: 'silence' | 'threshold' | 'dead_letters';
  cliente?: string;
  evento?: string;
  minutes?: number;
  above?: number;
  below?: number;
  /** dead_letters: fire when valid (replayable) events were dead-lettered. */
  valid?: boolean;
  webhook: string;
  format: 'json' | 'slack';
  created: string;
  state: 'ok' | 'firing';
  /** While firing, the episode's start. */
  since?: string;
}

export interface Firing {
  id: string;
  rule: string;
  kind: AlertRule['kind'];
  state: 'fired' | 'resolved';
  episode_start: string;
  at: string;
  summary: string;
}

export interface Alerts {
  rules: AlertRule[];
  /** Newest first, at most 100. */
  firings: Firing[];
}

/** What the relay answers when analytics has no alerts endpoint (an older analytics: 404). */
export interface AlertsUnavailable {
  available: false;
}

export function fetchAlerts(): Promise<Alerts | AlertsUnavailable> {
  return getJson<Alerts | AlertsUnavailable>('api/alerts');
}
