// Events per client as horizontal bars, largest first; past LIMIT the rest fold into one
// "others" bar. Each client's bar is a button that sets (or clears) the client filter. A client
// whose events carry a usuario shows its distinct users beside its count (the report's
// `usuarios`); users are per client, so the "others" bar's users are the sum of its clients'.
import type { ReportClient } from './api.js';
import { byId, fmtInt, h } from './dom.js';
import { t } from './i18n.js';

export const LIMIT = 8;

interface Row {
  label: string;
  total: number;
  client: string | null;
  usuarios?: number | undefined;
}

export function fold(clientes: ReportClient[], limit = LIMIT): Row[] {
  const sorted = [...clientes].sort((a, b) => b.total - a.total || a.cliente.localeCompare(b.cliente));
  const one = (c: ReportClient): Row => ({
    label: c.cliente,
    total: c.total,
    client: c.cliente,
    usuarios: c.usuarios,
  });
  if (sorted.length <= limit) return sorted.map(one);
  const head = sorted.slice(0, limit - 1);
  const rest = sorted.slice(limit - 1);
  const withUsers = rest.filter((c) => c.usuarios !== undefined);
  return [
    ...head.map(one),
    {
      label: t('bars.others', { n: fmtInt(rest.length) }),
      total: rest.reduce((s, c) => s + c.total, 0),
      client: null,
      usuarios: withUsers.length ? withUsers.reduce((s, c) => s + (c.usuarios ?? 0), 0) : undefined,
    },
  ];
}

function usersText(n: number | undefined): string {
  if (n === undefined) return '';
  return n === 1 ? t('bars.user1') : t('bars.users', { n: fmtInt(n) });
}

function bar(row: Row, max: number, selected: string | null): HTMLElement {
  const fill = h('span', { class: 'bar-fill' });
  // Width through the CSSOM (allowed by the page's CSP, unlike a style attribute).
  fill.style.width = `${max > 0 ? Math.max(0.5, (row.total / max) * 100) : 0}%`;
  const parts = [
    h('span', { class: 'bar-name' }, row.label),
    h('span', { class: 'bar-track', 'aria-hidden': 'true' }, fill),
    h('span', { class: 'bar-value' }, fmtInt(row.total)),
    h('span', { class: 'bar-users' }, usersText(row.usuarios)),
  ];
  if (row.client === null) return h('li', { class: 'bar others' }, h('span', { class: 'bar-row' }, ...parts));
  const pressed = selected === row.client;
  const button = h(
    'button',
    {
      type: 'button',
      class: 'bar-row',
      'data-client': row.client,
      'aria-pressed': String(pressed),
      title: pressed ? t('bars.unfilter') : t('bars.filter', { client: row.client }),
    },
    ...parts,
  );
  return h('li', { class: 'bar' }, button);
}

export function renderBars(clientes: ReportClient[], selected: string | null): void {
  const list = byId('bars');
  const rows = fold(clientes);
  const max = rows.reduce((m, r) => Math.max(m, r.total), 0);
  // Live refreshes rebuild the list; keep keyboard focus on the same client's bar.
  const focused = list.contains(document.activeElement)
    ? (document.activeElement as HTMLElement).dataset.client
    : undefined;
  list.replaceChildren(...rows.map((r) => bar(r, max, selected)));
  list.classList.toggle(
    'with-users',
    rows.some((r) => r.usuarios !== undefined),
  );
  if (focused !== undefined) {
    list.querySelector<HTMLElement>(`button[data-client="${CSS.escape(focused)}"]`)?.focus();
  }
}

/** Calls onPick with a client's name (or null to clear) when a bar is chosen. */
export function onBarPick(onPick: (client: string | null) => void): void {
  byId('bars').addEventListener('click', (e) => {
    const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-client]');
    if (!button) return;
    const client = button.dataset.client ?? null;
    onPick(button.getAttribute('aria-pressed') === 'true' ? null : client);
  });
}
