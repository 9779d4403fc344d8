import { describe, expect, it } from 'vitest';
import { appendColumnPage, columnHasMore, insertByScore, moveCard, nextPageFor, rollbackMove, upsertLead } from './boardState';
import { mkBoard, mkLead } from './fixtures';

const ids = (b: ReturnType<typeof mkBoard>, col: number) => b.stages.find((c) => c.id === col)!.leads.map((l) => l.id);
const count = (b: ReturnType<typeof mkBoard>, col: number) => b.stages.find((c) => c.id === col)!.count;

describe('board: optimistic move and rollback', () => {
  it('moves a card into the target column by score and updates counts', () => {
    const { board, prev } = moveCard(mkBoard(), 2, 2);
    expect(ids(board, 1)).toEqual([1, 3]);
    expect(ids(board, 2)).toEqual([4, 2, 5]);
    expect(count(board, 1)).toBe(2);
    expect(count(board, 2)).toBe(3);
    expect(board.stages[1].leads[1].stage).toBe(2);
    expect(board.stages[1].leads[1].stage_kind).toBe('in_dialog');
    expect(prev).toMatchObject({ stage: 1, index: 1 });
  });
  it('rolls back to the exact place', () => {
    const start = mkBoard();
    const { board, prev } = moveCard(start, 2, 3);
    const back = rollbackMove(board, 2, prev!);
    expect(back).toEqual(start);
  });
  it('rollback keeps unrelated concurrent changes', () => {
    const { board, prev } = moveCard(mkBoard(), 2, 3);
    const withNew = upsertLead(board, mkLead(9, 2, 99), true).board;
    const back = rollbackMove(withNew, 2, prev!);
    expect(ids(back, 1)).toEqual([1, 2, 3]);
    expect(ids(back, 2)).toEqual([9, 4, 5]);
    expect(count(back, 3)).toBe(0);
  });
  it('is a no-op for the same column or an unknown lead', () => {
    const b = mkBoard();
    expect(moveCard(b, 1, 1)).toEqual({ board: b, prev: null });
    expect(moveCard(b, 777, 2)).toEqual({ board: b, prev: null });
  });
});

describe('board: server updates', () => {
  it('a created lead lands in its column sorted and counted', () => {
    const { board } = upsertLead(mkBoard(), mkLead(10, 1, 60), true);
    expect(ids(board, 1)).toEqual([1, 10, 2, 3]);
    expect(count(board, 1)).toBe(4);
  });
  it('an updated lead moves between columns', () => {
    const { board, stale } = upsertLead(mkBoard(), mkLead(4, 3, 80, { name: 'X' }), false);
    expect(stale).toBe(false);
    expect(ids(board, 2)).toEqual([5]);
    expect(ids(board, 3)).toEqual([4]);
    expect(board.stages[2].leads[0].name).toBe('X');
  });
  it('a score change re-sorts inside the column', () => {
    const { board } = upsertLead(mkBoard(), mkLead(3, 1, 95), false);
    expect(ids(board, 1)).toEqual([3, 1, 2]);
  });
  it('an update of an unloaded lead marks the board stale', () => {
    expect(upsertLead(mkBoard(), mkLead(99, 1, 5), false).stale).toBe(true);
  });
  it('a low-score new lead in a partially loaded column only bumps the count', () => {
    const b = mkBoard();
    b.stages[0].count = 100;
    const { board } = upsertLead(b, mkLead(11, 1, 1), true);
    expect(ids(board, 1)).toEqual([1, 2, 3]);
    expect(count(board, 1)).toBe(101);
  });
  it('insertByScore replaces an existing copy', () => {
    const l = insertByScore([mkLead(1, 1, 50), mkLead(2, 1, 40)], mkLead(2, 1, 60));
    expect(l.map((x) => x.id)).toEqual([2, 1]);
  });
});

describe('board: paging a column', () => {
  it('appends a page without duplicates and tracks completion', () => {
    const b = mkBoard();
    b.stages[0].count = 5;
    expect(columnHasMore(b.stages[0])).toBe(true);
    expect(nextPageFor(b.stages[0])).toBe(2);
    const next = appendColumnPage(b, 1, { count: 5, next: null, previous: null, results: [mkLead(3, 1, 10), mkLead(20, 1, 5), mkLead(21, 1, 4)] }, 2);
    expect(ids(next, 1)).toEqual([1, 2, 3, 20, 21]);
    expect(columnHasMore(next.stages[0])).toBe(false);
    expect(nextPageFor(next.stages[0])).toBe(3);
  });
});
