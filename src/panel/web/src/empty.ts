// The empty state: how to send a first event (the seed's curl), or a hint to widen the range.
import { byId } from './dom.js';
import { type TextKey, t } from './i18n.js';
import type { RangeKey } from './range.js';

/** `everEmpty`: analytics has counted nothing at all; otherwise only this range is empty. */
export function renderEmpty(show: boolean, everEmpty: boolean, range: RangeKey): void {
  const box = byId('empty');
  box.hidden = !show;
  if (!show) return;
  const rangeText = t(`range.${range}.in` as TextKey);
  byId('empty-title').textContent = everEmpty
    ? t('empty.title')
    : t('empty.rangeTitle', { range: rangeText });
  byId('empty-body').textContent = everEmpty ? t('empty.body') : t('empty.rangeBody');
  byId('empty-client-wrap').hidden = !everEmpty;
}

/** Copy buttons copy the text of the element they name in data-copy. */
export function wireCopyButtons(): void {
  document.addEventListener('click', (e) => {
    const button = (e.target as HTMLElement).closest<HTMLButtonElement>('button[data-copy]');
    if (!button) return;
    const text = document.getElementById(button.dataset.copy ?? '')?.textContent ?? '';
    void navigator.clipboard?.writeText(text).then(() => {
      button.textContent = t('copy.done');
      setTimeout(() => {
        button.textContent = t('copy.label');
      }, 1500);
    });
  });
}
