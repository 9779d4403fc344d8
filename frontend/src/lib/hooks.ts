import { useEffect, useState, useSyncExternalStore } from 'react';
import { useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { api, ApiError } from './api';
import type { Me, Stage, User } from './types';
import { isOnline, subscribeOnline } from './online';
import { applyWsEvent, backoffDelay, parseWsEvent } from './wsCache';

const ME_KEY = 'buildcrm.me';

export function rememberMe(me: Me | null) {
  try { if (me) localStorage.setItem(ME_KEY, JSON.stringify(me)); else localStorage.removeItem(ME_KEY); } catch { /* ignore */ }
}
function rememberedMe(): Me | null {
  try { const s = localStorage.getItem(ME_KEY); return s ? (JSON.parse(s) as Me) : null; } catch { return null; }
}

/** The current user. A network failure falls back to the last known user so the shell opens offline. */
export function useMe() {
  return useQuery<Me | null>({
    queryKey: ['me'],
    networkMode: 'always',
    staleTime: 5 * 60_000,
    retry: false,
    queryFn: async () => {
      try {
        const me = await api<Me>('/api/auth/me/');
        rememberMe(me);
        return me;
      } catch (e) {
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) { rememberMe(null); return null; }
        const cached = rememberedMe();
        if (cached) return cached;
        throw e;
      }
    },
  });
}

export function useStages() {
  return useQuery<Stage[]>({
    queryKey: ['stages'],
    queryFn: async () => (await api<Stage[]>('/api/stages/')).slice().sort((a, b) => a.position - b.position),
    staleTime: 60_000,
  });
}

export function useUsers(enabled = true) {
  return useQuery<User[]>({ queryKey: ['users'], queryFn: () => api<User[]>('/api/users/'), staleTime: 60_000, enabled, retry: false });
}

export function useOnline() { return useSyncExternalStore(subscribeOnline, isOnline, () => true); }

/** Current time, re-rendering every `ms` (for the no-answer timers). */
export function useNow(ms = 30_000) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => { const id = setInterval(() => setNow(Date.now()), ms); return () => clearInterval(id); }, [ms]);
  return now;
}

export function useMediaQuery(q: string) {
  const get = () => (typeof window !== 'undefined' && window.matchMedia ? window.matchMedia(q).matches : false);
  const [m, setM] = useState(get);
  useEffect(() => {
    const mq = window.matchMedia(q);
    const f = () => setM(mq.matches);
    mq.addEventListener('change', f);
    return () => mq.removeEventListener('change', f);
  }, [q]);
  return m;
}

/** Live updates: one websocket per session; reconnects with backoff and refetches what is open after a gap. */
export function useLiveUpdates(enabled: boolean) {
  const qc = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    return connectWs(qc);
  }, [enabled, qc]);
}

export function connectWs(qc: QueryClient): () => void {
  let ws: WebSocket | null = null;
  let attempt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const open = () => {
    if (stopped) return;
    const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
    try { ws = new WebSocket(`${proto}//${window.location.host}/ws/`); } catch { schedule(); return; }
    ws.onopen = () => {
      // Events sent before this socket joined its groups are lost (also on the first open: the screen's data
      // may have been fetched just before), so refetch what is on screen whenever the socket (re)opens.
      qc.invalidateQueries();
      attempt = 0;
    };
    ws.onmessage = (e) => { const ev = parseWsEvent(String(e.data)); if (ev) applyWsEvent(qc, ev); };
    ws.onclose = () => { ws = null; schedule(); };
    ws.onerror = () => { try { ws?.close(); } catch { /* ignore */ } };
  };
  const schedule = () => {
    if (stopped) return;
    clearTimeout(timer);
    timer = setTimeout(open, backoffDelay(attempt++));
  };
  const onOnline = () => { if (!ws) { attempt = 0; clearTimeout(timer); open(); } };
  window.addEventListener('online', onOnline);
  open();
  return () => {
    stopped = true;
    clearTimeout(timer);
    window.removeEventListener('online', onOnline);
    if (ws) { ws.onclose = null; ws.close(); }
  };
}
