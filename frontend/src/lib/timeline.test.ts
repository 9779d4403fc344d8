import { describe, expect, it } from 'vitest';
import { describeEvent, describeReason, describeTask, describeWhen, timelineEntries } from './timeline';
import type { LeadEvent, QualField } from './types';

// Local times, so the test reads the same in any time zone: Monday 30 Nov 2026, 15:20.
const NOW = new Date(2026, 10, 30, 15, 20).getTime();
const at = (day: number, h: number, m = 0, month = 10) => new Date(2026, month, day, h, m).toISOString();
const FIELDS: QualField[] = [
  { key: 'windows', label: 'Окна', label_en: 'Windows', type: 'number', required: true },
  { key: 'dimensions', label: 'Размеры дома', label_en: 'House dimensions', type: 'dimensions', required: true },
  { key: 'has_project', label: 'Есть проект', label_en: 'Has a project', type: 'boolean', required: true },
];
let nextId = 1;
const ev = (kind: string, extra: Partial<LeadEvent> = {}): LeadEvent => ({
  id: nextId++, kind, actor: 'ai', field: '', before: null, after: null, text: '', created_at: at(30, 15), ...extra,
});

describe('describeWhen', () => {
  it('says the day in words in both languages', () => {
    expect(describeWhen(at(30, 18), 'ru', NOW)).toBe('сегодня в 18:00');
    expect(describeWhen(at(1, 11, 0, 11), 'ru', NOW)).toBe('завтра в 11:00');
    expect(describeWhen(at(1, 11, 0, 11), 'en', NOW)).toBe('tomorrow at 11:00');
    expect(describeWhen(at(4, 14, 0, 11), 'ru', NOW)).toBe('в пятницу в 14:00');
    expect(describeWhen(at(4, 14, 0, 11), 'en', NOW)).toBe('on Friday at 14:00');
    expect(describeWhen(at(24, 9, 30, 11), 'ru', NOW)).toBe('24.12 в 09:30');
    expect(describeWhen('garbage', 'ru', NOW)).toBe('');
  });
});

describe('describeTask', () => {
  it('reads a task as a sentence, never JSON', () => {
    expect(describeTask({ kind: 'call', title: '', due_at: at(1, 11, 0, 11) }, 'ru', NOW)).toBe('Позвонить завтра в 11:00');
    expect(describeTask({ kind: 'call', title: '', due_at: at(1, 11, 0, 11) }, 'en', NOW)).toBe('Call tomorrow at 11:00');
    expect(describeTask({ kind: 'meeting', title: '', due_at: at(30, 18) }, 'ru', NOW)).toBe('Встреча сегодня в 18:00');
    expect(describeTask({ kind: 'other', title: 'Отправить смету', due_at: at(30, 18) }, 'ru', NOW)).toBe('Отправить смету — сегодня в 18:00');
  });
});

describe('timeline sentences', () => {
  it('each kind reads as a sentence in the UI language, with names instead of e-mails', () => {
    const opts = { fields: FIELDS, now: NOW };
    expect(describeEvent(ev('stage_changed', { field: 'stage', before: { id: 1, name: 'Новые', kind: 'new' }, after: { id: 2, name: 'Полные данные', kind: 'complete' } }), 'ru', opts))
      .toBe('Этап: «Новые» → «Полные данные»');
    expect(describeEvent(ev('assigned', { field: 'assignee', after: 'anna@stroy.kz', names: { 'anna@stroy.kz': 'Анна Петрова' } }), 'en', opts))
      .toBe('Assigned to Анна Петрова');
    expect(describeEvent(ev('takeover', { field: 'handled_by', before: 'ai', after: 'gone@stroy.kz' }), 'ru', opts))
      .toBe('gone ведёт диалог вместо AI');
    expect(describeEvent(ev('score_changed', { field: 'score', before: { score: 37, temperature: 'warm' }, after: { score: 72, temperature: 'hot' } }), 'ru', opts))
      .toBe('Скоринг 37 → 72: тёплый → горячий');
    expect(describeEvent(ev('score_changed', { before: { score: 37, temperature: 'warm' }, after: { score: 40, temperature: 'warm' } }), 'en', opts))
      .toBe('Score 37 → 40');
    expect(describeEvent(ev('data_changed', { field: 'windows', before: 10, after: 12 }), 'ru', opts)).toBe('Окна: 10 → 12');
    expect(describeEvent(ev('data_changed', { field: 'windows', before: null, after: 10 }), 'en', opts)).toBe('Windows: 10');
    expect(describeEvent(ev('data_changed', { field: 'dimensions', after: { length: 10, width: 12, height: 3 } }), 'ru', opts))
      .toBe('Размеры дома: 10×12×3 м');
    expect(describeEvent(ev('data_changed', { field: 'has_project', after: false }), 'en', opts)).toBe('Has a project: No');
    expect(describeEvent(ev('call_requested', { after: { preferred_time: 'завтра в 11', due_at: at(1, 11, 0, 11), named: true } }), 'ru', opts))
      .toBe('Клиент просит позвонить завтра в 11:00');
    expect(describeEvent(ev('call_requested', { after: { preferred_time: 'когда удобно', due_at: at(30, 15, 20), named: false } }), 'en', opts))
      .toBe('The client asks for a call: “когда удобно”');
    expect(describeEvent(ev('meeting_booked', { after: { event_id: 'e1', link: 'https://meet.google.com/x' } }), 'en', opts))
      .toBe('Meeting booked in Google Calendar');
    expect(describeEvent(ev('task_done', { after: { kind: 'call', title: '', due_at: at(1, 11, 0, 11) } }), 'ru', opts))
      .toBe('Задача выполнена: Позвонить завтра в 11:00');
    expect(describeEvent(ev('field_changed', { field: 'city', before: '', after: 'Алматы' }), 'en', opts)).toBe('City: Алматы');
    expect(describeEvent(ev('something_new', { after: { deep: { x: 1 } } }), 'ru', opts)).toBe('Изменение');
  });

  it('one entry per change: the call request and the handoff fold their field entries', () => {
    nextId = 100;
    const events = [
      ev('field_changed', { field: 'call_requested', before: false, after: true }),
      ev('field_changed', { field: 'preferred_time', before: '', after: 'завтра в 11' }),
      ev('call_requested', { after: { preferred_time: 'завтра в 11', due_at: at(1, 11, 0, 11), named: true } }),
      ev('field_changed', { field: 'needs_human', before: false, after: true, created_at: at(30, 16) }),
      ev('field_changed', { field: 'needs_human_reason', before: '', after: 'Просит человека', created_at: at(30, 16) }),
      ev('field_changed', { field: 'ai_enabled', before: true, after: false, created_at: at(30, 16) }),
      ev('handoff', { text: 'клиент просит менеджера', created_at: at(30, 16) }),
      ev('field_changed', { field: 'needs_human', before: false, after: true, created_at: at(30, 17) }),
      ev('field_changed', { field: 'needs_human_reason', before: '', after: 'LLM недоступна', created_at: at(30, 17) }),
    ];
    const texts = timelineEntries(events, 'ru', { now: NOW }).map((e) => e.text);
    expect(texts).toEqual([
      'Нужен менеджер: LLM недоступна',
      'AI передал диалог менеджеру: клиент просит менеджера',
      'Клиент просит позвонить завтра в 11:00',
    ]);
    for (const text of timelineEntries(events, 'en', { now: NOW }).map((e) => e.text)) {
      expect(text).not.toMatch(/[{}]|needs_human|preferred_time|@/);
    }
  });
});

describe('describeReason', () => {
  it('renders the key and params in the UI language, old reasons as stored', () => {
    const known = { points: 7, key: 'known', params: { field: 'windows', label: 'Окна', label_en: 'Windows' }, reason: 'Известно: Окна' };
    expect(describeReason(known, 'en', FIELDS)).toBe('Known: Windows');
    expect(describeReason(known, 'ru', FIELDS)).toBe('Известно: Окна');
    expect(describeReason({ points: -15, key: 'silence', params: { days: 3 }, reason: 'Молчит 3 дн.' }, 'en')).toBe('Silent for 3 d');
    expect(describeReason({ points: -15, key: 'thinking', params: {}, reason: '' }, 'ru')).toBe('Взял паузу подумать');
    expect(describeReason({ points: 20, reason: 'Просит звонок' }, 'en')).toBe('Просит звонок');
  });
});
