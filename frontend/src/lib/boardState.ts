// Pure state transitions of the Kanban board (kept in the TanStack Query cache under ['board']).
import type { Board, BoardColumn, Lead, Message, Page } from './types';
import { mergeLead } from './inbox';

export interface MovePrev { stage: number; index: number; lead: Lead }

/** Inserts keeping the column ordered by score, highest first (a new card goes after equal scores). */
export function insertByScore(leads: Lead[], lead: Lead): Lead[] {
  const out = leads.filter((l) => l.id !== lead.id);
  let i = out.findIndex((l) => l.score < lead.score);
  if (i < 0) i = out.length;
  out.splice(i, 0, lead);
  return out;
}

export function findLead(board: Board, leadId: number): { column: BoardColumn; index: number; lead: Lead } | null {
  for (const column of board.stages) {
    const index = column.leads.findIndex((l) => l.id === leadId);
    if (index >= 0) return { column, index, lead: column.leads[index] };
  }
  return null;
}

function mapColumns(board: Board, fn: (c: BoardColumn) => BoardColumn): Board {
  return { ...board, stages: board.stages.map(fn) };
}

/** Whether a card with this score belongs to the already-loaded head of a column (else only the count changes). */
function fitsLoaded(column: BoardColumn, lead: Lead): boolean {
  if (column.leads.length >= column.count) return true;
  const last = column.leads[column.leads.length - 1];
  return !last || lead.score >= last.score;
}

const amountOf = (l?: Lead | null) => Number(l?.amount ?? 0) || 0;
/** The column's deal-amount total moved by `delta` (the board's per-stage totals follow the cards). */
export function shiftAmount(c: BoardColumn, delta: number): BoardColumn {
  return delta ? { ...c, amount: (Number(c.amount ?? 0) + delta).toFixed(2) } : c;
}

/** Optimistic move of a card to another stage. Returns the new board and what is needed to roll it back. */
export function moveCard(board: Board, leadId: number, toStage: number): { board: Board; prev: MovePrev | null } {
  const found = findLead(board, leadId);
  const target = board.stages.find((c) => c.id === toStage);
  if (!found || !target || found.column.id === toStage) return { board, prev: null };
  const moved: Lead = { ...found.lead, stage: toStage, stage_kind: target.kind };
  const next = mapColumns(board, (c) => {
    if (c.id === found.column.id) return shiftAmount({ ...c, count: Math.max(0, c.count - 1), leads: c.leads.filter((l) => l.id !== leadId) }, -amountOf(found.lead));
    if (c.id === toStage) return shiftAmount({ ...c, count: c.count + 1, leads: insertByScore(c.leads, moved) }, amountOf(moved));
    return c;
  });
  return { board: next, prev: { stage: found.column.id, index: found.index, lead: found.lead } };
}

/** Undo a refused move: take the card out of wherever it is now and put the original back. */
export function rollbackMove(board: Board, leadId: number, prev: MovePrev): Board {
  const now = findLead(board, leadId);
  return mapColumns(board, (c) => {
    let col = c;
    if (now && c.id === now.column.id) col = shiftAmount({ ...col, count: Math.max(0, col.count - 1), leads: col.leads.filter((l) => l.id !== leadId) }, -amountOf(now.lead));
    if (c.id === prev.stage) {
      const leads = col.leads.filter((l) => l.id !== leadId);
      leads.splice(Math.min(prev.index, leads.length), 0, prev.lead);
      col = shiftAmount({ ...col, count: col.count + 1, leads }, amountOf(prev.lead));
    }
    return col;
  });
}

/**
 * Applies a lead coming from the server (websocket or a PATCH response).
 * `stale` is true when the counts cannot be known (an updated lead we had not loaded) — refetch then.
 */
export function upsertLead(board: Board, lead: Lead, created: boolean): { board: Board; stale: boolean } {
  const found = findLead(board, lead.id);
  const target = board.stages.find((c) => c.id === lead.stage);
  if (!found) {
    if (!created) return { board, stale: true };
    if (!target) return { board, stale: true };
    return {
      board: mapColumns(board, (c) => (c.id === target.id
        ? shiftAmount({ ...c, count: c.count + 1, leads: fitsLoaded(c, lead) ? insertByScore(c.leads, lead) : c.leads }, amountOf(lead))
        : c)),
      stale: false,
    };
  }
  const merged: Lead = mergeLead(found.lead, lead);
  if (found.column.id === lead.stage) {
    return { board: mapColumns(board, (c) => (c.id === lead.stage ? shiftAmount({ ...c, leads: insertByScore(c.leads, merged) }, amountOf(merged) - amountOf(found.lead)) : c)), stale: false };
  }
  if (!target) {
    // moved to a stage we do not have (deleted / hidden): just drop it
    return { board: mapColumns(board, (c) => (c.id === found.column.id ? shiftAmount({ ...c, count: Math.max(0, c.count - 1), leads: c.leads.filter((l) => l.id !== lead.id) }, -amountOf(found.lead)) : c)), stale: true };
  }
  return {
    board: mapColumns(board, (c) => {
      if (c.id === found.column.id) return shiftAmount({ ...c, count: Math.max(0, c.count - 1), leads: c.leads.filter((l) => l.id !== lead.id) }, -amountOf(found.lead));
      if (c.id === target.id) return shiftAmount({ ...c, count: c.count + 1, leads: fitsLoaded(c, merged) ? insertByScore(c.leads, merged) : c.leads }, amountOf(merged));
      return c;
    }),
    stale: false,
  };
}

/** Appends a further page of a column, skipping cards already present anywhere on the board. */
export function appendColumnPage(board: Board, stageId: number, page: Page<Lead>, pageNo: number): Board {
  const seen = new Set<number>();
  board.stages.forEach((c) => c.leads.forEach((l) => seen.add(l.id)));
  return mapColumns(board, (c) => (c.id === stageId
    ? { ...c, count: page.count, page: pageNo, complete: !page.next, leads: [...c.leads, ...page.results.filter((l) => !seen.has(l.id))] }
    : c));
}

/** Whether a column has more cards on the server than loaded. */
export function columnHasMore(c: BoardColumn): boolean {
  return !c.complete && c.leads.length < c.count;
}

export function setLastMessage(board: Board, leadId: number, m: Message): Board {
  const found = findLead(board, leadId);
  if (!found) return board;
  const lead: Lead = {
    ...found.lead,
    last_message: { text: m.text || m.caption || `[${m.kind}]`, direction: m.direction, author_kind: m.author_kind, created_at: m.created_at },
    last_message_at: m.created_at,
  };
  return mapColumns(board, (c) => (c.id === found.column.id ? { ...c, leads: c.leads.map((l) => (l.id === leadId ? lead : l)) } : c));
}

/** Next page to ask for: the board gives page 1 (pages are BOARD_PAGE_SIZE long). */
export const BOARD_PAGE_SIZE = 30;
export function nextPageFor(c: BoardColumn): number {
  return (c.page ?? 1) + 1;
}

/** A lead this user may no longer see (reassigned away from a manager who sees only their own leads). */
export function removeLead(board: Board, leadId: number): Board {
  return mapColumns(board, (c) => (c.leads.some((l) => l.id === leadId)
    ? shiftAmount({ ...c, leads: c.leads.filter((l) => l.id !== leadId), count: Math.max(0, c.count - 1) },
      -amountOf(c.leads.find((l) => l.id === leadId)))
    : c));
}
