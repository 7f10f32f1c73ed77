// Events over time: a uPlot line chart of counts per bucket, and a second line of distinct users
// per bucket (GET /api/v1/uniques) while the range has any. Both share the y axis: a bucket's
// users are at most its events. The canvas is summarised in text (the figure's caption) for screen
// readers; hovering shows the bucket under the pointer.
import uPlot from 'uplot';
import { byId, fmtInt } from './dom.js';
import { language, t } from './i18n.js';
import type { Range } from './range.js';

const HEIGHT = 260;
const INCRS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8,
];

let chart: uPlot | undefined;
let bucketS = 60;
/** Whether the users line is drawn (the range has users); uPlot keeps the flag per series. */
let usersShown = false;

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function fmtBucket(seconds: number, hourly: boolean): string {
  const opts: Intl.DateTimeFormatOptions = { hour: 'numeric', minute: '2-digit' };
  if (hourly) Object.assign(opts, { weekday: 'short', day: 'numeric' });
  return new Intl.DateTimeFormat(language(), opts).format(seconds * 1000);
}

/** Axis ticks in the page's language: days when ticks are a day or more apart, else hh:mm. */
function tickLabel(seconds: number, incr: number): string {
  const opts: Intl.DateTimeFormatOptions =
    incr >= 86_400 ? { weekday: 'short', day: 'numeric' } : { hour: 'numeric', minute: '2-digit' };
  return new Intl.DateTimeFormat(language(), opts).format(seconds * 1000);
}

function readout(u: uPlot): void {
  const i = u.cursor.idx;
  const x = i === null || i === undefined ? undefined : u.data[0][i];
  const y = i === null || i === undefined ? undefined : u.data[1]?.[i];
  const users = i === null || i === undefined ? undefined : u.data[2]?.[i];
  const at = x === undefined ? '' : fmtBucket(x, bucketS >= 3600);
  byId('time-readout').textContent =
    x === undefined || y === undefined || y === null
      ? '\u00a0'
      : usersShown && users !== undefined && users !== null
        ? t('time.readoutUsers', { at, n: fmtInt(y), u: fmtInt(users) })
        : t('time.readout', { at, n: fmtInt(y) });
}

function create(host: HTMLElement, data: uPlot.AlignedData): uPlot {
  const text = cssVar('--muted');
  const grid = cssVar('--grid');
  const accent = cssVar('--accent');
  const users = cssVar('--users');
  const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
  const opts: uPlot.Options = {
    width: Math.max(200, host.clientWidth),
    height: HEIGHT,
    legend: { show: false },
    cursor: { y: false, points: { size: 7 } },
    scales: { y: { range: (_u, _min, max) => [0, Math.max(4, Math.ceil(max * 1.15))] } },
    axes: [
      {
        ...axis,
        font: '12px system-ui, sans-serif',
        // Room for a label like "12:45 PM" or "Mon 14" between ticks.
        space: 72,
        values: (_u, splits, _i, _space, incr) => splits.map((s) => tickLabel(s, incr)),
      },
      {
        ...axis,
        font: '12px system-ui, sans-serif',
        incrs: INCRS,
        size: 52,
        values: (_u, splits) => splits.map((v) => fmtInt(v)),
      },
    ],
    series: [
      {},
      {
        label: t('time.title'),
        stroke: accent,
        width: 2,
        fill: cssVar('--accent-fill'),
        points: { show: (u) => (u.data[0]?.length ?? 0) <= 30, size: 5, fill: accent },
      },
      {
        label: t('time.users'),
        show: usersShown,
        stroke: users,
        width: 2,
        dash: [6, 3],
        points: { show: (u) => (u.data[0]?.length ?? 0) <= 30, size: 5, fill: users },
      },
    ],
    hooks: { setCursor: [readout] },
  };
  return new uPlot(opts, data, host);
}

function peakAt(ys: number[]): number {
  let peak = 0;
  for (let i = 1; i < ys.length; i++) if ((ys[i] ?? 0) > (ys[peak] ?? 0)) peak = i;
  return peak;
}

function caption(range: Range, xs: number[], ys: number[], users: Users | undefined): string {
  const total = ys.reduce((s, y) => s + y, 0);
  const rangeText = t(`range.${range.key}.in` as 'range.1h.in');
  if (total === 0) return t('time.summaryEmpty', { range: rangeText });
  const hourly = range.bucketS >= 3600;
  const bucket = t(hourly ? 'time.hour' : 'time.minute');
  const peak = peakAt(ys);
  const events = t('time.summary', {
    total: fmtInt(total),
    range: rangeText,
    bucket,
    peak: fmtInt(ys[peak] ?? 0),
    at: fmtBucket(xs[peak] ?? 0, hourly),
  });
  if (!users || users.total === 0) return events;
  const up = peakAt(users.perBucket);
  const said = t('time.usersSummary', {
    users: fmtInt(users.total),
    range: rangeText,
    bucket,
    peak: fmtInt(users.perBucket[up] ?? 0),
    at: fmtBucket(xs[up] ?? 0, hourly),
  });
  return `${events} ${said}`;
}

/** The users line: distinct users in the whole range, and per bucket on the chart's buckets. */
export interface Users {
  total: number;
  perBucket: number[];
}

export function renderTime(range: Range, xs: number[], ys: number[], users?: Users): void {
  const host = byId('time-chart');
  bucketS = range.bucketS;
  const show = users !== undefined && users.total > 0;
  const data: uPlot.AlignedData = [xs, ys, show ? users.perBucket : xs.map(() => null)];
  if (!chart) {
    usersShown = show;
    chart = create(host, data);
  } else {
    chart.setData(data);
    if (show !== usersShown) {
      usersShown = show;
      chart.setSeries(2, { show });
    }
  }
  byId('legend-users').hidden = !show;
  host.dataset.users = show ? users.perBucket.join(',') : '';
  const total = ys.reduce((s, y) => s + y, 0);
  const text = caption(range, xs, ys, users);
  byId('time-caption').textContent = text;
  host.setAttribute('aria-label', text);
  host.dataset.total = String(total);
  byId('time-unit').textContent = t(range.bucketS >= 3600 ? 'time.perHour' : 'time.perMinute');
}

/** Keeps the chart as wide as its card, and rebuilds it when the colour scheme changes. */
export function watchLayout(): void {
  const host = byId('time-chart');
  new ResizeObserver(() =>
    chart?.setSize({ width: Math.max(200, host.clientWidth), height: HEIGHT }),
  ).observe(host);
  matchMedia('(prefers-color-scheme: dark)').addEventListener('change', () => {
    if (!chart) return;
    const data = chart.data;
    chart.destroy();
    chart = create(host, data);
  });
}
