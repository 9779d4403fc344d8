// CRM basics (issue 16): a lead entered by hand, CSV import with a preview, the export link, tag chips on the card,
// and the bulk bar of the list. Pages mount these; each talks to the API itself.
import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { addTags, exportUrl, IMPORT_FIELDS, remap } from '../lib/crm';
import { useStages, useUsers } from '../lib/hooks';
import { useT } from '../lib/i18n';
import { navigate } from '../lib/router';
import { toast } from '../lib/toast';
import type { Lead, Me } from '../lib/types';
import { Icon } from './Icon';
import { channelLabel } from './LeadBits';

const CHANNELS = ['whatsapp', 'telegram', 'instagram', 'sandbox'];

/** The toolbar's buttons: a new lead (everyone), import (owner, head), export of the list as filtered. */
export function LeadsActions({ me, search }: { me: Me; search: string }) {
  const t = useT();
  const [open, setOpen] = useState<'create' | 'import' | null>(null);
  const canImport = me.role === 'owner' || me.role === 'head';
  return (
    <>
      <button className="btn btn-primary btn-sm" onClick={() => setOpen('create')} data-testid="lead-new">
        <Icon name="plus" size={16} /> {t('crm.newLead')}
      </button>
      {canImport && (
        <button className="btn btn-sm" onClick={() => setOpen('import')} data-testid="lead-import" title={t('crm.import')} aria-label={t('crm.import')}>
          <Icon name="upload" size={16} /> <span className="hide-narrow">{t('crm.import')}</span>
        </button>
      )}
      <a className="btn btn-sm" href={exportUrl(search)} download data-testid="lead-export" title={t('crm.export')} aria-label={t('crm.export')}>
        <Icon name="download" size={16} /> <span className="hide-narrow">{t('crm.export')}</span>
      </a>
      {open === 'create' && <LeadCreateDialog me={me} search={search} onClose={() => setOpen(null)} />}
      {open === 'import' && <LeadImportDialog onClose={() => setOpen(null)} />}
    </>
  );
}

function Modal({ title, onClose, children, testid }: { title: string; onClose: () => void; children: React.ReactNode; testid: string }) {
  const t = useT();
  return (
    <div className="modal-backdrop" onClick={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <div className="modal" role="dialog" aria-label={title} data-testid={testid}>
        <div className="row-between">
          <h3>{title}</h3>
          <button type="button" className="btn btn-ghost btn-sm" onClick={onClose} aria-label={t('common.close')}><Icon name="x" size={16} /></button>
        </div>
        {children}
      </div>
    </div>
  );
}

export function LeadCreateDialog({ me, search, onClose }: { me: Me; search: string; onClose: () => void }) {
  const t = useT();
  const qc = useQueryClient();
  const stages = useStages();
  const users = useUsers(me.role !== 'manager');
  const [form, setForm] = useState({ name: '', phone: '', channel: 'whatsapp', source: '', city: '', assignee: me.role === 'manager' ? String(me.id) : '', stage: '', tags: '' });
  const [error, setError] = useState('');
  const [existing, setExisting] = useState<Lead | null | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof form) => (e: { target: { value: string } }) => setForm({ ...form, [k]: e.target.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(''); setExisting(undefined); setBusy(true);
    try {
      const lead = await api<Lead>('/api/leads/', { method: 'POST', body: {
        name: form.name, phone: form.phone, channel: form.channel, source: form.source, city: form.city,
        assignee: form.assignee ? Number(form.assignee) : null, stage: form.stage ? Number(form.stage) : null,
        tags: addTags([], form.tags),
      } });
      toast(t('crm.created'));
      void qc.invalidateQueries({ queryKey: ['leads'] }); void qc.invalidateQueries({ queryKey: ['board'] });
      onClose();
      navigate(`/leads/${lead.id}${search}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 409) setExisting((err.body as { existing: Lead | null }).existing);
      else setError(err instanceof ApiError ? errorText(err.body, err.message) : String(err));
    } finally { setBusy(false); }
  };

  return (
    <Modal title={t('crm.newLead')} onClose={onClose} testid="lead-create-dialog">
      <form className="form-grid" onSubmit={submit}>
        <label>{t('lead.name')}<input value={form.name} onChange={set('name')} maxLength={150} data-testid="create-name" autoFocus /></label>
        <label>{t('lead.phone')}<input value={form.phone} onChange={set('phone')} inputMode="tel" placeholder="+7 701 111 22 33" maxLength={40} data-testid="create-phone" /></label>
        <div className="muted small">{t('crm.namePhoneHint')}</div>
        <label>{t('lead.channel')}
          <select value={form.channel} onChange={set('channel')} data-testid="create-channel">
            {CHANNELS.map((c) => <option key={c} value={c}>{channelLabel(t, c)}</option>)}
          </select>
        </label>
        <label>{t('lead.source')}<input value={form.source} onChange={set('source')} maxLength={32} data-testid="create-source" /></label>
        <label>{t('lead.city')}<input value={form.city} onChange={set('city')} maxLength={100} data-testid="create-city" /></label>
        <label>{t('lead.assignee')}
          <select value={form.assignee} onChange={set('assignee')} data-testid="create-assignee" disabled={me.role === 'manager'}>
            <option value="">{t('lead.unassigned')}</option>
            {me.role === 'manager' && <option value={String(me.id)}>{me.full_name || me.email}</option>}
            {users.data?.filter((u) => u.is_active).map((u) => <option key={u.id} value={String(u.id)}>{u.full_name || u.email}</option>)}
          </select>
        </label>
        <label>{t('lead.stage')}
          <select value={form.stage} onChange={set('stage')} data-testid="create-stage">
            <option value="">{stages.data?.[0]?.name ?? '—'}</option>
            {stages.data?.slice(1).map((s) => <option key={s.id} value={String(s.id)}>{s.name}</option>)}
          </select>
        </label>
        <label>{t('crm.tags')}<input value={form.tags} onChange={set('tags')} placeholder="vip, дом" data-testid="create-tags" /></label>
        <div className="hint-box small" data-testid="create-no-greeting">{t('crm.noGreeting')}</div>
        {error && <div className="form-error" data-testid="create-error">{error}</div>}
        {existing !== undefined && (
          <div className="form-error" data-testid="create-duplicate">
            {t('crm.duplicate')}{' '}
            {existing ? (
              <button type="button" className="btn btn-sm" onClick={() => { onClose(); navigate(`/leads/${existing.id}${search}`); }} data-testid="create-open-existing">
                {t('crm.openExisting', { name: existing.name || existing.phone })}
              </button>
            ) : <span>{t('crm.duplicateHidden')}</span>}
          </div>
        )}
        <div className="row-end">
          <button type="button" className="btn btn-ghost" onClick={onClose}>{t('common.cancel')}</button>
          <button className="btn btn-primary" disabled={busy} data-testid="create-submit">{t('crm.create')}</button>
        </div>
      </form>
    </Modal>
  );
}

interface Preview {
  encoding: string; delimiter: string; headers: string[]; mapping: Record<string, number>; sample: string[][];
  rows: number; valid: number; invalid: number; new: number; merge_existing: number; merge_in_file: number;
  errors: { line: number; errors: string[] }[];
}

export function LeadImportDialog({ onClose }: { onClose: () => void }) {
  const t = useT();
  const qc = useQueryClient();
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [mapping, setMapping] = useState<Record<string, number>>({});
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const send = async <T,>(path: string, map: Record<string, number> | null): Promise<T> => {
    const body = new FormData();
    body.append('file', file as File);
    if (map) body.append('mapping', JSON.stringify(map));
    return api<T>(path, { method: 'POST', body });
  };
  const check = async (map: Record<string, number> | null) => {
    if (!file) return;
    setError(''); setBusy(true);
    try {
      const p = await send<Preview>('/api/leads/import/preview/', map);
      setPreview(p); setMapping(p.mapping);
    } catch (err) {
      setError(err instanceof ApiError ? errorText(err.body, err.message) : String(err));
    } finally { setBusy(false); }
  };
  const commit = async () => {
    setError(''); setBusy(true);
    try {
      const r = await send<{ created: number; updated: number }>('/api/leads/import/', mapping);
      toast(t('crm.imported', { created: r.created, updated: r.updated }));
      void qc.invalidateQueries({ queryKey: ['leads'] }); void qc.invalidateQueries({ queryKey: ['board'] });
      onClose();
    } catch (err) {
      setError(err instanceof ApiError ? errorText(err.body, err.message) : String(err));
    } finally { setBusy(false); }
  };
  const fieldColumn = (field: string) => (field in mapping ? mapping[field] : -1);

  return (
    <Modal title={t('crm.importTitle')} onClose={onClose} testid="import-dialog">
      <label>{t('crm.chooseFile')}
        <input type="file" accept=".csv,text/csv,text/plain" data-testid="import-file"
          onChange={(e) => { setFile(e.target.files?.[0] ?? null); setPreview(null); setError(''); }} />
      </label>
      <div className="hint-box small">{t('crm.noGreeting')}</div>
      {!preview && <button className="btn btn-primary" disabled={!file || busy} onClick={() => void check(null)} data-testid="import-preview">{t('crm.preview')}</button>}
      {error && <div className="form-error" data-testid="import-error">{error}</div>}
      {preview && (
        <div className="import-preview" data-testid="import-report">
          <div className="muted small">{t('crm.fileInfo', { encoding: preview.encoding, delimiter: preview.delimiter === '\t' ? 'Tab' : preview.delimiter, rows: preview.rows })}</div>
          <b>{t('crm.mapping')}</b>
          <div className="import-mapping">
            {IMPORT_FIELDS.map((field) => (
              <label key={field}>{t(`crm.field.${field}`)}
                <select value={String(fieldColumn(field))} data-testid={`map-${field}`}
                  onChange={(e) => { const next = remap(mapping, field, Number(e.target.value)); setMapping(next); void check(next); }}>
                  <option value="-1">{t('crm.skipColumn')}</option>
                  {preview.headers.map((h, i) => <option key={i} value={String(i)}>{h || `#${i + 1}`}</option>)}
                </select>
              </label>
            ))}
          </div>
          <div className="table-wrap">
            <table className="table small" data-testid="import-sample">
              <thead><tr>{preview.headers.map((h, i) => <th key={i}>{h}</th>)}</tr></thead>
              <tbody>{preview.sample.map((row, r) => <tr key={r}>{row.map((c, i) => <td key={i} className="ellipsis">{c}</td>)}</tr>)}</tbody>
            </table>
          </div>
          <div data-testid="import-counts"><b>{t('crm.report', { new: preview.new, existing: preview.merge_existing, infile: preview.merge_in_file, invalid: preview.invalid })}</b></div>
          <div className="muted small">{t('crm.mergeHint')}</div>
          {preview.errors.length > 0 && (
            <details data-testid="import-errors">
              <summary>{t('crm.rowErrors')} ({preview.invalid})</summary>
              <ul className="small">{preview.errors.slice(0, 50).map((e) => <li key={e.line}>{t('crm.line', { n: e.line })}: {e.errors.join('; ')}</li>)}</ul>
            </details>
          )}
          <div className="row-end">
            <button type="button" className="btn btn-ghost" onClick={onClose}>{t('common.cancel')}</button>
            <button className="btn btn-primary" disabled={busy || preview.valid === 0} onClick={() => void commit()} data-testid="import-commit">
              {t('crm.doImport', { n: preview.valid })}
            </button>
          </div>
        </div>
      )}
    </Modal>
  );
}

/** The card's tag chips: a person adds and removes; the AI's own are marked. `save` sends the whole list. */
export function TagChips({ lead, save }: { lead: Lead; save: (tags: string[]) => Promise<unknown> }) {
  const t = useT();
  const [typed, setTyped] = useState('');
  const tags = lead.tags ?? [];
  const auto = new Set(lead.tags_auto ?? []);
  return (
    <div className="tag-chips" data-testid="tag-chips" aria-label={t('crm.tags')}>
      {tags.map((tag) => (
        <span key={tag} className={`chip tag-chip${auto.has(tag) ? ' tag-auto' : ''}`} data-testid={`tag-${tag}`} title={auto.has(tag) ? t('crm.tagAuto') : undefined}>
          {auto.has(tag) && <Icon name="ai" size={12} title={t('crm.tagAuto')} />}{tag}
          <button type="button" className="chip-x" aria-label={t('crm.removeTag', { tag })} onClick={() => void save(tags.filter((x) => x !== tag))}>
            <Icon name="x" size={12} />
          </button>
        </span>
      ))}
      <form className="tag-add" onSubmit={(e) => { e.preventDefault(); const next = addTags(tags, typed); setTyped(''); if (next.length !== tags.length) void save(next); }}>
        <input value={typed} onChange={(e) => setTyped(e.target.value)} placeholder={t('crm.addTag')} maxLength={100} data-testid="tag-input" aria-label={t('crm.addTag')} />
      </form>
    </div>
  );
}

/** The list's bar for the selected rows: assign, move to a stage, add a tag — one request for all of them. */
export function BulkBar({ me, ids, onDone }: { me: Me; ids: number[]; onDone: () => void }) {
  const t = useT();
  const qc = useQueryClient();
  const stages = useStages();
  const users = useUsers(me.role !== 'manager');
  const [action, setAction] = useState<'assign' | 'move' | 'tag'>('tag');
  const [value, setValue] = useState('');
  const [busy, setBusy] = useState(false);
  const apply = async () => {
    const body: Record<string, unknown> = { ids, action };
    if (action === 'assign') body.assignee = value === '' ? null : Number(value);
    if (action === 'move') body.stage = Number(value);
    if (action === 'tag') body.tag = value;
    setBusy(true);
    try {
      const r = await api<{ updated: number; unchanged: number; skipped: number }>('/api/leads/bulk/', { method: 'POST', body });
      toast(t('crm.bulkDone', r));
      void qc.invalidateQueries({ queryKey: ['leads'] }); void qc.invalidateQueries({ queryKey: ['board'] });
      setValue(''); onDone();
    } catch (err) {
      toast(t('common.error', { detail: err instanceof ApiError ? errorText(err.body, err.message) : String(err) }), 'error');
    } finally { setBusy(false); }
  };
  const ready = action === 'assign' || value !== '';
  return (
    <div className="bulk-bar" data-testid="bulk-bar">
      <b data-testid="bulk-count">{t('crm.selected', { n: ids.length })}</b>
      <select value={action} onChange={(e) => { setAction(e.target.value as typeof action); setValue(''); }} data-testid="bulk-action" aria-label={t('crm.apply')}>
        <option value="tag">{t('crm.bulkTag')}</option>
        <option value="assign">{t('crm.bulkAssign')}</option>
        <option value="move">{t('crm.bulkMove')}</option>
      </select>
      {action === 'tag' && <input value={value} onChange={(e) => setValue(e.target.value)} placeholder={t('crm.addTag')} maxLength={32} data-testid="bulk-tag" />}
      {action === 'assign' && (
        <select value={value} onChange={(e) => setValue(e.target.value)} data-testid="bulk-assignee" aria-label={t('crm.bulkAssign')}>
          <option value="">{t('crm.unassign')}</option>
          {me.role === 'manager' ? <option value={String(me.id)}>{me.full_name || me.email}</option>
            : users.data?.filter((u) => u.is_active).map((u) => <option key={u.id} value={String(u.id)}>{u.full_name || u.email}</option>)}
        </select>
      )}
      {action === 'move' && (
        <select value={value} onChange={(e) => setValue(e.target.value)} data-testid="bulk-stage" aria-label={t('crm.bulkMove')}>
          <option value="">—</option>
          {stages.data?.map((s) => <option key={s.id} value={String(s.id)}>{s.name}</option>)}
        </select>
      )}
      <button className="btn btn-primary btn-sm" disabled={busy || !ready} onClick={() => void apply()} data-testid="bulk-apply">{t('crm.apply')}</button>
      <button className="btn btn-ghost btn-sm" onClick={onDone} data-testid="bulk-clear">{t('crm.clearSelection')}</button>
    </div>
  );
}
