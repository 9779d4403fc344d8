// Pure helpers of the chat tools (issue 16): quick-reply placeholders and the "/" filter, phone links, and the chat's
// one list of messages and internal notes.
import type { Lead, LeadNote, Message, QuickReply } from './types';

export interface PlaceholderContext { lead: Pick<Lead, 'name' | 'phone' | 'city'>; manager?: string; company?: string }

/** `{name}`, `{phone}`, `{city}`, `{manager}`, `{company}` (also `{имя}`, `{город}`, `{телефон}`, `{менеджер}`)
 * filled from the lead and the sender; an unknown or empty placeholder is left as typed, so the person sees the gap. */
export function fillPlaceholders(text: string, ctx: PlaceholderContext): string {
  const values: Record<string, string | undefined> = {
    name: ctx.lead.name, phone: ctx.lead.phone, city: ctx.lead.city, manager: ctx.manager, company: ctx.company,
  };
  const aliases: Record<string, string> = { 'имя': 'name', 'телефон': 'phone', 'город': 'city', 'менеджер': 'manager', 'компания': 'company' };
  return text.replace(/\{\s*([\p{L}_]+)\s*\}/gu, (whole, key: string) => {
    const k = aliases[key.toLowerCase()] ?? key.toLowerCase();
    const v = values[k];
    return v && v.trim() ? v.trim() : whole;
  });
}

/** The filter a composer text asks for: "/цен" → "цен"; null when the text is not a slash command. */
export function slashQuery(text: string): string | null {
  const m = /^\/(\S*)$/.exec(text);
  return m ? m[1] : null;
}

export function filterReplies(replies: QuickReply[], query: string): QuickReply[] {
  const q = query.trim().toLowerCase();
  if (!q) return replies;
  return replies.filter((r) => r.title.toLowerCase().includes(q));
}

export function phoneDigits(phone: string | null | undefined): string {
  return (phone || '').replace(/\D/g, '');
}

export function telHref(phone: string | null | undefined): string | null {
  const d = phoneDigits(phone);
  return d.length >= 5 ? `tel:+${d}` : null;
}

export function waHref(phone: string | null | undefined): string | null {
  const d = phoneDigits(phone);
  return d.length >= 7 && d.length <= 15 ? `https://wa.me/${d}` : null;
}

export type ChatItem = { type: 'message'; at: string; message: Message } | { type: 'note'; at: string; note: LeadNote };

/** Messages and notes in one list by time (a note at the same instant as a message comes after it). */
export function chatItems(messages: Message[], notes: LeadNote[], allLoaded = false): ChatItem[] {
  const items: ChatItem[] = [
    ...messages.map((m) => ({ type: 'message' as const, at: m.created_at, message: m })),
    ...notes.map((n) => ({ type: 'note' as const, at: n.created_at, note: n })),
  ];
  // Notes older than the oldest loaded message wait until older messages are loaded (they would sit at the top).
  const oldest = messages.length && !allLoaded ? Date.parse(messages[0].created_at) : -Infinity;
  return items
    .filter((i) => i.type === 'message' || Date.parse(i.at) >= oldest)
    .map((item, index) => ({ item, index }))
    .sort((a, b) => Date.parse(a.item.at) - Date.parse(b.item.at) || a.index - b.index)
    .map(({ item }) => item);
}
