// Event types per client: a table sortable by any column (header buttons, aria-sort).
import type { ReportClient } from './api.js';
import { byId, fmtInt, fmtPercent, h } from './dom.js';
import { t } from './i18n.js';

type Column = 'client' | 'event' | 'count' | 'share';
interface Row {
  client: string;
  event: string;
  count: number;
  share: number;
  clientTotal: number;
}

const MAX_ROWS = 200;
let sortBy: Column = 'count';
let descending = true;

function rows(clientes: ReportClient[]): Row[] {
  return clientes.flatMap((c) =>
    Object.entries(c.eventos).map(([event, count]) => ({
      client: c.cliente,
      event,
      count,
      share: c.total > 0 ? count / c.total : 0,
      clientTotal: c.total,
    })),
  );
}

function compare(a: Row, b: Row): number {
  const byText = (x: string, y: string) => x.localeCompare(y);
  const primary =
    sortBy === 'client'
      ? byText(a.client, b.client)
      : sortBy === 'event'
        ? byText(a.event, b.event)
        : sortBy === 'count'
          ? a.count - b.count
          : a.share - b.share;
  const d = descending ? -primary : primary;
  // Ties keep a stable, readable order.
  return d || b.count - a.count || byText(a.client, b.client) || byText(a.event, b.event);
}

function renderHead(): void {
  for (const th of byId('types').querySelectorAll<HTMLTableCellElement>('th[data-col]')) {
    const col = th.dataset.col as Column;
    th.setAttribute('aria-sort', col === sortBy ? (descending ? 'descending' : 'ascending') : 'none');
  }
}

export function renderTable(clientes: ReportClient[]): void {
  renderHead();
  const all = rows(clientes).sort(compare);
  const shown = all.slice(0, MAX_ROWS);
  const body = byId('types-body');
  if (shown.length === 0) {
    body.replaceChildren(h('tr', {}, h('td', { colspan: 4, class: 'none' }, t('table.none'))));
  } else {
    body.replaceChildren(
      ...shown.map((r) =>
        h(
          'tr',
          {},
          h('td', {}, r.client),
          h('td', {}, r.event),
          h('td', { class: 'num' }, fmtInt(r.count)),
          h('td', { class: 'num' }, fmtPercent(r.count, r.clientTotal)),
        ),
      ),
    );
  }
  const more = byId('types-more');
  more.hidden = all.length <= MAX_ROWS;
  more.textContent = t('table.more', { shown: fmtInt(shown.length), n: fmtInt(all.length) });
}

/** Header buttons sort by their column; choosing the same column again flips the order. */
export function onSort(rerender: () => void): void {
  byId('types').addEventListener('click', (e) => {
    const th = (e.target as HTMLElement).closest<HTMLTableCellElement>('th[data-col]');
    if (!th || !(e.target as HTMLElement).closest('button')) return;
    const col = th.dataset.col as Column;
    if (col === sortBy) descending = !descending;
    else {
      sortBy = col;
      descending = col === 'count' || col === 'share';
    }
    rerender();
  });
}
