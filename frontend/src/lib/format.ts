import type { Dict } from './i18n';
import { translate } from './i18n';
import { dict } from './dict';
import type { Temperature } from './types';

export function temperatureEmoji(t: Temperature | string | null | undefined): string {
  switch (t) {
    case 'hot': return '🔥';
    case 'warm': return '🟡';
    case 'cold': return '❄️';
    default: return '';
  }
}

/** "5 мин", "1 ч 20 мин", "2 д 3 ч" (or English) for the time since `sinceIso`. */
export function formatDuration(ms: number, lang: string, dicts: Record<string, Dict> = dict): string {
  const tr = (k: string, v: Record<string, number>) => translate(dicts, lang, k, v);
  const totalMin = Math.floor(Math.max(0, ms) / 60000);
  if (totalMin < 1) return tr('time.lt1m', {});
  if (totalMin < 60) return tr('time.m', { m: totalMin });
  const h = Math.floor(totalMin / 60);
  const m = totalMin % 60;
  if (h < 24) return m ? tr('time.hm', { h, m }) : tr('time.h', { h });
  const d = Math.floor(h / 24);
  const rh = h % 24;
  return rh ? tr('time.dh', { d, h: rh }) : tr('time.d', { d });
}

export function formatWaiting(sinceIso: string | null | undefined, now: number, lang: string): string | null {
  if (!sinceIso) return null;
  const t = Date.parse(sinceIso);
  if (Number.isNaN(t)) return null;
  return formatDuration(now - t, lang);
}

/** Seconds → "45 с" / "3 мин" / "1 ч 5 мин". */
export function formatSeconds(sec: number | null | undefined, lang: string): string {
  if (sec === null || sec === undefined || Number.isNaN(sec)) return '—';
  if (sec < 60) return translate(dict, lang, 'time.s', { s: Math.round(sec) });
  return formatDuration(sec * 1000, lang);
}

export function formatPercent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || Number.isNaN(rate)) return '—';
  const v = rate <= 1 ? rate * 100 : rate; // the API may send 0..1 or 0..100
  return `${Math.round(v * 10) / 10}%`;
}

const locale = (lang: string) => (lang === 'en' ? 'en-GB' : 'ru-RU');

export function formatTime(iso: string | null | undefined, lang: string, now = Date.now()): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const today = new Date(now);
  const sameDay = d.toDateString() === today.toDateString();
  return sameDay
    ? d.toLocaleTimeString(locale(lang), { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString(locale(lang), { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' });
}

export function formatDate(iso: string | null | undefined, lang: string): string {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleDateString(locale(lang), { day: '2-digit', month: '2-digit', year: 'numeric' });
}

export function isoDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
}

export function statusTicks(status: string): string {
  switch (status) {
    case 'queued': return '🕓';
    case 'sent': return '✓';
    case 'delivered': case 'read': return '✓✓';
    case 'failed': return '⚠';
    default: return '';
  }
}

/** A before/after value of a timeline event as short text: stages by name, scores with their emoji,
 * people by name, dimensions as 10×12×3; anything else as compact JSON. */
export function eventValue(v: unknown): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? '✓' : '✗';
  if (Array.isArray(v)) return v.length ? v.map(eventValue).join(', ') : '—';
  if (typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  if (typeof o.name === 'string' && o.name) return o.name;
  if ('score' in o) return [o.score, temperatureEmoji(o.temperature as string)].filter((x) => x !== '' && x !== undefined && x !== null).join(' ');
  if (typeof o.full_name === 'string' && o.full_name) return o.full_name;
  if (typeof o.email === 'string' && o.email) return o.email;
  if ('length' in o || 'width' in o || 'height' in o) {
    return [o.length, o.width, o.height].map((x) => (x === null || x === undefined || x === '' ? '—' : String(x))).join('×');
  }
  return JSON.stringify(v);
}
