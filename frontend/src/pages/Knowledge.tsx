import { useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { useT } from '../lib/i18n';
import { toast } from '../lib/toast';

/** The knowledge base the AI quotes (issue 14): Q&A, prices, delivery by city, terms. Owners and heads edit
 * inline; managers see it read-only (the API refuses their writes as well). */

import { FIELDS, KINDS, money, toBody, toDraft, type Draft, type Entry, type Kind } from '../lib/knowledge';

type Base = Record<Kind, Entry[]>;

export default function Knowledge({ canEdit }: { canEdit: boolean }) {
  const t = useT();
  const qc = useQueryClient();
  const [kind, setKind] = useState<Kind>('qa');
  const [draft, setDraft] = useState<Draft | null>(null);
  const base = useQuery<Base>({ queryKey: ['knowledge'], queryFn: () => api<Base>('/api/knowledge/'), retry: false });
  const fail = (e: unknown) => toast(t('common.error', { detail: e instanceof ApiError ? errorText(e.body, e.message) : String(e) }), 'error');

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!draft) return;
    try {
      await api(draft.id ? `/api/knowledge/${kind}/${draft.id}/` : `/api/knowledge/${kind}/`,
        { method: draft.id ? 'PATCH' : 'POST', body: toBody(kind, draft) });
      setDraft(null);
      toast(t('common.saved'));
      void qc.invalidateQueries({ queryKey: ['knowledge'] });
    } catch (err) { fail(err); }
  };
  const remove = async (id: number) => {
    if (!window.confirm(t('kb.confirmDelete'))) return;
    try {
      await api(`/api/knowledge/${kind}/${id}/`, { method: 'DELETE' });
      void qc.invalidateQueries({ queryKey: ['knowledge'] });
    } catch (e) { fail(e); }
  };

  const form = draft && (
    <form className="content-card kb-form" onSubmit={save} data-testid="kb-form">
      <div className="grid2">
        {FIELDS[kind].map((f) => (
          <label key={f.name} className={f.wide ? 'span2' : ''}>{t(`kb.f.${f.name}`)}
            {f.kind === 'area'
              ? <textarea rows={3} name={f.name} value={draft.values[f.name]} required={f.required}
                  onChange={(e) => setDraft({ ...draft, values: { ...draft.values, [f.name]: e.target.value } })} />
              : <input name={f.name} value={draft.values[f.name]} required={f.required} inputMode={f.kind === 'number' ? 'decimal' : undefined}
                  placeholder={f.kind === 'keywords' ? t('kb.keywordsHint') : f.name === 'city' ? t('kb.otherCities') : undefined}
                  onChange={(e) => setDraft({ ...draft, values: { ...draft.values, [f.name]: e.target.value } })} />}
          </label>
        ))}
      </div>
      <div className="row gap">
        <button className="btn btn-primary" type="submit" data-testid="kb-save">{t('common.save')}</button>
        <button className="btn btn-ghost" type="button" onClick={() => setDraft(null)}>{t('common.cancel')}</button>
      </div>
    </form>
  );

  const entries = base.data?.[kind] ?? [];
  return (
    <div className="page" data-testid="knowledge">
      <div className="page-head">
        <h2>{t('kb.title')}</h2>
        {canEdit && <button className="btn btn-primary" data-testid="kb-add" onClick={() => setDraft(toDraft(kind))}>{t(`kb.add.${kind}`)}</button>}
      </div>
      <p className="muted small">{t('kb.intro')}</p>
      {!canEdit && <p className="muted small" data-testid="kb-readonly">{t('kb.readonly')}</p>}
      <div className="kb-tabs" role="tablist">
        {KINDS.map((k) => (
          <button key={k} role="tab" aria-selected={k === kind} data-testid={`kb-tab-${k}`}
            className={`chip${k === kind ? ' active' : ''}`} onClick={() => { setKind(k); setDraft(null); }}>
            {t(`kb.tab.${k}`)} <span className="muted">{base.data?.[k]?.length ?? ''}</span>
          </button>
        ))}
      </div>
      {base.isError && <div className="form-error">{t('common.error', { detail: (base.error as Error).message })}</div>}
      {draft && !draft.id && form}
      {base.data && entries.length === 0 && !draft && <div className="muted">{t('kb.empty')}</div>}
      <div className="kb-list">
        {entries.map((entry) => (draft?.id === entry.id ? <div key={entry.id}>{form}</div> : (
          <div key={entry.id} className="content-card" data-testid={`kb-${kind}-${entry.id}`}>
            <EntryView kind={kind} entry={entry} />
            {canEdit && (
              <div className="row gap">
                <button className="btn btn-sm" data-testid="kb-edit" onClick={() => setDraft(toDraft(kind, entry))}>{t('common.edit')}</button>
                <button className="btn btn-sm btn-danger" data-testid="kb-delete" onClick={() => remove(entry.id)}>{t('common.delete')}</button>
              </div>
            )}
          </div>
        )))}
      </div>
    </div>
  );
}

function EntryView({ kind, entry }: { kind: Kind; entry: Entry }) {
  const t = useT();
  const s = (k: string) => String(entry[k] ?? '');
  const keywords = (entry.keywords as string[] | undefined) ?? [];
  const tags = keywords.length > 0 && <div className="small muted">{keywords.map((k) => '#' + k).join(' ')}</div>;
  const en = (k: string) => s(k) && <p className="small muted kb-en"><b>EN</b> {s(k)}</p>;
  if (kind === 'qa') return <><b>{s('question')}</b><p className="small">{s('answer')}</p>{en('answer_en')}{tags}</>;
  if (kind === 'prices') {
    const from = money(entry.price_from), to = money(entry.price_to);
    const amount = from ? (to && to !== from ? `${from}–${to}` : from) + ` ${s('currency')}` : t('kb.onRequest');
    return <><b>{s('item')}</b><div className="kb-price">{amount}{s('unit') && ` / ${s('unit')}`}</div>
      {s('note') && <p className="small muted">{s('note')}</p>}{tags}</>;
  }
  if (kind === 'delivery') return <><b>{s('city') || t('kb.otherCities')}</b><p className="small">{s('text')}</p>{en('text_en')}</>;
  return <><b>{s('title')}</b><p className="small">{s('text')}</p>{en('text_en')}{tags}</>;
}
