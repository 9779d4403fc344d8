import { describe, expect, it } from 'vitest';
import { scheduledFollowups } from './followups';
import type { Followup } from './types';

const f = (id: number, step: number, due_at: string, status: Followup['status'] = 'pending'): Followup =>
  ({ id, step, due_at, status, reason: '' });

describe('scheduled follow-ups on the card', () => {
  it('lists the next one first, whatever order the API gives', () => {
    const api = [f(3, 3, '2024-05-01T14:00:00Z'), f(2, 2, '2024-05-01T13:15:00Z'), f(1, 1, '2024-05-01T12:45:00Z')];
    expect(scheduledFollowups(api).map((x) => x.step)).toEqual([1, 2, 3]);
  });
  it('keeps only pending rows and orders ties by step', () => {
    const api = [f(5, 2, '2024-05-01T13:00:00Z'), f(4, 1, '2024-05-01T13:00:00Z'), f(6, 1, '2024-05-01T10:00:00Z', 'sent'),
      f(7, 3, '2024-05-01T09:00:00Z', 'cancelled')];
    expect(scheduledFollowups(api).map((x) => x.id)).toEqual([4, 5]);
  });
  it('survives no data and bad dates', () => {
    expect(scheduledFollowups(undefined)).toEqual([]);
    expect(scheduledFollowups([f(1, 2, 'garbage'), f(2, 1, '2024-05-01T13:00:00Z')]).map((x) => x.id)).toEqual([2, 1]);
  });
});
