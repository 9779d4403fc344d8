// The chat tools of the lead card (issue 16): the quick-reply picker, internal notes, the WhatsApp template picker for
// a closed 24 h window, phone links and the AI switch; and the quick replies' management on the Content page.
import { useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { filterReplies, telHref, waHref } from '../lib/chatTools';
import { formatTime } from '../lib/format';
import { useLang, useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { Lead, LeadNote, QuickReply, ReplyWindow } from '../lib/types';
import { Icon } from './Icon';

const failText = (e: unknown) => (e instanceof ApiError ? errorText(e.body, e.message) : String(e));

export function useQuickReplies() {
  return useQuery<QuickReply[]>({ queryKey: ['quick-replies'], queryFn: () => api<QuickReply[]>('/api/quick-replies/'), staleTime: 60_000 });
}

/** The picker: a list of quick replies filtered by `query` (the composer's "/word"); choosing one calls onPick. */
export function QuickReplyPicker({ query, onPick, onClose }: { query: string; onPick: (r: QuickReply) => void; onClose: () => void }) {
  const t = useT();
  const replies = useQuickReplies();
  const shown = filterReplies(replies.data ?? [], query);
  return (
    <div className="qr-picker" data-testid="qr-picker" role="listbox" aria-label={t('qr.title')}>
      <div className="row gap qr-picker-head">
        <b className="grow small">{t('qr.title')}</b>
        <button type="button" className="btn btn-ghost btn-icon btn-sm" onClick={onClose} aria-label={t('common.close')}><Icon name="x" size={14} /></button>
      </div>
      {replies.isPending && <div className="muted small pad">{t('common.loading')}</div>}
      {!replies.isPending && shown.length === 0 && <div className="muted small pad">{query ? t('qr.noneFound', { q: query }) : t('qr.empty')}</div>}
      {shown.map((r) => (
        <button type="button" key={r.id} className="qr-item" role="option" aria-selected="false" onClick={() => onPick(r)} data-testid="qr-item">
          <b>{r.title}</b><span className="muted small ellipsis">{r.text}</span>
        </button>
      ))}
    </div>
  );
}

export function NoteBubble({ note }: { note: LeadNote }) {
  const t = useT();
  const lang = useLang();
  return (
    <div className="msg msg-note" data-testid="chat-note">
      <div className="msg-author"><Icon name="note" size={12} /> {t('note.label')}{note.author ? ` · ${note.author.full_name}` : ''}</div>
      <div className="msg-text">{note.text}</div>
      <div className="msg-meta">{t('note.hidden')} · {formatTime(note.created_at, lang)}</div>
    </div>
  );
}

/** The closed-window bar: why free text cannot go, and the approved templates (filled for the lead) to send. */
export function TemplatePicker({ lead, window: w, onSent }: { lead: Lead; window: ReplyWindow; onSent: () => void }) {
  const t = useT();
  const lang = useLang();
  const [name, setName] = useState(w.templates[0]?.name ?? '');
  const [busy, setBusy] = useState(false);
  const chosen = w.templates.find((x) => x.name === name) ?? w.templates[0];
  const send = async () => {
    if (!chosen) return;
    setBusy(true);
    try {
      await api(`/api/leads/${lead.id}/messages/`, { method: 'POST', body: { template: chosen.name } });
      toast(t('tpl.sent'));
      onSent();
    } catch (e) { toast(t('chat.sendFailed', { detail: failText(e) }), 'error'); } finally { setBusy(false); }
  };
  return (
    <div className="window-closed" data-testid="window-closed" role="status">
      <div className="small"><Icon name="clock" size={14} /> {lead.channel !== 'whatsapp' ? t('tpl.closedOther') : w.last_inbound_at
        ? t('tpl.closedSince', { time: formatTime(w.last_inbound_at, lang) }) : t('tpl.closedNever')}</div>
      {lead.channel !== 'whatsapp' ? null : w.templates.length === 0 ? <div className="small muted">{t('tpl.none')}</div> : (
        <div className="row gap wrap tpl-row">
          <select value={chosen?.name ?? ''} onChange={(e) => setName(e.target.value)} aria-label={t('tpl.choose')} data-testid="tpl-select">
            {w.templates.map((x) => <option key={x.name} value={x.name}>{x.name} ({x.language})</option>)}
          </select>
          <button type="button" className="btn btn-primary btn-sm" disabled={busy || !chosen} onClick={send} data-testid="tpl-send">
            <Icon name="send" size={14} /> {t('tpl.send')}
          </button>
          {chosen?.text && <div className="tpl-preview small" data-testid="tpl-preview">{chosen.text}</div>}
        </div>
      )}
    </div>
  );
}

export function PhoneLinks({ phone }: { phone: string }) {
  const t = useT();
  const tel = telHref(phone);
  const wa = waHref(phone);
  if (!phone) return null;
  return (
    <span className="phone-links">
      {tel ? <a href={tel} data-testid="phone-tel" title={t('phone.call')}><Icon name="phone" size={13} /> {phone}</a> : phone}
      {wa && <a href={wa} target="_blank" rel="noreferrer" className="wa-link" data-testid="phone-wa" title={t('phone.whatsapp')}><Icon name="chat" size={13} /> WhatsApp</a>}
    </span>
  );
}

/** The lead's own AI switch (Lead.ai_enabled): off stops the AI for this lead only. */
export function AiSwitch({ lead, onChange }: { lead: Lead; onChange: (on: boolean) => Promise<boolean> }) {
  const t = useT();
  const [busy, setBusy] = useState(false);
  const flip = async () => { setBusy(true); await onChange(!lead.ai_enabled); setBusy(false); };
  return (
    <label className={`ai-switch${lead.ai_enabled ? ' on' : ''}`} data-testid="ai-switch" title={t('aiSwitch.hint')}>
      <input type="checkbox" role="switch" checked={lead.ai_enabled} disabled={busy} onChange={flip} data-testid="ai-switch-input" aria-checked={lead.ai_enabled} />
      <span className="ai-switch-track" aria-hidden="true"><span className="ai-switch-knob" /></span>
      <Icon name="ai" size={14} /> <span data-testid="ai-switch-state">{lead.ai_enabled ? t('aiSwitch.on') : t('aiSwitch.off')}</span>
    </label>
  );
}

type Draft = { id?: number; title: string; text: string; position: number };

/** Owners and heads manage the team's quick replies (the Content page). */
export function QuickRepliesManager() {
  const t = useT();
  const qc = useQueryClient();
  const replies = useQuickReplies();
  const [draft, setDraft] = useState<Draft | null>(null);
  const refresh = () => void qc.invalidateQueries({ queryKey: ['quick-replies'] });
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!draft) return;
    const { id, ...body } = draft;
    try {
      await api(id ? `/api/quick-replies/${id}/` : '/api/quick-replies/', { method: id ? 'PATCH' : 'POST', body });
      setDraft(null); toast(t('common.saved')); refresh();
    } catch (err) { toast(t('common.error', { detail: failText(err) }), 'error'); }
  };
  const remove = async (id: number) => {
    try { await api(`/api/quick-replies/${id}/`, { method: 'DELETE' }); refresh(); } catch (e) { toast(t('common.error', { detail: failText(e) }), 'error'); }
  };
  return (
    <section className="qr-manager" data-testid="qr-manager">
      <div className="page-head">
        <h2>{t('qr.title')}</h2>
        <button className="btn btn-primary" onClick={() => setDraft({ title: '', text: '', position: (replies.data?.length ?? 0) })} data-testid="qr-add">
          <Icon name="plus" size={14} /> {t('qr.add')}
        </button>
      </div>
      <p className="muted small">{t('qr.hint')}</p>
      {replies.data?.length === 0 && <div className="muted">{t('qr.empty')}</div>}
      <ul className="qr-list">
        {replies.data?.map((r) => (
          <li key={r.id} className="content-card" data-testid={`qr-${r.id}`}>
            <b>{r.title}</b>
            <p className="small">{r.text}</p>
            <div className="row gap">
              <button className="btn btn-sm" onClick={() => setDraft({ id: r.id, title: r.title, text: r.text, position: r.position })}><Icon name="edit" size={14} /> {t('common.edit')}</button>
              <button className="btn btn-sm btn-danger" onClick={() => remove(r.id)}><Icon name="trash" size={14} /> {t('common.delete')}</button>
            </div>
          </li>
        ))}
      </ul>
      {draft && (
        <div className="modal-backdrop" onClick={(e) => { if (e.target === e.currentTarget) setDraft(null); }}>
          <form className="modal" onSubmit={save} data-testid="qr-form">
            <label>{t('qr.titleField')}<input value={draft.title} maxLength={80} required onChange={(e) => setDraft({ ...draft, title: e.target.value })} data-testid="qr-title" /></label>
            <label>{t('qr.text')}<textarea rows={4} value={draft.text} maxLength={4096} required onChange={(e) => setDraft({ ...draft, text: e.target.value })} data-testid="qr-text" /></label>
            <div className="row gap">
              <button className="btn btn-primary" type="submit" data-testid="qr-save">{t('common.save')}</button>
              <button className="btn btn-ghost" type="button" onClick={() => setDraft(null)}>{t('common.cancel')}</button>
            </div>
          </form>
        </div>
      )}
    </section>
  );
}
