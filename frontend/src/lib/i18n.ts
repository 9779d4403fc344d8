import { useCallback, useSyncExternalStore } from 'react';
import { dict } from './dict';

export type Lang = 'ru' | 'en';
export type Dict = Record<string, string>;
const KEY = 'buildcrm.lang';

/** Looks a key up in the chosen language, falls back to Russian, then to the key itself. */
export function translate(dicts: Record<string, Dict>, lang: string, key: string, vars?: Record<string, string | number>): string {
  let s = dicts[lang]?.[key] ?? dicts.ru?.[key] ?? key;
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
  return s;
}

function initial(): Lang {
  try { const v = localStorage.getItem(KEY); if (v === 'ru' || v === 'en') return v; } catch { /* no storage */ }
  return 'ru';
}
let lang: Lang = typeof window === 'undefined' ? 'ru' : initial();
const listeners = new Set<() => void>();

export function getLang(): Lang { return lang; }
export function setLang(l: Lang) {
  lang = l;
  try { localStorage.setItem(KEY, l); } catch { /* ignore */ }
  if (typeof document !== 'undefined') document.documentElement.lang = l;
  listeners.forEach((f) => f());
}
export function t(key: string, vars?: Record<string, string | number>) { return translate(dict, lang, key, vars); }

export function useLang(): Lang {
  return useSyncExternalStore((f) => { listeners.add(f); return () => { listeners.delete(f); }; }, () => lang, () => lang);
}
/** Re-renders the caller when the language changes and returns the translator. */
export function useT() {
  const l = useLang();
  return useCallback((key: string, vars?: Record<string, string | number>) => translate(dict, l, key, vars), [l]);
}
