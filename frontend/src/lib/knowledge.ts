/** The knowledge base screen's entry kinds, their fields, and the form ⇄ API conversions (issue 14). */

export type Kind = 'qa' | 'prices' | 'delivery' | 'terms';
export type Entry = Record<string, unknown> & { id: number };
export type FieldKind = 'text' | 'area' | 'number' | 'keywords';
export interface Field { name: string; kind: FieldKind; required?: boolean; wide?: boolean }

export const KINDS: Kind[] = ['qa', 'prices', 'delivery', 'terms'];
export const FIELDS: Record<Kind, Field[]> = {
  qa: [{ name: 'question', kind: 'text', required: true, wide: true }, { name: 'answer', kind: 'area', required: true, wide: true },
    { name: 'answer_en', kind: 'area', wide: true }, { name: 'keywords', kind: 'keywords', wide: true }],
  prices: [{ name: 'item', kind: 'text', required: true, wide: true }, { name: 'unit', kind: 'text' },
    { name: 'currency', kind: 'text' }, { name: 'price_from', kind: 'number' }, { name: 'price_to', kind: 'number' },
    { name: 'note', kind: 'text', wide: true }, { name: 'keywords', kind: 'keywords', wide: true }],
  delivery: [{ name: 'city', kind: 'text', wide: true }, { name: 'text', kind: 'area', required: true, wide: true },
    { name: 'text_en', kind: 'area', wide: true }],
  terms: [{ name: 'title', kind: 'text', required: true, wide: true }, { name: 'text', kind: 'area', required: true, wide: true },
    { name: 'text_en', kind: 'area', wide: true }, { name: 'keywords', kind: 'keywords', wide: true }],
};
export type Draft = { id?: number; values: Record<string, string> };

export const money = (v: unknown) => (v === null || v === undefined || v === '' ? '' : Number(v).toLocaleString('ru-RU'));

export function toDraft(kind: Kind, entry?: Entry): Draft {
  const values: Record<string, string> = {};
  for (const f of FIELDS[kind]) {
    const v = entry?.[f.name];
    values[f.name] = Array.isArray(v) ? v.join(', ') : v === null || v === undefined ? '' : String(v);
  }
  if (kind === 'prices' && !entry) values.currency = 'KZT';
  return { id: entry?.id, values };
}

export function toBody(kind: Kind, draft: Draft): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const f of FIELDS[kind]) {
    const raw = (draft.values[f.name] ?? '').trim();
    if (f.kind === 'keywords') body[f.name] = raw.split(',').map((s) => s.trim()).filter(Boolean);
    else if (f.kind === 'number') {
      const num = Number(raw.replace(/\s/g, '').replace(',', '.'));
      body[f.name] = raw === '' ? null : Number.isFinite(num) ? num : raw; // not a number: the server names the field
    }
    else if (f.name === 'currency' && !raw) continue;
    else body[f.name] = raw;
  }
  return body;
}
