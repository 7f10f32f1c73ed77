// The headline tiles. Queue, dead-letter, duplicate and rate figures belong to the whole pipeline
// (analytics reports them per queue, not per client), and their notes say so.

import type { Status } from './api.js';
import { byId, fmtInt, fmtRate } from './dom.js';
import { type TextKey, t } from './i18n.js';
import type { View } from './view.js';

function setTile(id: string, value: string, note: string, warn = false): void {
  const tile = byId(id);
  const v = tile.querySelector('.tile-value');
  const n = tile.querySelector('.tile-note');
  if (v) v.textContent = value;
  if (n) n.textContent = note;
  tile.classList.toggle('warn', warn);
}

function consumersNote(n: number | null | undefined): string {
  if (n === null || n === undefined) return t('tile.unknown');
  if (n === 0) return t('tile.consumers0');
  return n === 1 ? t('tile.consumers1') : t('tile.consumersN', { n: fmtInt(n) });
}

/** The dead-letter tile's note: valid events (replayable) apart from invalid messages. */
export function dlqNote(s: Pick<Status, 'deadLettersDetail'> | undefined): string {
  const d = s?.deadLettersDetail;
  if (!d || d.valid + d.invalid + d.unscanned === 0) return t('tile.dlqNote');
  return t('tile.dlqKinds', { valid: fmtInt(d.valid), invalid: fmtInt(d.invalid) });
}

export function renderTiles(v: View): void {
  const total = v.clientes.reduce((s, c) => s + c.total, 0);
  const rangeText = t(`range.${v.range.key}.in` as TextKey);
  setTile('tile-total', v.report ? fmtInt(total) : '—', t('tile.totalNote', { range: rangeText }));

  const clientsLabel = byId('tile-clients').querySelector('.tile-label');
  if (v.client === null) {
    if (clientsLabel) clientsLabel.textContent = t('tile.clients');
    setTile('tile-clients', v.report ? fmtInt(v.clientes.length) : '—', t('tile.clientsNote'));
  } else {
    if (clientsLabel) clientsLabel.textContent = t('tile.types');
    const types = v.clientes.reduce((s, c) => s + Object.keys(c.eventos).length, 0);
    setTile('tile-clients', fmtInt(types), t('tile.typesNote', { client: v.client }));
  }

  // Zero users with events in range means the events carry no usuario: say that, not "0".
  const hasUsers = v.usuarios !== undefined && (v.usuarios > 0 || total === 0);
  setTile(
    'tile-users',
    v.usuarios === undefined ? '—' : hasUsers ? fmtInt(v.usuarios) : '—',
    t(hasUsers || v.usuarios === undefined ? 'tile.usersNote' : 'tile.usersNone', { range: rangeText }),
  );

  const s = v.status;
  setTile('tile-eps', fmtRate(s?.eventsPerSecond), t('tile.epsNote'));
  setTile('tile-dups', fmtInt(s?.duplicates), t('tile.dupsNote'));
  setTile('tile-dlq', fmtInt(s?.deadLetters), dlqNote(s), (s?.deadLetters ?? 0) > 0);
  setTile(
    'tile-queue',
    fmtInt(s?.queue.messages),
    consumersNote(s?.queue.consumers),
    s !== undefined && s.queue.consumers === 0,
  );
}
