// The inbox view's pure helpers: unread counts, board filters ⇄ URL ⇄ API, and "Мои задачи" grouped by the
// tenant's calendar day (overdue / today / upcoming), times shown on the tenant's wall clock.
import type { Lead, Task } from './types';

/** Unread client messages for the current user. Live events carry no read_count (they go to many users): the
 * caller keeps the one it had (mergeLead), so a new message raises the count by itself. */
export function unreadOf(lead: Pick<Lead, 'inbound_count' | 'read_count'>): number {
  return Math.max(0, (lead.inbound_count ?? 0) - (lead.read_count ?? 0));
}

/** Merges a lead from a live event into the cached one, keeping the per-user fields the event does not carry. */
export function mergeLead<T extends Partial<Lead>>(old: T, fresh: Partial<Lead>): T {
  const next = { ...old, ...fresh } as T;
  if (fresh.read_count === null || fresh.read_count === undefined) {
    (next as Partial<Lead>).read_count = old.read_count ?? 0;
  }
  (next as Partial<Lead>).unread = unreadOf(next as Partial<Lead> as Lead);
  return next;
}

// --- board filters -------------------------------------------------------------------------------------------

export const INBOX_FILTERS = ['mine', 'unassigned', 'waiting', 'hot', 'unread'] as const;
export type InboxFilter = (typeof INBOX_FILTERS)[number];
export interface BoardFilters { only: InboxFilter[]; q: string }

/** Reads `only=mine,waiting&q=…` from a location's query string (unknown values dropped). */
export function parseBoardFilters(search: string): BoardFilters {
  const p = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  const only = (p.get('only') || '').split(',').filter((x): x is InboxFilter => (INBOX_FILTERS as readonly string[]).includes(x));
  // mine and unassigned exclude each other: the later one wins
  const clean = only.includes('mine') && only.includes('unassigned') ? only.filter((x) => x !== only.find((y) => y === 'mine' || y === 'unassigned')) : only;
  return { only: Array.from(new Set(clean)), q: (p.get('q') || '').trim().slice(0, 200) };
}

/** The same query string with the board's filters replaced (other keys kept). */
export function boardFiltersToSearch(search: string, f: BoardFilters): string {
  const p = new URLSearchParams(search.startsWith('?') ? search.slice(1) : search);
  if (f.only.length) p.set('only', f.only.join(',')); else p.delete('only');
  if (f.q) p.set('q', f.q); else p.delete('q');
  const s = p.toString();
  return s ? `?${s}` : '';
}

export function toggleFilter(f: BoardFilters, x: InboxFilter): BoardFilters {
  if (f.only.includes(x)) return { ...f, only: f.only.filter((y) => y !== x) };
  const exclusive: Partial<Record<InboxFilter, InboxFilter>> = { mine: 'unassigned', unassigned: 'mine' };
  return { ...f, only: [...f.only.filter((y) => y !== exclusive[x]), x] };
}

/** The API's query parameters for these filters (shared by /api/board/ and the column pages of /api/leads/). */
export function boardFiltersToApi(f: BoardFilters): URLSearchParams {
  const p = new URLSearchParams();
  if (f.only.includes('mine')) p.set('assignee', 'me');
  if (f.only.includes('unassigned')) p.set('assignee', 'none');
  if (f.only.includes('waiting')) p.set('waiting', 'true');
  if (f.only.includes('hot')) p.set('temperature', 'hot');
  if (f.only.includes('unread')) p.set('unread', 'true');
  if (f.q) p.set('q', f.q);
  return p;
}

// --- tasks in the tenant's zone ------------------------------------------------------------------------------

const dayFormats = new Map<string, Intl.DateTimeFormat>();
/** YYYY-MM-DD of the instant on the calendar of `tz` (an unknown zone falls back to the browser's). */
export function dayIn(ms: number, tz: string): string {
  let f = dayFormats.get(tz);
  if (!f) {
    try { f = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit', day: '2-digit' }); }
    catch { f = new Intl.DateTimeFormat('en-CA', { year: 'numeric', month: '2-digit', day: '2-digit' }); }
    dayFormats.set(tz, f);
  }
  return f.format(new Date(ms));
}

export interface TaskGroups { overdue: Task[]; today: Task[]; upcoming: Task[]; done: Task[] }

/** Open tasks past due (overdue), due later today (today) or after today (upcoming), in the tenant's calendar;
 * done ones apart. Each group by due time. */
export function groupTasks(tasks: Task[], now: number, tz: string): TaskGroups {
  const out: TaskGroups = { overdue: [], today: [], upcoming: [], done: [] };
  const today = dayIn(now, tz);
  for (const task of tasks) {
    const due = Date.parse(task.due_at);
    if (task.done_at) out.done.push(task);
    else if (Number.isNaN(due) || due < now) out.overdue.push(task);
    else if (dayIn(due, tz) === today) out.today.push(task);
    else out.upcoming.push(task);
  }
  const byDue = (a: Task, b: Task) => (a.due_at < b.due_at ? -1 : a.due_at > b.due_at ? 1 : a.id - b.id);
  out.overdue.sort(byDue); out.today.sort(byDue); out.upcoming.sort(byDue);
  out.done.sort((a, b) => -byDue(a, b));
  return out;
}

/** "14:30" today, "02.12 14:30" another day — on the tenant's wall clock. */
export function formatInZone(iso: string, lang: string, tz: string, now = Date.now()): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const locale = lang === 'en' ? 'en-GB' : 'ru-RU';
  const sameDay = dayIn(ms, tz) === dayIn(now, tz);
  const opts: Intl.DateTimeFormatOptions = sameDay
    ? { hour: '2-digit', minute: '2-digit' }
    : { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit' };
  try { return new Date(ms).toLocaleString(locale, { ...opts, timeZone: tz }); }
  catch { return new Date(ms).toLocaleString(locale, opts); }
}
