// The dashboard: reads the analytics API through the panel's relay, refreshes on every committed
// batch (throttled) and on a slow timer, and keeps showing the last figures, marked stale, while
// analytics is away.

import { alertPoller, renderAlerts } from './alerts.js';
import {
  FetchError,
  fetchReport,
  fetchSeries,
  fetchStatus,
  fetchUsers,
  type Report,
  type Status,
} from './api.js';
import { onBarPick, renderBars } from './bars.js';
import { byId, h } from './dom.js';
import { renderEmpty, wireCopyButtons } from './empty.js';
import { detectLanguage, type Lang, language, setLanguage, t } from './i18n.js';
import { connectStream, throttle } from './live.js';
import { alignUsers, fillSeries, isRange, type Range, type RangeKey, rangeAt } from './range.js';
import { type Health, renderHealth } from './status.js';
import { onSort, renderTable } from './table.js';
import { renderTiles } from './tiles.js';
import { renderTime, type Users, watchLayout } from './timechart.js';
import { narrow } from './view.js';

const STATUS_EVERY_MS = 5000;
const FULL_EVERY_MS = 30_000;
const DOWN_RETRY_MS = 2000;

const hash = new URLSearchParams(location.hash.slice(1));
const state = {
  rangeKey: (isRange(hash.get('range')) ? hash.get('range') : '15m') as RangeKey,
  client: hash.get('client') || null,
  range: undefined as Range | undefined,
  report: undefined as Report | undefined,
  status: undefined as Status | undefined,
  series: undefined as [number[], number[]] | undefined,
  users: undefined as Users | undefined,
  everEmpty: false,
  generation: 0,
  lastAttempt: 0,
  lastFull: 0,
  lastStatus: 0,
  health: { state: 'connecting', failure: undefined, failureMessage: '', lastOk: undefined } as Health,
};

function saveHash(): void {
  const p = new URLSearchParams({ range: state.rangeKey });
  if (state.client) p.set('client', state.client);
  const url = new URL(location.href);
  url.hash = p.toString();
  history.replaceState(null, '', url);
}

function succeeded(): void {
  const wasDown = state.health.state === 'down';
  state.health.failure = undefined;
  state.health.lastOk = Date.now();
  if (wasDown) stream.nudge();
}

function failed(err: unknown): void {
  state.health.failure = err instanceof FetchError ? err.kind : 'panel';
  state.health.failureMessage = err instanceof Error ? err.message : String(err);
}

function updateHealth(): void {
  const hs = state.health;
  if (hs.failure) hs.state = 'down';
  else if (hs.lastOk === undefined) hs.state = 'connecting';
  else hs.state = stream.open ? 'live' : 'polling';
  renderHealth(hs);
}

async function refreshAll(): Promise<void> {
  const gen = state.generation;
  const range = rangeAt(state.rangeKey, Date.now());
  state.lastAttempt = state.lastFull = state.lastStatus = Date.now();
  try {
    // Users come with the other figures, on the same triggers: no poll of their own.
    const [report, series, uniques, status] = await Promise.all([
      fetchReport(range.fromIso),
      fetchSeries(range.fromIso, range.bucket, state.client ?? undefined),
      fetchUsers(range.fromIso, range.bucket, state.client ?? undefined),
      fetchStatus(),
    ]);
    const everEmpty = report.total === 0 ? (await fetchReport()).total === 0 : false;
    succeeded();
    // A choice made while this was in flight has its own refresh queued; do not show old data.
    if (gen === state.generation) {
      const filled = fillSeries(series.points, range);
      const users = { total: uniques.usuarios, perBucket: alignUsers(uniques.points ?? [], filled[0]) };
      Object.assign(state, { range, report, status, everEmpty, series: filled, users });
    }
  } catch (err) {
    failed(err);
  }
  render();
}

async function refreshStatus(): Promise<void> {
  state.lastStatus = Date.now();
  try {
    state.status = await fetchStatus();
    succeeded();
  } catch (err) {
    failed(err);
  }
  render();
}

const refresh = throttle(refreshAll, 400);
const alerts = alertPoller(renderAlerts);

function renderClientOptions(): void {
  const select = byId<HTMLSelectElement>('client');
  const names = new Set((state.report?.clientes ?? []).map((c) => c.cliente));
  if (state.client) names.add(state.client);
  const wanted = ['', ...[...names].sort((a, b) => a.localeCompare(b))];
  const have = [...select.options].map((o) => o.value);
  const allText = t('client.all');
  // Rebuild only when the list changed, so an open or focused select is left alone.
  if (wanted.join('\n') !== have.join('\n') || select.options[0]?.textContent !== allText) {
    select.replaceChildren(...wanted.map((v) => h('option', { value: v }, v === '' ? allText : v)));
  }
  select.value = state.client ?? '';
}

function render(): void {
  const range = state.range ?? rangeAt(state.rangeKey, Date.now());
  const clientes = narrow(state.report, state.client);
  const usuarios = state.users?.total;
  renderTiles({
    range,
    client: state.client,
    report: state.report,
    clientes,
    status: state.status,
    usuarios,
  });
  renderBars(clientes, state.client);
  renderTable(clientes);
  if (state.series) renderTime(range, ...state.series, state.users);
  renderEmpty(state.report !== undefined && state.report.total === 0, state.everEmpty, range.key);
  renderClientOptions();
  renderAlerts(alerts.state);
  updateHealth();
}

function choose(change: Partial<{ rangeKey: RangeKey; client: string | null }>): void {
  Object.assign(state, change);
  state.generation++;
  saveHash();
  render();
  refresh();
}

function wireControls(): void {
  for (const input of document.querySelectorAll<HTMLInputElement>('input[name="range"]')) {
    input.checked = input.value === state.rangeKey;
    input.addEventListener('change', () => {
      if (input.checked && isRange(input.value)) choose({ rangeKey: input.value });
    });
  }
  byId<HTMLSelectElement>('client').addEventListener('change', (e) => {
    choose({ client: (e.target as HTMLSelectElement).value || null });
  });
  onBarPick((client) => choose({ client }));
  onSort(render);
  byId('lang').addEventListener('click', () => {
    const next: Lang = language() === 'en' ? 'es' : 'en';
    localStorage.setItem('warren.lang', next);
    setLanguage(next);
    render();
  });
  wireCopyButtons();
}

function tick(): void {
  const now = Date.now();
  // While analytics is down the page's retries find it back; alerts wait for that.
  if (state.health.state !== 'down') alerts.tick(now);
  const bucketMoved = state.range !== undefined && rangeAt(state.rangeKey, now).lastS !== state.range.lastS;
  if (state.health.state === 'down') {
    if (now - state.lastAttempt >= DOWN_RETRY_MS) refresh();
  } else if (bucketMoved || now - state.lastFull >= FULL_EVERY_MS) {
    refresh();
  } else if (now - state.lastStatus >= STATUS_EVERY_MS) {
    // Without the stream, poll everything; with it, only the figures that change without a batch.
    if (stream.open) void refreshStatus();
    else refresh();
  }
}

function sendUrl(): string {
  // Behind Traefik the gateway shares this origin; opened directly, the seed's address applies.
  const base = new URL(document.baseURI);
  return base.pathname === '/' ? 'http://localhost:8000/send' : `${location.origin}/send`;
}

setLanguage(detectLanguage(localStorage.getItem('warren.lang'), navigator.languages ?? [navigator.language]));
byId('empty-curl').textContent =
  `curl -X POST ${sendUrl()} -H "Content-Type: application/json" -d '{"message": "mensaje de prueba"}'`;
const stream = connectStream('api/stream', {
  onOpen: () => {
    updateHealth();
    refresh();
    alerts.now();
  },
  onBatch: () => {
    byId('conn').classList.remove('pulse');
    void byId('conn').offsetWidth;
    byId('conn').classList.add('pulse');
    refresh();
  },
  onDrop: () => {
    updateHealth();
    // A dropped stream often means analytics went away: find out now, not at the next poll.
    refresh();
  },
});
wireControls();
watchLayout();
render();
refresh();
setInterval(tick, 1000);
