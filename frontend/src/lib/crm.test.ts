import { describe, expect, it } from 'vitest';
import { addTags, exportUrl, normTag, remap, toggleAll, toggleId } from './crm';
import { describeEvent } from './timeline';

describe('crm helpers', () => {
  it('exports the filtered list without paging', () => {
    expect(exportUrl('?view=list&temperature=hot&tag=vip&page=3')).toBe('/api/leads/export/?temperature=hot&ordering=-score&tag=vip');
    expect(exportUrl('')).toBe('/api/leads/export/?ordering=-score');
  });
  it('normalises tags as the server does', () => {
    expect(normTag('  #VIP  клиент ')).toBe('vip клиент');
    expect(addTags(['vip'], 'Дом, vip, , баня')).toEqual(['vip', 'дом', 'баня']);
  });
  it('keeps one field per column when remapping', () => {
    expect(remap({ name: 0, phone: 1 }, 'city', 1)).toEqual({ name: 0, city: 1 });
    expect(remap({ name: 0, phone: 1 }, 'phone', -1)).toEqual({ name: 0 });
  });
  it('selects rows one by one or the whole page', () => {
    expect(toggleId([1, 2], 2)).toEqual([1]);
    expect(toggleAll([1], [1, 2, 3])).toEqual([1, 2, 3]);
    expect(toggleAll([1, 2, 3, 9], [1, 2, 3])).toEqual([9]);
  });
  it('tells a tag change as added and removed tags', () => {
    const e = { id: 1, kind: 'tags_changed', actor: 'ai', field: 'tags', before: ['vip', 'дом'], after: ['vip', 'цена'], text: '', created_at: '2026-01-01T00:00:00Z' };
    expect(describeEvent(e as never, 'ru')).toBe('Теги: +цена, −дом');
    expect(describeEvent(e as never, 'en')).toBe('Tags: +цена, −дом');
  });
});
