import { describe, expect, it } from 'vitest';
import { emptyFilters, filtersToApi, filtersToSearch, parseFilters, updateFilters } from './filters';

describe('filters ⇄ URL', () => {
  it('round-trips', () => {
    const f = { ...emptyFilters(), stage: '3', temperature: 'hot', assignee: 'none', ai: 'off', channel: 'telegram', source: 'site',
      created_from: '2024-01-01', created_to: '2024-02-01', q: 'Иван', ordering: 'name', page: 2 };
    const s = filtersToSearch(f, { view: 'list' });
    expect(s.startsWith('?view=list&stage=3')).toBe(true);
    expect(parseFilters(s)).toEqual(f);
  });
  it('omits defaults', () => {
    expect(filtersToSearch(emptyFilters())).toBe('');
    expect(filtersToSearch({ ...emptyFilters(), q: 'a b' })).toBe('?q=a+b');
  });
  it('drops invalid values', () => {
    const f = parseFilters('?temperature=boiling&ai=maybe&created_from=yesterday&ordering=drop&page=-3');
    expect(f).toEqual(emptyFilters());
  });
  it('builds the API query with ordering and page size', () => {
    expect(filtersToApi({ ...emptyFilters(), stage: '2' })).toBe('?stage=2&ordering=-score&page=1&page_size=50');
  });
  it('a filter change resets the page', () => {
    const f = { ...emptyFilters(), page: 4 };
    expect(updateFilters(f, { stage: '1' }).page).toBe(1);
    expect(updateFilters(f, { page: 5 }).page).toBe(5);
  });
});

import { inboxActive, inboxToggle } from './filters';

describe('inbox quick filters on the list', () => {
  it('map to assignee / waiting / temperature / unread and back', () => {
    let f = parseFilters('?waiting=true&assignee=me&unread=maybe');
    expect(inboxActive(f)).toEqual(['mine', 'waiting']);
    expect(f.unread).toBe('');
    f = updateFilters(f, inboxToggle(f, 'unassigned'));
    f = updateFilters(f, inboxToggle(f, 'hot'));
    expect(inboxActive(f)).toEqual(['unassigned', 'waiting', 'hot']);
    expect(filtersToApi(f)).toContain('waiting=true');
    f = updateFilters(f, inboxToggle(f, 'waiting'));
    expect(f.waiting).toBe('');
  });
});
