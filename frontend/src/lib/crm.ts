// Helpers of the CRM basics (issue 16): the export link of the filtered list, tag input, the import's column mapping.
import { filtersToApi, parseFilters } from './filters';

/** The export URL for the list as filtered in `search` (the same filters, no paging). */
export function exportUrl(search: string): string {
  const p = new URLSearchParams(filtersToApi(parseFilters(search)).slice(1));
  p.delete('page'); p.delete('page_size');
  const s = p.toString();
  return `/api/leads/export/${s ? `?${s}` : ''}`;
}

/** A tag as the server stores it: trimmed, spaces collapsed, lower-case, no leading '#'. */
export function normTag(raw: string): string {
  return raw.replace(/\s+/g, ' ').trim().replace(/^#+/, '').trim().toLowerCase();
}

/** Adds typed tags (comma-separated) to a list, each once, keeping order. */
export function addTags(current: string[], typed: string): string[] {
  const next = [...current];
  for (const part of typed.split(',')) { const tag = normTag(part); if (tag && !next.includes(tag)) next.push(tag); }
  return next;
}

export const IMPORT_FIELDS = ['name', 'phone', 'email', 'city', 'source', 'tags'] as const;

/** The mapping with `field` moved to `column` (or dropped for -1); a column holds at most one field. */
export function remap(mapping: Record<string, number>, field: string, column: number): Record<string, number> {
  const next: Record<string, number> = {};
  for (const [f, c] of Object.entries(mapping)) if (f !== field && c !== column) next[f] = c;
  if (column >= 0) next[field] = column;
  return next;
}

/** Selection of list rows: toggles one id, or all ids of the page at once. */
export function toggleId(selected: number[], id: number): number[] {
  return selected.includes(id) ? selected.filter((x) => x !== id) : [...selected, id];
}
export function toggleAll(selected: number[], pageIds: number[]): number[] {
  const all = pageIds.length > 0 && pageIds.every((id) => selected.includes(id));
  return all ? selected.filter((id) => !pageIds.includes(id)) : [...selected, ...pageIds.filter((id) => !selected.includes(id))];
}
