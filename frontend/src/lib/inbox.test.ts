import { describe, expect, it } from 'vitest';
import { boardFiltersToApi, boardFiltersToSearch, dayIn, formatInZone, groupTasks, mergeLead, parseBoardFilters, toggleFilter, unreadOf } from './inbox';
import type { Lead, Task } from './types';

const task = (id: number, due_at: string, done_at: string | null = null): Task => ({
  id, lead: 1, lead_name: 'L', kind: 'call', title: '', note: '', due_at, due_named: true, assignee: null, done_at,
  done_by: null, created_by: 'ai', created_at: due_at,
});

describe('unread', () => {
  it('is inbound minus read, never below zero', () => {
    expect(unreadOf({ inbound_count: 5, read_count: 2 })).toBe(3);
    expect(unreadOf({ inbound_count: 1, read_count: 4 })).toBe(0);
    expect(unreadOf({ inbound_count: 3, read_count: null })).toBe(3);
  });
  it('a live event keeps the user\'s read count and raises unread by itself', () => {
    const old = { id: 1, inbound_count: 2, read_count: 2, unread: 0 } as Partial<Lead>;
    const merged = mergeLead(old, { id: 1, inbound_count: 3, read_count: null, unread: null } as Partial<Lead>);
    expect([merged.read_count, merged.unread]).toEqual([2, 1]);
  });
});

describe('board filters', () => {
  it('parse, toggle and serialise; mine and unassigned exclude each other', () => {
    const f = parseBoardFilters('?view=board&only=mine,waiting,bogus&q=%20баня%20');
    expect(f).toEqual({ only: ['mine', 'waiting'], q: 'баня' });
    const g = toggleFilter(f, 'unassigned');
    expect(g.only).toEqual(['waiting', 'unassigned']);
    expect(toggleFilter(g, 'waiting').only).toEqual(['unassigned']);
    expect(boardFiltersToSearch('?view=board', g)).toBe('?view=board&only=waiting%2Cunassigned&q=%D0%B1%D0%B0%D0%BD%D1%8F');
    expect(boardFiltersToSearch('?only=hot', { only: [], q: '' })).toBe('');
    expect(parseBoardFilters('?only=mine,unassigned').only).toEqual(['unassigned']);
  });
  it('map to the API', () => {
    const p = boardFiltersToApi({ only: ['mine', 'waiting', 'hot', 'unread'], q: 'Асель' });
    expect(Object.fromEntries(p)).toEqual({ assignee: 'me', waiting: 'true', temperature: 'hot', unread: 'true', q: 'Асель' });
    expect(boardFiltersToApi({ only: ['unassigned'], q: '' }).toString()).toBe('assignee=none');
  });
});

describe('tasks in the tenant zone', () => {
  const tz = 'Asia/Almaty'; // UTC+5
  const now = Date.parse('2026-05-01T15:00:00Z'); // 20:00 in Almaty
  it('groups by the tenant calendar day', () => {
    const g = groupTasks([
      task(1, '2026-05-01T14:00:00Z'), // an hour ago: overdue
      task(2, '2026-05-01T18:30:00Z'), // 23:30 Almaty: today
      task(3, '2026-05-01T19:30:00Z'), // 00:30 tomorrow in Almaty (still 1 May in UTC): upcoming
      task(4, '2026-04-30T10:00:00Z', '2026-04-30T11:00:00Z'),
    ], now, tz);
    expect([g.overdue, g.today, g.upcoming, g.done].map((x) => x.map((t) => t.id))).toEqual([[1], [2], [3], [4]]);
  });
  it('formats on the tenant wall clock', () => {
    expect(dayIn(Date.parse('2026-05-01T19:30:00Z'), tz)).toBe('2026-05-02');
    expect(formatInZone('2026-05-01T18:30:00Z', 'ru', tz, now)).toBe('23:30');
    expect(formatInZone('2026-05-01T19:30:00Z', 'en', tz, now)).toMatch(/02\/05.*00:30/);
  });
});
