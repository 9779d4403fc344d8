import { describe, expect, it } from 'vitest';
import { chatItems, fillPlaceholders, filterReplies, slashQuery, telHref, waHref } from './chatTools';
import type { LeadNote, Message } from './types';

const lead = { name: 'Айгерим', phone: '+7 (701) 111-22-33', city: 'Алматы' };

describe('fillPlaceholders', () => {
  it('fills the lead and the sender, in English and Russian names', () => {
    expect(fillPlaceholders('Здравствуйте, {name}! {город}, {manager} из {company}', { lead, manager: 'Дана', company: 'СтройДом' }))
      .toBe('Здравствуйте, Айгерим! Алматы, Дана из СтройДом');
  });
  it('leaves empty and unknown placeholders as typed', () => {
    expect(fillPlaceholders('Привет, {name}! {budget}', { lead: { ...lead, name: '' } })).toBe('Привет, {name}! {budget}');
  });
});

describe('slash filter', () => {
  it('only a leading slash word is a command', () => {
    expect(slashQuery('/цен')).toBe('цен');
    expect(slashQuery('/')).toBe('');
    expect(slashQuery('цена /x')).toBeNull();
    expect(slashQuery('/цена и')).toBeNull();
  });
  it('filters by title, case-insensitive', () => {
    const replies = [{ id: 1, title: 'Цена', text: 'a', position: 0 }, { id: 2, title: 'Адрес', text: 'b', position: 1 }];
    expect(filterReplies(replies, 'цЕн').map((r) => r.id)).toEqual([1]);
    expect(filterReplies(replies, '').map((r) => r.id)).toEqual([1, 2]);
  });
});

describe('phone links', () => {
  it('tel and wa.me take the digits', () => {
    expect(telHref(lead.phone)).toBe('tel:+77011112233');
    expect(waHref(lead.phone)).toBe('https://wa.me/77011112233');
    expect(waHref('12')).toBeNull();
    expect(telHref('')).toBeNull();
  });
});

describe('chatItems', () => {
  const m = (id: number, at: string) => ({ id, created_at: at } as Message);
  const n = (id: number, at: string) => ({ id, created_at: at } as LeadNote);
  it('merges notes between messages by time and hides notes older than the loaded page', () => {
    const items = chatItems([m(1, '2026-01-01T10:00:00Z'), m(2, '2026-01-01T12:00:00Z')],
      [n(7, '2026-01-01T11:00:00Z'), n(8, '2026-01-01T09:00:00Z'), n(9, '2026-01-01T12:00:00Z')]);
    expect(items.map((i) => (i.type === 'note' ? `n${i.note.id}` : `m${i.message.id}`))).toEqual(['m1', 'n7', 'm2', 'n9']);
  });
});
