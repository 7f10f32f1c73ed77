// Events over time: a uPlot line chart of counts per bucket. The canvas is summarised in text
// (the figure's caption) for screen readers; hovering shows the bucket under the pointer.
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
  byId('time-readout').textContent =
    x === undefined || y === undefined || y === null
      ? '\u00a0'
      : t('time.readout', { at: fmtBucket(x, bucketS >= 3600), n: fmtInt(y) });
}

function create(host: HTMLElement, data: uPlot.AlignedData): uPlot {
  const text = cssVar('--muted');
  const grid = cssVar('--grid');
  const accent = cssVar('--accent');
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
    ],
    hooks: { setCursor: [readout] },
  };
  return new uPlot(opts, data, host);
}

function caption(range: Range, xs: number[], ys: number[]): string {
  const total = ys.reduce((s, y) => s + y, 0);
  const rangeText = t(`range.${range.key}.in` as 'range.1h.in');
  if (total === 0) return t('time.summaryEmpty', { range: rangeText });
  let peak = 0;
  for (let i = 1; i < ys.length; i++) if ((ys[i] ?? 0) > (ys[peak] ?? 0)) peak = i;
  return t('time.summary', {
    total: fmtInt(total),
    range: rangeText,
    bucket: t(range.bucketS >= 3600 ? 'time.hour' : 'time.minute'),
    peak: fmtInt(ys[peak] ?? 0),
    at: fmtBucket(xs[peak] ?? 0, range.bucketS >= 3600),
  });
}

export function renderTime(range: Range, xs: number[], ys: number[]): void {
  const host = byId('time-chart');
  bucketS = range.bucketS;
  const data: uPlot.AlignedData = [xs, ys];
  if (!chart) chart = create(host, data);
  else chart.setData(data);
  const total = ys.reduce((s, y) => s + y, 0);
  const text = caption(range, xs, ys);
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
