// List-view filters ⇄ URL query string (so a view can be shared) ⇄ API query.
export interface Filters {
  stage: string; temperature: string; assignee: string; ai: string; channel: string; source: string;
  created_from: string; created_to: string; q: string; ordering: string; page: number; tag: string;
  waiting: string; unread: string; // 'true' | 'false' | '' (the inbox view's filters)
}
export const FILTER_KEYS = ['stage', 'temperature', 'assignee', 'ai', 'channel', 'source', 'created_from', 'created_to', 'q', 'ordering', 'tag', 'waiting', 'unread'] as const;
export const DEFAULT_ORDERING = '-score';
export const ORDERINGS = ['-score', 'score', '-created_at', 'created_at', '-last_message_at', 'name'];
const TEMPS = ['hot', 'warm', 'cold'];
const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function emptyFilters(): Filters {
  return { stage: '', temperature: '', assignee: '', ai: '', channel: '', source: '', created_from: '', created_to: '', q: '', ordering: DEFAULT_ORDERING, page: 1, tag: '', waiting: '', unread: '' };
}

export function parseFilters(search: string): Filters {
  const p = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const f = emptyFilters();
  for (const k of FILTER_KEYS) { const v = p.get(k); if (v !== null) (f as unknown as Record<string, string>)[k] = v.trim(); }
  if (f.temperature && !TEMPS.includes(f.temperature)) f.temperature = '';
  if (f.ai && f.ai !== 'on' && f.ai !== 'off') f.ai = '';
  if (f.created_from && !DATE.test(f.created_from)) f.created_from = '';
  if (f.created_to && !DATE.test(f.created_to)) f.created_to = '';
  if (!ORDERINGS.includes(f.ordering)) f.ordering = DEFAULT_ORDERING;
  if (f.waiting !== 'true' && f.waiting !== 'false') f.waiting = '';
  if (f.unread !== 'true' && f.unread !== 'false') f.unread = '';
  const page = parseInt(p.get('page') || '1', 10);
  f.page = Number.isFinite(page) && page > 0 ? page : 1;
  return f;
}

/** Query string for the URL: only non-default values, in a stable order; extra keys (e.g. view) are kept first. */
export function filtersToSearch(f: Filters, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(extra)) if (v) p.set(k, v);
  for (const k of FILTER_KEYS) {
    const v = f[k];
    if (!v) continue;
    if (k === 'ordering' && v === DEFAULT_ORDERING) continue;
    p.set(k, v);
  }
  if (f.page > 1) p.set('page', String(f.page));
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function filtersToApi(f: Filters, pageSize = 50): string {
  const p = new URLSearchParams();
  for (const k of FILTER_KEYS) if (f[k]) p.set(k, f[k]);
  if (!p.has('ordering')) p.set('ordering', DEFAULT_ORDERING);
  p.set('page', String(f.page));
  p.set('page_size', String(pageSize));
  return `?${p.toString()}`;
}

/** Changing any filter sends the user back to page 1. */
export function updateFilters(f: Filters, patch: Partial<Filters>): Filters {
  const next = { ...f, ...patch };
  if (!('page' in patch)) next.page = 1;
  return next;
}

/** The inbox quick filters (mine / unassigned / waiting / hot / unread) as the list's filters hold them. */
export function inboxActive(f: Filters): ('mine' | 'unassigned' | 'waiting' | 'hot' | 'unread')[] {
  const out: ('mine' | 'unassigned' | 'waiting' | 'hot' | 'unread')[] = [];
  if (f.assignee === 'me') out.push('mine');
  if (f.assignee === 'none') out.push('unassigned');
  if (f.waiting === 'true') out.push('waiting');
  if (f.temperature === 'hot') out.push('hot');
  if (f.unread === 'true') out.push('unread');
  return out;
}

/** The patch that switches one inbox quick filter on or off in the list's filters. */
export function inboxToggle(f: Filters, x: 'mine' | 'unassigned' | 'waiting' | 'hot' | 'unread'): Partial<Filters> {
  const on = inboxActive(f).includes(x);
  switch (x) {
    case 'mine': return { assignee: on ? '' : 'me' };
    case 'unassigned': return { assignee: on ? '' : 'none' };
    case 'waiting': return { waiting: on ? '' : 'true' };
    case 'hot': return { temperature: on ? '' : 'hot' };
    default: return { unread: on ? '' : 'true' };
  }
}
