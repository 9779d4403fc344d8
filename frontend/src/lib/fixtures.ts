import type { Board, Lead, Message } from './types';

export function mkLead(id: number, stage: number, score: number, extra: Partial<Lead> = {}): Lead {
  return {
    id, name: `Lead ${id}`, phone: `+7700000${id}`, city: '', channel: 'sandbox', source: '', campaign: '',
    stage, stage_kind: 'new', score, temperature: score > 70 ? 'hot' : score > 40 ? 'warm' : 'cold', score_reasons: [],
    assignee: null, ai_enabled: true, handled_by: 'ai', needs_human: false, last_message: null, last_message_at: null,
    waiting_since: null, no_answer: false, data: {}, created_at: '2024-01-01T00:00:00Z', updated_at: '2024-01-01T00:00:00Z',
    ...extra,
  };
}

export function mkBoard(): Board {
  return {
    stages: [
      { id: 1, name: 'Новая', kind: 'new', color: '#999999', position: 0, count: 3, leads: [mkLead(1, 1, 90), mkLead(2, 1, 50), mkLead(3, 1, 10)] },
      { id: 2, name: 'В диалоге', kind: 'in_dialog', color: '#3366ff', position: 1, count: 2, leads: [mkLead(4, 2, 80), mkLead(5, 2, 20)] },
      { id: 3, name: 'Успешно', kind: 'won', color: '#22aa44', position: 2, count: 0, leads: [] },
    ],
  };
}

export function mkMessage(id: number, lead: number, extra: Partial<Message> = {}): Message {
  return {
    id, lead, direction: 'in', kind: 'text', text: `msg ${id}`, media_url: null, caption: '', items: null, status: 'received',
    error: '', author_kind: 'client', author: null, created_at: `2024-01-01T00:00:${String(id).padStart(2, '0')}Z`, ...extra,
  };
}
