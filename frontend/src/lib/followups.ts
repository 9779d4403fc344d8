import type { Followup } from './types';

/** The card's scheduled follow-ups in the order they will go out: the next one first (the API lists rows newest
 * created first, which put the last step on top). Ties on the due time fall back to the step, then the id. */
export function scheduledFollowups(rows: readonly Followup[] | undefined): Followup[] {
  const due = (f: Followup) => { const t = Date.parse(f.due_at); return Number.isNaN(t) ? Number.MAX_SAFE_INTEGER : t; };
  return (rows ?? []).filter((f) => f.status === 'pending')
    .sort((a, b) => due(a) - due(b) || a.step - b.step || a.id - b.id);
}
