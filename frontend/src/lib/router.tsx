// A tiny client-side router: history API + useSyncExternalStore. Enough for our handful of routes.
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const listeners = new Set<() => void>();
let snapshot = typeof window === 'undefined' ? '/' : window.location.pathname + window.location.search;
function update() {
  const s = window.location.pathname + window.location.search;
  if (s !== snapshot) { snapshot = s; listeners.forEach((l) => l()); }
}
if (typeof window !== 'undefined') window.addEventListener('popstate', update);

export function navigate(to: string, opts: { replace?: boolean } = {}) {
  if (opts.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  update();
}

export function useLocation(): { pathname: string; search: string } {
  const s = useSyncExternalStore((f) => { listeners.add(f); return () => { listeners.delete(f); }; }, () => snapshot, () => snapshot);
  const i = s.indexOf('?');
  return i < 0 ? { pathname: s, search: '' } : { pathname: s.slice(0, i), search: s.slice(i) };
}

/** Matches "/leads/:id" style patterns; returns params or null. */
export function matchPath(pattern: string, pathname: string): Record<string, string> | null {
  const pp = pattern.split('/').filter(Boolean);
  const ap = pathname.split('/').filter(Boolean);
  if (pp.length !== ap.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < pp.length; i++) {
    if (pp[i].startsWith(':')) params[pp[i].slice(1)] = decodeURIComponent(ap[i]);
    else if (pp[i] !== ap[i]) return null;
  }
  return params;
}

export function Link({ to, replace, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; replace?: boolean }) {
  return (
    <a
      href={to}
      onClick={(e: MouseEvent<HTMLAnchorElement>) => {
        onClick?.(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        e.preventDefault();
        navigate(to, { replace });
      }}
      {...rest}
    />
  );
}
