export type Role = 'owner' | 'head' | 'manager';
export type Temperature = 'hot' | 'warm' | 'cold';
export type StageKind = 'new' | 'in_dialog' | 'requests_call' | 'incomplete' | 'complete' | 'won' | 'lost' | 'custom';
export type Channel = 'whatsapp' | 'telegram' | 'instagram' | 'sandbox';

export interface Me { id: number; email: string; full_name: string; role: Role; tenant: { slug: string; name: string } }
export interface UserShort { id: number; email: string; full_name: string }
export interface User extends UserShort { role: Role; is_active: boolean }

export interface Stage { id: number; name: string; kind: StageKind; color: string; position: number; deletable?: boolean }
export interface BoardColumn extends Stage { count: number; leads: Lead[]; page?: number; complete?: boolean }
export interface Board { stages: BoardColumn[] }

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
  | { type: 'lead.removed'; lead_id: number };
