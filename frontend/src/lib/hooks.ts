import { useEffect, useState, useSyncExternalStore } from 'react';
import { useQuery, useQueryClient, type QueryClient } from '@tanstack/react-query';
import { api, ApiError } from './api';
import type { Me, Stage, User } from './types';
import { isOnline, subscribeOnline } from './online';
import { LiveSocket, type SocketLike } from './liveSocket';
import { applyRead, applyWsEvent, parseWsEvent } from './wsCache';

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

/** Live updates: one websocket per session; reconnects with backoff and catches up once per reconnect. */
export function useLiveUpdates(enabled: boolean) {
  const qc = useQueryClient();
  useEffect(() => {
    if (!enabled) return;
    return connectWs(qc);
  }, [enabled, qc]);
}

// What live events keep current: after a gap, these (and only these) are refetched, once.
const LIVE_QUERIES = new Set(['board', 'leads', 'lead', 'messages', 'events', 'followups', 'sandbox', 'notifications', 'notifications-unread']);

export function connectWs(qc: QueryClient): () => void {
  const live = new LiveSocket({
    onEvent: (raw) => { const ev = parseWsEvent(raw); if (ev) applyWsEvent(qc, ev); },
    // Events sent before this socket joined its groups are lost (also on the first open: the screen's data may
    // have been fetched just before), so what is on screen is refetched once the server says it has joined.
    onResync: () => { void qc.invalidateQueries({ predicate: (q) => LIVE_QUERIES.has(String(q.queryKey[0])) }); },
    // 4401: not (or no longer) signed in — e.g. the password was changed elsewhere: ask who we are.
    onClose: (code) => { if (code === 4401) void qc.invalidateQueries({ queryKey: ['me'] }); },
  }, {
    url: () => `${window.location.protocol === 'https:' ? 'wss:' : 'ws:'}//${window.location.host}/ws/`,
    create: (url) => new WebSocket(url) as unknown as SocketLike,
    now: () => Date.now(),
    setTimer: (fn, ms) => setTimeout(fn, ms),
    clearTimer: (id) => clearTimeout(id as ReturnType<typeof setTimeout>),
    random: Math.random,
  });
  const onOnline = () => live.reconnectNow();
  window.addEventListener('online', onOnline);
  live.start();
  return () => {
    window.removeEventListener('online', onOnline);
    live.stop();
  };
}

/** Marks the lead read for the current user when its card is open — again whenever the client writes meanwhile. */
export function useMarkRead(leadId: number, inboundCount: number | undefined) {
  const qc = useQueryClient();
  useEffect(() => {
    if (inboundCount === undefined) return;
    // applied even when the card closed meanwhile: the read happened, the board must show it
    api<{ read_count: number }>(`/api/leads/${leadId}/read/`, { method: 'POST' })
      .then((r) => applyRead(qc, leadId, r.read_count))
      .catch(() => { /* offline or gone: the badge stays until the next open */ });
  }, [leadId, inboundCount, qc]);
}

/** The tenant's time zone (task times and "today" are on the company's clock). */
export function tenantZone(me: Me | null | undefined): string {
  return me?.tenant?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}
