// The connection line in the header and the page's data-state: live, polling (figures fresh,
// stream reconnecting), down (analytics or the panel not answering: the figures are stale).
import type { FailureKind } from './api.js';
import { byId, fmtTime } from './dom.js';
import { t } from './i18n.js';

export type ConnState = 'connecting' | 'live' | 'polling' | 'down';

export interface Health {
  state: ConnState;
  failure: FailureKind | undefined;
  failureMessage: string;
  lastOk: number | undefined;
}

export function renderHealth(h: Health): void {
  document.body.dataset.state = h.state;
  const when = h.lastOk === undefined ? t('state.never') : fmtTime(h.lastOk);
  const title = byId('conn-title');
  const detail = byId('conn-detail');
  byId('conn').dataset.state = h.state;
  switch (h.state) {
    case 'connecting':
      title.textContent = t('state.connecting');
      detail.textContent = '';
      break;
    case 'live':
      title.textContent = t('state.live');
      detail.textContent = t('state.liveDetail', { time: when });
      break;
    case 'polling':
      title.textContent = t('state.polling');
      detail.textContent = t('state.pollingDetail', { time: when });
      break;
    case 'down':
      title.textContent = h.failure === 'panel' ? t('state.panelDown') : t('state.down');
      detail.textContent = t('state.downDetail', { time: when });
      break;
  }
  const alert = byId('down-alert');
  alert.hidden = h.state !== 'down';
  byId('down-title').textContent = h.failure === 'panel' ? t('state.panelDown') : t('state.down');
  byId('down-reason').textContent = h.state === 'down' ? h.failureMessage : '';
  // Figures that stopped updating look it, and say it to assistive technology.
  byId('main').classList.toggle('stale', h.state === 'down');
}
