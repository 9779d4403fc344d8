import { describe, expect, it } from 'vitest';
import { moveCard, removeLead, rollbackMove, upsertLead } from './boardState';
import { mkBoard, mkLead } from './fixtures';
import type { Board } from './types';

const amount = (b: Board, col: number) => b.stages.find((c) => c.id === col)!.amount;

function withAmounts(): Board {
  const b = mkBoard();
  b.stages[0] = { ...b.stages[0], amount: '1500.00', leads: b.stages[0].leads.map((l, i) => (i === 1 ? { ...l, amount: '1000.00' } : i === 0 ? { ...l, amount: '500.00' } : l)) };
  b.stages[1] = { ...b.stages[1], amount: '0.00' };
  return b;
}

describe('board: per-stage amount totals follow the cards', () => {
  it('moves the amount with an optimistic move and back on rollback', () => {
    const start = withAmounts();
    const { board, prev } = moveCard(start, 2, 2);
    expect(amount(board, 1)).toBe('500.00');
    expect(amount(board, 2)).toBe('1000.00');
    const back = rollbackMove(board, 2, prev!);
    expect(amount(back, 1)).toBe('1500.00');
    expect(amount(back, 2)).toBe('0.00');
  });
  it('applies an amount edited on the card and a new lead with an amount', () => {
    const edited = upsertLead(withAmounts(), mkLead(1, 1, 90, { amount: '800.00' }), false).board;
    expect(amount(edited, 1)).toBe('1800.00');
    const created = upsertLead(edited, mkLead(9, 2, 99, { amount: '250.50' }), true).board;
    expect(amount(created, 2)).toBe('250.50');
    const moved = upsertLead(created, mkLead(2, 3, 50, { amount: '1000.00' }), false).board;
    expect([amount(moved, 1), amount(moved, 3)]).toEqual(['800.00', '1000.00']);
  });
  it('takes the amount away with a removed lead', () => {
    expect(amount(removeLead(withAmounts(), 2), 1)).toBe('500.00');
  });
});
