import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { useStages } from '../lib/hooks';
import { useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { Board, Stage } from '../lib/types';
import { Icon } from '../components/Icon';

// The server refuses a ninth stage (leads.models.MAX_STAGES): the board stays readable on a phone.
const MAX_STAGES = 8;

export default function Stages() {
  const t = useT();
  const qc = useQueryClient();
  const stages = useStages();
  const [name, setName] = useState('');
  const [color, setColor] = useState('#7c8db5');
  const [deleting, setDeleting] = useState<Stage | null>(null);
  const [moveTo, setMoveTo] = useState('');
  const list = stages.data ?? [];
  const counts = new Map((qc.getQueryData<Board>(['board'])?.stages ?? []).map((c) => [c.id, c.count]));
  const refresh = () => { void qc.invalidateQueries({ queryKey: ['stages'] }); void qc.invalidateQueries({ queryKey: ['board'] }); };
  const fail = (e: unknown) => toast(t('common.error', { detail: e instanceof ApiError ? errorText(e.body, e.message) : String(e) }), 'error');

  const patch = async (s: Stage, body: Partial<Stage>) => {
    try { await api(`/api/stages/${s.id}/`, { method: 'PATCH', body }); refresh(); } catch (e) { fail(e); refresh(); }
  };
  const reorder = async (i: number, dir: -1 | 1) => {
    const j = i + dir;
    if (j < 0 || j >= list.length) return;
    const next = list.slice();
    [next[i], next[j]] = [next[j], next[i]];
    qc.setQueryData<Stage[]>(['stages'], next.map((s, k) => ({ ...s, position: k })));
    try {
      // positions are rewritten as 0..n-1 for the stages whose place changed
      for (let k = 0; k < next.length; k++) if (next[k].position !== k) await api(`/api/stages/${next[k].id}/`, { method: 'PATCH', body: { position: k } });
    } catch (e) { fail(e); }
    refresh();
  };
  const add = async (e: FormEvent) => {
    e.preventDefault();
    if (!name.trim()) return;
    try { await api('/api/stages/', { method: 'POST', body: { name: name.trim(), color } }); setName(''); refresh(); } catch (err) { fail(err); }
  };
  const remove = async () => {
    if (!deleting) return;
    try {
      await api(`/api/stages/${deleting.id}/${moveTo ? `?move_to=${moveTo}` : ''}`, { method: 'DELETE' });
      toast(t('stages.deleted'));
      setDeleting(null);
      setMoveTo('');
      refresh();
    } catch (e) { fail(e); }
  };

  return (
    <div className="page" data-testid="stages">
      <h2>{t('stages.title')}</h2>
      <ul className="stage-list">
        {list.map((s, i) => (
          <li key={s.id} className="stage-row" data-testid={`stage-row-${s.id}`}>
            <input type="color" value={s.color} aria-label={t('stages.color')} onChange={(e) => patch(s, { color: e.target.value })} data-testid={`stage-color-${s.id}`} />
            <input className="grow" defaultValue={s.name} key={s.name} aria-label={t('stages.name')} data-testid={`stage-name-${s.id}`}
              onBlur={(e) => { const v = e.target.value.trim(); if (v && v !== s.name) void patch(s, { name: v }); }}
              onKeyDown={(e) => { if (e.key === 'Enter') (e.target as HTMLInputElement).blur(); }} />
            <span className="muted small">{s.kind !== 'custom' ? t(`kind.${s.kind}`) : ''}{counts.has(s.id) ? ` · ${t('stages.leads', { n: counts.get(s.id)! })}` : ''}</span>
            <button className="btn btn-sm btn-ghost" disabled={i === 0} onClick={() => reorder(i, -1)} title={t('stages.up')} data-testid={`stage-up-${s.id}`}>↑</button>
            <button className="btn btn-sm btn-ghost" disabled={i === list.length - 1} onClick={() => reorder(i, 1)} title={t('stages.down')} data-testid={`stage-down-${s.id}`}>↓</button>
            {s.deletable === false
              ? <span className="muted small" title={t('stages.keptHint')} data-testid={`stage-kept-${s.id}`}><Icon name="ai" size={16} title={t('stages.keptHint')} /></span>
              : <button className="btn btn-sm btn-danger" onClick={() => { setDeleting(s); setMoveTo(''); }} data-testid={`stage-delete-${s.id}`}>{t('common.delete')}</button>}
          </li>
        ))}
      </ul>
      <p className="muted small"><Icon name="ai" size={14} /> {t('stages.keptHint')} · {t('stages.max', { n: MAX_STAGES })}</p>
      {list.length < MAX_STAGES && <form className="row gap wrap card-form" onSubmit={add}>
        <input type="color" value={color} onChange={(e) => setColor(e.target.value)} aria-label={t('stages.color')} />
        <input className="grow" value={name} placeholder={t('stages.name')} onChange={(e) => setName(e.target.value)} data-testid="stage-new-name" />
        <button className="btn btn-primary" type="submit" data-testid="stage-add">{t('stages.add')}</button>
      </form>}
      {deleting && (
        <div className="modal-backdrop" onClick={(e) => { if (e.target === e.currentTarget) setDeleting(null); }}>
          <div className="modal" role="dialog" data-testid="stage-delete-dialog">
            <h3>{t('stages.deleteTitle', { name: deleting.name })}</h3>
            <label>{t('stages.moveTo')}
              <select value={moveTo} onChange={(e) => setMoveTo(e.target.value)} data-testid="stage-move-to">
                <option value="">—</option>
                {list.filter((s) => s.id !== deleting.id).map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
              </select>
            </label>
            <div className="row gap">
              <button className="btn btn-danger" onClick={remove} data-testid="stage-delete-confirm">{t('common.delete')}</button>
              <button className="btn btn-ghost" onClick={() => setDeleting(null)}>{t('common.cancel')}</button>
            </div>
          </div>
        </div>
      )}
    </div>
  );
}
