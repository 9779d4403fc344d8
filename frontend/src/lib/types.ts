import type { AppNotification } from './notifications';
export type Role = 'owner' | 'head' | 'manager';
export type Temperature = 'hot' | 'warm' | 'cold';
export type StageKind = 'new' | 'in_dialog' | 'requests_call' | 'incomplete' | 'complete' | 'won' | 'lost' | 'custom';
export type Channel = 'whatsapp' | 'telegram' | 'instagram' | 'sandbox';

export interface Me { id: number; email: string; full_name: string; role: Role; tenant: { slug: string; name: string; timezone?: string; currency?: string } }
export interface UserShort { id: number; email: string; full_name: string }
export interface User extends UserShort { role: Role; is_active: boolean }

export interface Stage { id: number; name: string; kind: StageKind; color: string; position: number; deletable?: boolean }
// filter: the board's API query when filtered (live events cannot tell whether a lead matches: refetch instead)
export interface BoardColumn extends Stage { count: number; leads: Lead[]; page?: number; complete?: boolean; amount?: string }
export interface Board { stages: BoardColumn[]; filter?: string; currency?: string }

export interface ScoreReason { points: number; reason: string; quote?: string; key?: string; params?: Record<string, unknown> }
export interface QualField { key: string; label: string; label_en?: string | null; type: string; required: boolean; options?: string[] | null; choices?: string[] | null }
export interface LastMessage { text: string; direction: 'in' | 'out'; author_kind: AuthorKind; created_at: string }

export interface Lead {
  id: number; name: string; phone: string; city: string; channel: Channel | string; source: string; campaign: string;
  stage: number; stage_kind: StageKind; score: number; temperature: Temperature; score_reasons: ScoreReason[];
  assignee: UserShort | null; ai_enabled: boolean; handled_by: 'ai' | UserShort | null; needs_human: boolean;
  last_message: LastMessage | null; last_message_at: string | null; waiting_since: string | null; no_answer: boolean;
  data: Record<string, unknown>; fields?: QualField[]; source_info?: unknown; created_at: string; updated_at: string;
  stage_pinned?: boolean; stage_pinned_by?: UserShort | null; stage_pinned_at?: string | null;
  // The inbox: the client's message waits for our answer since; client messages ever; how many of them the current
  // user had seen (null in live events: keep the cached one); unread = inbound_count − read_count.
  client_waiting_since?: string | null; inbound_count?: number; read_count?: number | null; unread?: number | null;
  amount?: string | null; amount_by_person?: boolean; // the deal amount (decimal string, tenant currency)
  tags?: string[]; tags_auto?: string[];
}

export interface Page<T> { count: number; next: string | null; previous: string | null; results: T[] }

export type AuthorKind = 'client' | 'ai' | 'user' | 'system';
export type MessageStatus = 'received' | 'queued' | 'sent' | 'delivered' | 'read' | 'failed';
export interface Message {
  id: number; lead: number; direction: 'in' | 'out';
  kind: 'text' | 'image' | 'album' | 'audio' | 'voice' | 'video' | 'document' | 'link';
  text: string; media_url: string | null; caption: string; items: { url: string; caption: string }[] | null;
  status: MessageStatus; error: string; author_kind: AuthorKind; author: { id: number; full_name: string } | null; created_at: string;
  // A client's voice note as text (speech to text): '' nothing to transcribe | pending | done | failed.
  transcript?: string; transcript_status?: '' | 'pending' | 'done' | 'failed';
  deleted_at?: string | null; // the client withdrew it (Instagram's unsend): kept, shown as withdrawn
}

export interface LeadEvent {
  id: number; kind: string; actor: 'ai' | 'system' | { id: number; full_name: string };
  field: string; before: unknown; after: unknown; text: string; created_at: string; names?: Record<string, string>;
}
export interface Task {
  id: number; lead: number; lead_name: string; kind: 'call' | 'meeting' | 'other'; title: string; note: string; due_at: string;
  due_named: boolean; assignee: UserShort | null; done_at: string | null; done_by: UserShort | null;
  created_by: 'ai' | UserShort | null; created_at: string;
}
export interface Followup { id: number; step: number; due_at: string; status: 'pending' | 'sent' | 'cancelled' | 'skipped'; reason: string }

export interface ContentItem {
  id: number; type: 'text' | 'image' | 'album' | 'video' | 'document' | 'link' | 'voice'; url: string; title: string;
  text: string; tags: string[]; stages: StageKind[]; temperatures: Temperature[]; language: string;
}

export interface Rate { sent: number; answered: number; rate: number }
export interface Analytics {
  funnel: { stage: number; name: string; kind: StageKind; count: number }[];
  conversion: { total: number; won: number; rate: number };
  by_channel: { channel: string; count: number }[];
  by_source: { source: string; count: number }[];
  ai_first_response_seconds: { avg: number | null; p50: number | null; p90: number | null };
  handed_to_human: { count: number; share: number };
  followups: Rate; reengagement: Rate;
  by_day: { date: string; leads: number; won: number }[];
}

export type WsEvent =
  | { type: 'lead.created'; lead: Lead }
  | { type: 'lead.updated'; lead: Lead }
  | { type: 'message.created'; lead_id: number; message: Message }
  | { type: 'message.updated'; lead_id: number; message: Message }
  | { type: 'lead.removed'; lead_id: number }
  | { type: 'note.created'; lead_id: number; note: LeadNote }
  | { type: 'notification.created'; notification: AppNotification };

// Chat tools (issue 16)
export interface QuickReply { id: number; title: string; text: string; position: number }
export interface LeadNote { id: number; lead: number; text: string; author: { id: number; full_name: string } | null; created_at: string }
export interface WaTemplate { name: string; language: string; text: string; parameters: string[] }
export interface ReplyWindow { applies: boolean; open: boolean; last_inbound_at: string | null; closes_at: string | null; templates: WaTemplate[] }

export type AssignmentMode = 'off' | 'round_robin' | 'rules';
export type AssignmentWhen = 'new_lead' | 'call_request';
export interface AssignmentRule { channel: string; source: string; city: string; user_id: number }
export interface AssignmentSettings { mode: AssignmentMode; when: AssignmentWhen; rules: AssignmentRule[]; managers: UserShort[] }

export interface AnalyticsTable { columns: string[]; rows: Record<string, string | number | null>[] }
export interface AnalyticsTables {
  period: { from: string; to: string; timezone: string }; currency: string; active_days: number;
  tables: Record<string, AnalyticsTable>;
}
