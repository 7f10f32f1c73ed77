// Small DOM and formatting helpers shared by the page's parts.
import { language } from './i18n.js';

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}; index.html and the script are out of step`);
  return el as T;
}

type Props = Record<string, string | number | boolean | undefined>;

/** Creates an element; props become attributes (false/undefined ones are left out). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    el.setAttribute(k, v === true ? '' : String(v));
  }
  el.append(...children);
  return el;
}

export function fmtInt(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : new Intl.NumberFormat(language()).format(n);
}

export function fmtRate(n: number | undefined): string {
  if (n === undefined) return '—';
  const digits = n > 0 && n < 10 ? 1 : 0;
  return new Intl.NumberFormat(language(), {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(n);
}

export function fmtPercent(part: number, whole: number): string {
  const v = whole > 0 ? part / whole : 0;
  return new Intl.NumberFormat(language(), { style: 'percent', maximumFractionDigits: 1 }).format(v);
}

export function fmtTime(ms: number): string {
  return new Intl.DateTimeFormat(language(), {
    hour: 'numeric',
    minute: '2-digit',
    second: '2-digit',
  }).format(ms);
}
