import { useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { ContentItem, StageKind, Temperature } from '../lib/types';
import { QuickRepliesManager } from '../components/ChatTools';

const TYPES: ContentItem['type'][] = ['text', 'image', 'album', 'video', 'document', 'link', 'voice'];
const KINDS: StageKind[] = ['new', 'in_dialog', 'requests_call', 'incomplete', 'complete', 'won', 'lost'];
const TEMPS: Temperature[] = ['hot', 'warm', 'cold'];
type Draft = Omit<ContentItem, 'id'> & { id?: number; tagsText: string };
const empty = (): Draft => ({ type: 'text', url: '', title: '', text: '', tags: [], tagsText: '', stages: [], temperatures: [], language: 'ru' });

export default function Content() {
  const t = useT();
  const qc = useQueryClient();
  const items = useQuery<ContentItem[]>({
    queryKey: ['content'],
    queryFn: async () => { const r = await api<ContentItem[] | { results: ContentItem[] }>('/api/content/'); return Array.isArray(r) ? r : r.results; },
    retry: false,
  });
  const [draft, setDraft] = useState<Draft | null>(null);
  const fail = (e: unknown) => toast(t('common.error', { detail: e instanceof ApiError ? errorText(e.body, e.message) : String(e) }), 'error');
  const toggle = <T,>(arr: T[], v: T) => (arr.includes(v) ? arr.filter((x) => x !== v) : [...arr, v]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!draft) return;
    const { id, tagsText, ...rest } = draft;
    const body = { ...rest, tags: tagsText.split(',').map((s) => s.trim()).filter(Boolean) };
    try {
      await api(id ? `/api/content/${id}/` : '/api/content/', { method: id ? 'PATCH' : 'POST', body });
      setDraft(null);
      void qc.invalidateQueries({ queryKey: ['content'] });
    } catch (err) { fail(err); }
  };
  const remove = async (id: number) => {
    try { await api(`/api/content/${id}/`, { method: 'DELETE' }); void qc.invalidateQueries({ queryKey: ['content'] }); } catch (e) { fail(e); }
  };

  return (
    <div className="page" data-testid="content">
      <div className="page-head">
        <h2>{t('content.title')}</h2>
        <button className="btn btn-primary" onClick={() => setDraft(empty())} data-testid="content-add">{t('content.add')}</button>
      </div>
      {items.isError && <div className="form-error">{t('common.error', { detail: (items.error as Error).message })}</div>}
      {items.data?.length === 0 && <div className="muted">{t('content.empty')}</div>}
      <div className="content-grid">
        {items.data?.map((c) => (
          <div key={c.id} className="content-card" data-testid={`content-${c.id}`}>
            <div className="row gap"><span className="badge">{c.type}</span><b className="grow">{c.title}</b><span className="muted small">{c.language}</span></div>
            {c.type === 'image' && c.url && <img src={c.url} alt="" className="content-img" loading="lazy" />}
            {c.text && <p className="small">{c.text}</p>}
            {c.url && <a className="small ellipsis" href={c.url} target="_blank" rel="noreferrer">{c.url}</a>}
            <div className="small muted">{[...c.tags.map((x) => '#' + x), ...c.stages.map((k) => t(`kind.${k}`)), ...c.temperatures.map((x) => t(`temp.${x}`))].join(' · ')}</div>
            <div className="row gap">
              <button className="btn btn-sm" onClick={() => setDraft({ ...c, tagsText: c.tags.join(', ') })}>{t('common.edit')}</button>
              <button className="btn btn-sm btn-danger" onClick={() => remove(c.id)}>{t('common.delete')}</button>
            </div>
          </div>
        ))}
      </div>
      <QuickRepliesManager />
      {draft && (
        <div className="modal-backdrop" onClick={(e) => { if (e.target === e.currentTarget) setDraft(null); }}>
          <form className="modal" onSubmit={save} data-testid="content-form">
            <div className="grid2">
              <label>{t('content.type')}<select value={draft.type} onChange={(e) => setDraft({ ...draft, type: e.target.value as ContentItem['type'] })}>
                {TYPES.map((x) => <option key={x} value={x}>{x}</option>)}</select></label>
              <label>{t('content.language')}<select value={draft.language} onChange={(e) => setDraft({ ...draft, language: e.target.value })}>
                <option value="ru">ru</option><option value="en">en</option><option value="kk">kk</option></select></label>
            </div>
            <label>{t('content.titleField')}<input value={draft.title} onChange={(e) => setDraft({ ...draft, title: e.target.value })} required /></label>
            <label>{t('content.url')}<input value={draft.url} onChange={(e) => setDraft({ ...draft, url: e.target.value })} /></label>
            <label>{t('content.text')}<textarea rows={3} value={draft.text} onChange={(e) => setDraft({ ...draft, text: e.target.value })} /></label>
            <label>{t('content.tags')}<input value={draft.tagsText} onChange={(e) => setDraft({ ...draft, tagsText: e.target.value })} /></label>
            <fieldset><legend>{t('content.stages')}</legend>
              {KINDS.map((k) => <label key={k} className="check"><input type="checkbox" checked={draft.stages.includes(k)} onChange={() => setDraft({ ...draft, stages: toggle(draft.stages, k) })} /> {t(`kind.${k}`)}</label>)}
            </fieldset>
            <fieldset><legend>{t('content.temperatures')}</legend>
              {TEMPS.map((k) => <label key={k} className="check"><input type="checkbox" checked={draft.temperatures.includes(k)} onChange={() => setDraft({ ...draft, temperatures: toggle(draft.temperatures, k) })} /> {t(`temp.${k}`)}</label>)}
            </fieldset>
            <div className="row gap">
              <button className="btn btn-primary" type="submit">{t('common.save')}</button>
              <button className="btn btn-ghost" type="button" onClick={() => setDraft(null)}>{t('common.cancel')}</button>
            </div>
          </form>
        </div>
      )}
    </div>
  );
}
