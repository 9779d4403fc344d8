// Notifications in the PWA: the bell's list and unread count (TanStack Query, kept live by the websocket's
// `notification.created`), a short beep on a new one (Web Audio, muted by a toggle kept on this device), and Web Push
// on this device (pushManager.subscribe with the platform's VAPID key; the service worker shows the pushes).
import type { QueryClient } from '@tanstack/react-query';
import { useQuery } from '@tanstack/react-query';
import { api } from './api';

export interface AppNotification {
  id: number; kind: string; lead_id: number | null; title: string; body: string; url: string;
  created_at: string; read_at: string | null;
}
export type Way = 'in_app' | 'push' | 'telegram';
export interface NotificationPrefs {
  ways: Record<string, Record<Way, boolean>>; quiet_start: string | null; quiet_end: string | null; timezone: string;
  telegram_linked: boolean; telegram_bot: boolean; kinds: string[]; channels: Way[];
}

export const LIST_KEY = ['notifications'] as const;
export const UNREAD_KEY = ['notifications-unread'] as const;
const LIST_LIMIT = 100;

export function useNotificationList(enabled = true) {
  return useQuery<AppNotification[]>({ queryKey: LIST_KEY, queryFn: () => api<AppNotification[]>('/api/notifications/'), enabled });
}

export function useUnreadCount() {
  return useQuery<number>({
    queryKey: UNREAD_KEY,
    queryFn: async () => (await api<{ count: number }>('/api/notifications/unread/')).count,
    refetchInterval: 120_000, // the websocket keeps it live; this only heals a missed event
  });
}

/** The list with `n` on top (once: a repeated event changes nothing), at most LIST_LIMIT long. */
export function prependNotification(list: AppNotification[] | undefined, n: AppNotification): AppNotification[] | undefined {
  if (!list) return list;
  if (list.some((x) => x.id === n.id)) return list;
  return [n, ...list].slice(0, LIST_LIMIT);
}

/** The list with these (or all) marked read at `at`. */
export function markedRead(list: AppNotification[] | undefined, ids: number[] | null, at: string): AppNotification[] | undefined {
  if (!list) return list;
  return list.map((n) => (n.read_at === null && (ids === null || ids.includes(n.id)) ? { ...n, read_at: at } : n));
}

export function parseNotificationEvent(ev: unknown): AppNotification | null {
  const e = ev as { type?: string; notification?: AppNotification } | null;
  if (!e || e.type !== 'notification.created' || !e.notification || typeof e.notification.id !== 'number') return null;
  return e.notification;
}

/** A new notification from the websocket: on top of the list, one more unread, and a beep unless muted. */
export function applyNotification(qc: QueryClient, n: AppNotification) {
  let added = false;
  qc.setQueryData<AppNotification[]>(LIST_KEY, (old) => {
    const next = prependNotification(old, n);
    added = next !== old;
    return next;
  });
  if (added || !qc.getQueryData(LIST_KEY)) qc.setQueryData<number>(UNREAD_KEY, (old) => (old ?? 0) + (n.read_at ? 0 : 1));
  if (!isMuted()) beep();
}

export async function markRead(qc: QueryClient, ids: number[] | null) {
  const at = new Date().toISOString();
  qc.setQueryData<AppNotification[]>(LIST_KEY, (old) => markedRead(old, ids, at));
  await api('/api/notifications/read/', { method: 'POST', body: ids ? { ids } : {} });
  void qc.invalidateQueries({ queryKey: UNREAD_KEY });
}

// --- sound ------------------------------------------------------------------------------------------------------

const MUTE_KEY = 'buildcrm.notifications.mute';

export function isMuted(): boolean {
  try { return localStorage.getItem(MUTE_KEY) === '1'; } catch { return false; }
}
export function setMuted(muted: boolean) {
  try { localStorage.setItem(MUTE_KEY, muted ? '1' : '0'); } catch { /* no storage: stays as it was */ }
}

let audio: AudioContext | null = null;
/** Two short tones (no audio file to fetch). Browsers allow sound only after the user touched the page. */
export function beep() {
  try {
    const Ctx = (window as unknown as { AudioContext?: typeof AudioContext; webkitAudioContext?: typeof AudioContext }).AudioContext
      ?? (window as unknown as { webkitAudioContext?: typeof AudioContext }).webkitAudioContext;
    if (!Ctx) return;
    audio = audio ?? new Ctx();
    const start = audio.currentTime;
    [880, 1320].forEach((freq, i) => {
      const osc = audio!.createOscillator();
      const gain = audio!.createGain();
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, start + i * 0.12);
      gain.gain.exponentialRampToValueAtTime(0.2, start + i * 0.12 + 0.01);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + i * 0.12 + 0.1);
      osc.connect(gain).connect(audio!.destination);
      osc.start(start + i * 0.12);
      osc.stop(start + i * 0.12 + 0.11);
    });
  } catch { /* no sound is no failure */ }
}

// --- Web Push on this device -----------------------------------------------------------------------------------

/** The VAPID key as pushManager.subscribe wants it (base64url → bytes). */
export function urlBase64ToUint8Array(base64: string): Uint8Array {
  const padded = (base64 + '='.repeat((4 - (base64.length % 4)) % 4)).replace(/-/g, '+').replace(/_/g, '/');
  const raw = atob(padded);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i += 1) out[i] = raw.charCodeAt(i);
  return out;
}

export function pushSupported(): boolean {
  return typeof window !== 'undefined' && 'serviceWorker' in navigator && 'PushManager' in window && 'Notification' in window;
}

export async function currentSubscription(): Promise<PushSubscription | null> {
  if (!pushSupported()) return null;
  const reg = await navigator.serviceWorker.getRegistration();
  return reg ? reg.pushManager.getSubscription() : null;
}

export type PushOutcome = 'on' | 'denied' | 'unsupported' | 'no-key';

/** Asks for permission, subscribes this device with the platform's key and tells the server. */
export async function enablePush(): Promise<PushOutcome> {
  if (!pushSupported()) return 'unsupported';
  const permission = await Notification.requestPermission();
  if (permission !== 'granted') return 'denied';
  const { public_key: key } = await api<{ public_key: string }>('/api/notifications/push/key/');
  if (!key) return 'no-key';
  const reg = await navigator.serviceWorker.ready;
  const sub = (await reg.pushManager.getSubscription())
    ?? await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: urlBase64ToUint8Array(key) as BufferSource });
  const json = sub.toJSON() as { endpoint: string; keys: { p256dh: string; auth: string } };
  await api('/api/notifications/push/subscribe/', { method: 'POST', body: { endpoint: json.endpoint, keys: json.keys } });
  return 'on';
}

export async function disablePush(): Promise<void> {
  const sub = await currentSubscription();
  if (!sub) return;
  await api('/api/notifications/push/unsubscribe/', { method: 'POST', body: { endpoint: sub.endpoint } });
  await sub.unsubscribe();
}
