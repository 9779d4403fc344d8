import { getLang } from './i18n';
import { reportFetch } from './online';

export class ApiError extends Error {
  status: number;
  body: unknown;
  /** Seconds to wait before trying again (a 429's Retry-After), when the server said. */
  retryAfter: number | null;
  constructor(status: number, body: unknown, message: string, retryAfter: number | null = null) {
    super(message); this.status = status; this.body = body; this.retryAfter = retryAfter;
  }
}

export function getCookie(name: string): string | null {
  if (typeof document === 'undefined') return null;
  const m = document.cookie.match(new RegExp('(?:^|; )' + name.replace(/[.$?*|{}()[\]\\/+^]/g, '\\$&') + '=([^;]*)'));
  return m ? decodeURIComponent(m[1]) : null;
}

/** Turns a DRF error body ({detail} or {field: [msgs]}) into one readable line. */
export function errorText(body: unknown, fallback = ''): string {
  if (!body || typeof body !== 'object') return typeof body === 'string' && body ? body : fallback;
  const b = body as Record<string, unknown>;
  if (typeof b.detail === 'string') return b.detail;
  const parts: string[] = [];
  for (const [k, v] of Object.entries(b)) {
    const msg = Array.isArray(v) ? v.join(' ') : typeof v === 'string' ? v : JSON.stringify(v);
    parts.push(k === 'non_field_errors' ? msg : `${k}: ${msg}`);
  }
  return parts.join('; ') || fallback;
}

type Opts = { method?: string; body?: unknown; signal?: AbortSignal };
const UNSAFE = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
let unauthorizedHandler: (() => void) | null = null;
export function onUnauthorized(fn: () => void) { unauthorizedHandler = fn; }

export async function api<T = unknown>(path: string, opts: Opts = {}): Promise<T> {
  const method = (opts.method || 'GET').toUpperCase();
  // The server words its messages (e.g. password rules) in the app's language, not the browser's.
  const headers: Record<string, string> = { Accept: 'application/json', 'Accept-Language': getLang() };
  let body: BodyInit | undefined;
  if (opts.body instanceof FormData) body = opts.body;
  else if (opts.body !== undefined) { headers['Content-Type'] = 'application/json'; body = JSON.stringify(opts.body); }
  if (UNSAFE.has(method)) {
    let token = getCookie('csrftoken');
    if (!token) { await ensureCsrf(); token = getCookie('csrftoken'); }
    if (token) headers['X-CSRFToken'] = token;
  }
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (e) {
    if ((e as Error)?.name !== 'AbortError') reportFetch(false);
    throw e;
  }
  reportFetch(true);
  const text = res.status === 204 ? '' : await res.text();
  let data: unknown = null;
  if (text) { try { data = JSON.parse(text); } catch { data = text; } }
  if (!res.ok) {
    if ((res.status === 401 || res.status === 403) && !path.startsWith('/api/auth/') && unauthorizedHandler && res.status === 401) unauthorizedHandler();
    const retry = Number(res.headers?.get?.('Retry-After'));
    throw new ApiError(res.status, data, errorText(data, `HTTP ${res.status}`), Number.isFinite(retry) && retry > 0 ? retry : null);
  }
  return data as T;
}

export async function ensureCsrf() {
  try { await fetch('/api/auth/csrf/', { credentials: 'same-origin' }); reportFetch(true); } catch { reportFetch(false); }
}

export function qs(params: Record<string, string | number | undefined | null>): string {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') u.set(k, String(v));
  const s = u.toString();
  return s ? `?${s}` : '';
}
