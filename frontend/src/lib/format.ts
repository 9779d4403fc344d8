import type { Dict } from './i18n';
import { translate } from './i18n';
import { dict } from './dict';
import type { Temperature } from './types';
import type { IconName } from '../components/Icon';

/** The SVG icon of a temperature (never an emoji: they are empty boxes without an emoji font). */
export function temperatureIcon(t: Temperature | string | null | undefined): IconName | null {
  switch (t) {
    case 'hot': return 'hot';
    case 'warm': return 'warm';
    case 'cold': return 'cold';
    default: return null;
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

/** Who is signed in, for the header: "name · role", the e-mail when there is no name, and never the role twice
 * (owners provisioned before issue 16 were named after their role). */
export function meLabel(me: { full_name?: string | null; email: string }, roleWord: string): string {
  const name = (me.full_name || '').trim();
  const roleWords = Object.values(dict).flatMap((d) => [d['role.owner'], d['role.head'], d['role.manager']]);
  const shown = name && name !== roleWord && !roleWords.includes(name) ? name : me.email;
  return `${shown} · ${roleWord}`;
}

/** The icon of an outbound message's status: a clock while queued, one tick sent, two ticks delivered or read
 * (read is coloured by CSS), a warning when it failed. */
export function statusIcon(status: string): IconName | null {
  switch (status) {
    case 'queued': return 'clock';
    case 'sent': return 'check';
    case 'delivered': case 'read': return 'checks';
    case 'failed': return 'alert';
    default: return null;
  }
}

/** A before/after value of a timeline event as short text: stages by name, scores with their temperature word,
 * people by name, dimensions as 10×12×3; anything else as compact JSON. */
export function eventValue(v: unknown, lang = 'ru'): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? '✓' : '✗';
  if (Array.isArray(v)) return v.length ? v.map((x) => eventValue(x, lang)).join(', ') : '—';
  if (typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  if (typeof o.name === 'string' && o.name) return o.name;
  if ('score' in o) {
    const temp = typeof o.temperature === 'string' && o.temperature ? translate(dict, lang, `temp.${o.temperature}`, {}) : '';
    return [o.score, temp].filter((x) => x !== '' && x !== undefined && x !== null).join(' ');
  }
  if (typeof o.full_name === 'string' && o.full_name) return o.full_name;
  if (typeof o.email === 'string' && o.email) return o.email;
  if ('length' in o || 'width' in o || 'height' in o) {
    return [o.length, o.width, o.height].map((x) => (x === null || x === undefined || x === '' ? '—' : String(x))).join('×');
  }
  return JSON.stringify(v);
}
