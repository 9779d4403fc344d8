/* The lead's timeline, score reasons and tasks as sentences in the UI's language: rendered from an event's kind and
 * parameters (never raw JSON, internal keys or e-mails), one entry per change. */
import type { Dict } from './i18n';
import { translate } from './i18n';
import { dict } from './dict';
import type { LeadEvent, QualField, ScoreReason, Task } from './types';

export interface SentenceOptions {
  fields?: QualField[];
  now?: number;
  dicts?: Record<string, Dict>;
}

export interface TimelineEntry { id: number; at: string; actor: LeadEvent['actor']; text: string }

type Tr = (key: string, vars?: Record<string, string | number>) => string;

function translator(lang: string, dicts: Record<string, Dict> = dict): Tr {
  return (key, vars) => translate(dicts, lang, key, vars);
}

const pad = (n: number) => String(n).padStart(2, '0');
const DAY = 86400000;

function startOfDay(ms: number): number {
  const d = new Date(ms);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/** "сегодня в 18:00", "завтра в 11:00", "в пятницу в 14:00", "04.12 в 14:00" (or English) — local time. */
export function describeWhen(iso: string | null | undefined, lang: string, now = Date.now(), dicts: Record<string, Dict> = dict): string {
  if (!iso) return '';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '';
  const tr = translator(lang, dicts);
  const d = new Date(ms);
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}`;
  const days = Math.round((startOfDay(ms) - startOfDay(now)) / DAY);
  if (days === 0) return tr('when.today', { time });
  if (days === 1) return tr('when.tomorrow', { time });
  if (days === -1) return tr('when.yesterday', { time });
  if (days > 1 && days < 7) return tr(`when.weekday.${d.getDay()}`, { time });
  return tr('when.date', { date: `${pad(d.getDate())}.${pad(d.getMonth() + 1)}`, time });
}

/** A task in words: "Позвонить завтра в 11:00", "Встреча в пятницу в 14:00", "Отправить смету — 04.12 в 10:00". */
export function describeTask(task: Pick<Task, 'kind' | 'title' | 'due_at'>, lang: string, now = Date.now(), dicts: Record<string, Dict> = dict): string {
  const tr = translator(lang, dicts);
  const when = describeWhen(task.due_at, lang, now, dicts);
  const title = (task.title || '').trim();
  if (task.kind === 'call' || task.kind === 'meeting') {
    const base = tr(`task.${task.kind}`, { when });
    return title ? `${base} — ${title}` : base;
  }
  return tr('task.other', { title: title || tr('task.untitled'), when });
}

function fieldLabel(key: string, lang: string, fields: QualField[] | undefined, tr: Tr): string {
  const f = fields?.find((x) => x.key === key);
  if (f) return (lang === 'en' && f.label_en) || f.label || key;
  const known = tr(`field.${key}`);
  return known === `field.${key}` ? key.replace(/_/g, ' ') : known;
}

/** A value as people read it: yes/no, 10×12×3 м, lists joined; an object never as JSON. */
export function describeValue(v: unknown, tr: Tr): string {
  if (v === null || v === undefined || v === '') return '—';
  if (typeof v === 'boolean') return v ? tr('common.yes') : tr('common.no');
  if (Array.isArray(v)) return v.length ? v.map((x) => describeValue(x, tr)).join(', ') : '—';
  if (typeof v !== 'object') return String(v);
  const o = v as Record<string, unknown>;
  if ('length' in o || 'width' in o || 'height' in o) {
    const parts = [o.length, o.width, o.height].filter((x) => x !== null && x !== undefined && x !== '');
    return parts.length ? `${parts.join('×')} ${tr('unit.m')}` : '—';
  }
  if (typeof o.name === 'string' && o.name) return o.name;
  if (typeof o.full_name === 'string' && o.full_name) return o.full_name;
  if (typeof o.title === 'string' && o.title) return o.title;
  return Object.values(o).filter((x) => typeof x === 'string' || typeof x === 'number').join(', ') || '—';
}

function person(value: unknown, names: Record<string, string> | undefined, tr: Tr): string {
  if (value === 'ai') return 'AI';
  if (typeof value === 'string') {
    if (names?.[value]) return names[value];
    // an e-mail the server could not name (the person left): its local part, never the whole address
    return value.includes('@') ? value.split('@')[0] : value;
  }
  if (value && typeof value === 'object') return describeValue(value, tr);
  return '—';
}

const TEMPERATURES = ['hot', 'warm', 'cold'];

/** One event as a sentence in `lang` (the actor is shown beside it by the caller). */
export function describeEvent(e: LeadEvent, lang: string, opts: SentenceOptions = {}): string {
  const tr = translator(lang, opts.dicts);
  const now = opts.now ?? Date.now();
  const after = (e.after ?? null) as Record<string, unknown> | string | number | boolean | null;
  const before = (e.before ?? null) as Record<string, unknown> | string | number | boolean | null;
  const obj = (v: unknown) => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});
  switch (e.kind) {
    case 'created': return tr('ev.created');
    case 'identity_merged': return tr('ev.identity_merged', { channel: tr(`channel.${String(after)}`) });
    case 'stage_changed':
      return tr('ev.stage_changed', { from: describeValue(before, tr), to: describeValue(after, tr) });
    case 'stage_pinned': return tr('ev.stage_pinned', { stage: describeValue(after, tr) });
    case 'assigned':
      return after ? tr('ev.assigned', { name: person(after, e.names, tr) }) : tr('ev.unassigned');
    case 'takeover': return tr('ev.takeover', { name: person(after, e.names, tr) });
    case 'returned_to_ai': return tr('ev.returned_to_ai');
    case 'score_changed': {
      const b = obj(before), a = obj(after);
      const temp = (x: unknown) => (TEMPERATURES.includes(String(x)) ? tr(`temp.${String(x)}`).toLowerCase() : '');
      const scores = `${b.score ?? 0} → ${a.score ?? 0}`;
      return b.temperature !== a.temperature
        ? tr('ev.score_temp', { scores, from: temp(b.temperature), to: temp(a.temperature) })
        : tr('ev.score', { scores });
    }
    case 'call_requested': {
      const a = obj(after);
      const when = a.due_at && a.named !== false ? describeWhen(String(a.due_at), lang, now, opts.dicts) : '';
      if (when) return tr('ev.call_at', { when });
      return a.preferred_time ? tr('ev.call_words', { words: String(a.preferred_time) }) : tr('ev.call');
    }
    case 'meeting_booked': return tr('ev.meeting_booked');
    case 'tags_changed': {
      const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : []);
      const b = list(e.before), a = list(e.after);
      const changes = [...a.filter((x) => !b.includes(x)).map((x) => `+${x}`), ...b.filter((x) => !a.includes(x)).map((x) => `−${x}`)];
      return tr('ev.tags_changed', { changes: changes.join(', ') || '—' });
    }
    case 'handoff': return e.text ? tr('ev.handoff_reason', { reason: e.text }) : tr('ev.handoff');
    case 'content_sent': return tr('ev.content_sent', { title: String(obj(after).title ?? '') });
    case 'campaign_joined': return tr('ev.campaign_joined', { campaign: String(obj(after).campaign ?? '') });
    case 'amocrm_linked': return tr('ev.amocrm_linked', { id: String(obj(after).amo_lead_id ?? '') });
    case 'task_created': case 'task_done': {
      const a = obj(after);
      const task = describeTask({ kind: String(a.kind ?? 'other') as Task['kind'], title: String(a.title ?? ''), due_at: String(a.due_at ?? '') }, lang, now, opts.dicts);
      return tr(`ev.${e.kind}`, { task });
    }
    case 'data_changed': {
      const label = fieldLabel(e.field, lang, opts.fields, tr);
      if (after === null || after === undefined) return tr('ev.data_removed', { field: label });
      if (before === null || before === undefined) return tr('ev.data_set', { field: label, value: describeValue(after, tr) });
      return tr('ev.data_changed', { field: label, from: describeValue(before, tr), to: describeValue(after, tr) });
    }
    case 'field_changed': {
      if (e.field === 'ai_enabled') return tr(after ? 'ev.ai_on' : 'ev.ai_off');
      if (e.field === 'refused') return tr(after ? 'ev.refused' : 'ev.unrefused');
      if (e.field === 'needs_human') return after ? tr('ev.needs_human') : tr('ev.needs_human_done');
      const label = fieldLabel(e.field, lang, opts.fields, tr);
      if (before === null || before === undefined || before === '') return tr('ev.data_set', { field: label, value: describeValue(after, tr) });
      if (after === null || after === undefined || after === '') return tr('ev.data_removed', { field: label });
      return tr('ev.data_changed', { field: label, from: describeValue(before, tr), to: describeValue(after, tr) });
    }
    default: {
      const label = tr(`event.${e.kind}`);
      return label === `event.${e.kind}` ? tr('ev.other') : label;
    }
  }
}

// Fields another entry of the same change already tells: the call request says when, the handoff says why.
const TOLD_ELSEWHERE = new Set(['call_requested', 'preferred_time', 'needs_human_reason']);
const NEAR_MS = 5000;

/** The timeline, newest first, one sentence per change: field entries that only repeat what a neighbouring entry of
 * the same change says (the call request's time, the handoff's AI switch) are folded into it. */
export function timelineEntries(events: LeadEvent[], lang: string, opts: SentenceOptions = {}): TimelineEntry[] {
  const tr = translator(lang, opts.dicts);
  const sorted = events.slice().sort((a, b) => (a.created_at === b.created_at ? b.id - a.id : a.created_at < b.created_at ? 1 : -1));
  const near = (a: LeadEvent, kind: string) => sorted.some((b) => b.kind === kind && Math.abs(Date.parse(b.created_at) - Date.parse(a.created_at)) <= NEAR_MS);
  const out: TimelineEntry[] = [];
  for (const e of sorted) {
    if (e.kind === 'field_changed' && TOLD_ELSEWHERE.has(e.field)) continue;
    if (e.kind === 'field_changed' && (e.field === 'ai_enabled' || e.field === 'needs_human') && near(e, 'handoff')) continue;
    let text = describeEvent(e, lang, opts);
    if (e.kind === 'field_changed' && e.field === 'needs_human' && e.after) {
      const reason = sorted.find((b) => b.kind === 'field_changed' && b.field === 'needs_human_reason'
        && Math.abs(Date.parse(b.created_at) - Date.parse(e.created_at)) <= NEAR_MS);
      if (reason && typeof reason.after === 'string' && reason.after) text = tr('ev.needs_human_reason', { reason: reason.after });
    }
    out.push({ id: e.id, at: e.created_at, actor: e.actor, text });
  }
  return out;
}

/** A score reason in the UI's language from its key and parameters (the stored Russian text for older reasons). */
export function describeReason(r: ScoreReason, lang: string, fields?: QualField[], dicts: Record<string, Dict> = dict): string {
  if (!r.key) return r.reason;
  const tr = translator(lang, dicts);
  const p = r.params ?? {};
  const vars: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(p)) if (typeof v === 'string' || typeof v === 'number') vars[k] = v;
  if (p.field) {
    const f = fields?.find((x) => x.key === p.field);
    vars.label = (lang === 'en' && (f?.label_en || (p.label_en as string))) || f?.label || String(p.label ?? p.field);
  }
  const s = tr(`reason.${r.key}`, vars);
  return s === `reason.${r.key}` ? r.reason : s;
}
