// Websocket events → TanStack Query cache updates, so every open screen changes live.
import type { QueryClient } from '@tanstack/react-query';
import type { Board, Lead, LeadNote, Message, Page, WsEvent } from './types';
import { removeLead, setLastMessage, upsertLead } from './boardState';
import { mergeLead } from './inbox';
import { applyNotification, parseNotificationEvent } from './notifications';

export function mergeMessages(list: Message[] | undefined, m: Message): Message[] {
  const cur = list ?? [];
  const i = cur.findIndex((x) => x.id === m.id);
  if (i >= 0) { const next = cur.slice(); next[i] = { ...cur[i], ...m }; return next; }
  const next = [...cur, m];
  // keep oldest → newest even if events arrive out of order
  if (cur.length && cur[cur.length - 1].created_at > m.created_at) next.sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id - b.id));
  return next;
}

let filteredRefetch: ReturnType<typeof setTimeout> | null = null;

export function applyLead(qc: QueryClient, lead: Lead, created: boolean) {
  qc.setQueryData<Lead>(['lead', lead.id], (old) => (old ? { ...mergeLead(old, lead), fields: lead.fields ?? old.fields } : old));
  let stale = false;
  qc.setQueryData<Board>(['board'], (old) => {
    if (!old) return old;
    if (old.filter) {
      // whether the lead still matches the filters is the server's to say: refresh the cards we show, refetch soon
      if (!filteredRefetch) filteredRefetch = setTimeout(() => { filteredRefetch = null; void qc.invalidateQueries({ queryKey: ['board'] }); }, 1500);
      return { ...old, stages: old.stages.map((c) => ({ ...c, leads: c.leads.map((l) => (l.id === lead.id ? mergeLead(l, lead) : l)) })) };
    }
    const r = upsertLead(old, lead, created);
    stale = r.stale;
    return r.board;
  });
  if (stale) qc.invalidateQueries({ queryKey: ['board'] });
  // list views: replace in place; a new lead may change their contents → refetch them
  qc.setQueriesData<Page<Lead>>({ queryKey: ['leads'] }, (old) => (old
    ? { ...old, results: old.results.map((l) => (l.id === lead.id ? mergeLead(l, lead) : l)) }
    : old));
  if (created) qc.invalidateQueries({ queryKey: ['leads'] });
  qc.invalidateQueries({ queryKey: ['events', lead.id] });
  qc.invalidateQueries({ queryKey: ['followups', lead.id] });
}

export function applyMessage(qc: QueryClient, leadId: number, m: Message) {
  qc.setQueryData<Message[]>(['messages', leadId], (old) => (old ? mergeMessages(old, m) : old));
  qc.setQueryData<Board>(['board'], (old) => (old ? setLastMessage(old, leadId, m) : old));
  qc.setQueryData<Lead>(['lead', leadId], (old) => (old
    ? { ...old, last_message: { text: m.text, direction: m.direction, author_kind: m.author_kind, created_at: m.created_at }, last_message_at: m.created_at }
    : old));
  // the sandbox phone shows one client's dialog: merge if it is that lead's
  for (const q of qc.getQueryCache().findAll({ queryKey: ['sandbox'] })) {
    const data = q.state.data as Message[] | undefined;
    if (data && data.some((x) => x.lead === leadId)) qc.setQueryData<Message[]>(q.queryKey, mergeMessages(data, m));
    else qc.invalidateQueries({ queryKey: q.queryKey, exact: true });
  }
}

/** A status change (queued → sent → delivered → read, or failed) of a message we may already show. */
export function applyMessageUpdate(qc: QueryClient, leadId: number, m: Message) {
  const patch = (old: Message[] | undefined) => {
    if (!old) return old;
    const i = old.findIndex((x) => x.id === m.id);
    if (i < 0) return old; // not loaded (older page or another dialog): nothing to change
    const next = old.slice();
    next[i] = { ...old[i], ...m };
    return next;
  };
  qc.setQueryData<Message[]>(['messages', leadId], patch);
  for (const q of qc.getQueryCache().findAll({ queryKey: ['sandbox'] })) qc.setQueryData<Message[]>(q.queryKey, patch);
}

export function applyLeadRemoved(qc: QueryClient, leadId: number) {
  qc.setQueryData<Board>(['board'], (old) => (old ? removeLead(old, leadId) : old));
  qc.setQueriesData<Page<Lead>>({ queryKey: ['leads'] }, (old) => (old
    ? { ...old, count: Math.max(0, old.count - (old.results.some((l) => l.id === leadId) ? 1 : 0)),
        results: old.results.filter((l) => l.id !== leadId) }
    : old));
  qc.invalidateQueries({ queryKey: ['lead', leadId] });
}

/** A team member's internal note on a lead (issue 16): into that lead's notes, if its chat has them loaded. */
export function applyNote(qc: QueryClient, leadId: number, note: LeadNote) {
  qc.setQueryData<LeadNote[]>(['notes', leadId], (cur) => (cur && !cur.some((n) => n.id === note.id) ? [...cur, note] : cur));
}

export function applyWsEvent(qc: QueryClient, ev: WsEvent) {
  switch (ev.type) {
    case 'lead.created': return applyLead(qc, ev.lead, true);
    case 'lead.updated': return applyLead(qc, ev.lead, false);
    case 'message.created': return applyMessage(qc, ev.lead_id ?? ev.message?.lead, ev.message);
    case 'message.updated': return applyMessageUpdate(qc, ev.lead_id ?? ev.message?.lead, ev.message);
    case 'lead.removed': return applyLeadRemoved(qc, ev.lead_id);
    case 'note.created': return applyNote(qc, ev.lead_id, ev.note);
    case 'notification.created': return applyNotification(qc, ev.notification);
    default: return undefined;
  }
}

export function parseWsEvent(raw: string): WsEvent | null {
  try {
    const ev = JSON.parse(raw);
    if (ev && (ev.type === 'lead.created' || ev.type === 'lead.updated') && ev.lead && typeof ev.lead.id === 'number') return ev;
    if (ev && (ev.type === 'message.created' || ev.type === 'message.updated') && ev.message && typeof ev.message.id === 'number') return ev;
    if (ev && ev.type === 'lead.removed' && typeof ev.lead_id === 'number') return ev;
    if (ev && ev.type === 'note.created' && typeof ev.lead_id === 'number' && ev.note && typeof ev.note.id === 'number') return ev;
    if (parseNotificationEvent(ev)) return ev;
  } catch { /* ignore garbage */ }
  return null;
}

/** Reconnect delay: exponential backoff with jitter, capped. */
export function backoffDelay(attempt: number, base = 1000, cap = 30000, rand = Math.random): number {
  const exp = Math.min(cap, base * 2 ** Math.max(0, attempt));
  return Math.round(exp / 2 + rand() * (exp / 2));
}

/** The user opened the lead: its client messages so far are read — on the board, in lists and in the card. */
export function applyRead(qc: QueryClient, leadId: number, readCount: number) {
  const mark = <T extends Partial<Lead>>(l: T): T => (l.id === leadId ? { ...l, read_count: readCount, unread: Math.max(0, (l.inbound_count ?? 0) - readCount) } : l);
  qc.setQueryData<Lead>(['lead', leadId], (old) => (old ? mark(old) : old));
  qc.setQueryData<Board>(['board'], (old) => (old ? { ...old, stages: old.stages.map((c) => ({ ...c, leads: c.leads.map(mark) })) } : old));
  qc.setQueriesData<Page<Lead>>({ queryKey: ['leads'] }, (old) => (old ? { ...old, results: old.results.map(mark) } : old));
}
