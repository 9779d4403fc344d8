import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { formatDuration, formatTime } from '../lib/format';
import { useLang, useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { Lead, LeadNote, Message, QuickReply, ReplyWindow } from '../lib/types';
import { mergeMessages } from '../lib/wsCache';
import { MessageContent, Ticks } from '../components/MessageContent';
import { chatItems, fillPlaceholders, slashQuery } from '../lib/chatTools';
import { useMe } from '../lib/hooks';
import { Icon } from '../components/Icon';
import { NoteBubble, QuickReplyPicker, TemplatePicker } from '../components/ChatTools';

const LIMIT = 50;

export function Chat({ lead }: { lead: Lead }) {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const key = ['messages', lead.id];
  const msgs = useQuery<Message[]>({ queryKey: key, queryFn: () => api<Message[]>(`/api/leads/${lead.id}/messages/?limit=${LIMIT}`) });
  const [hasOlder, setHasOlder] = useState(true);
  const [text, setText] = useState('');
  const [photo, setPhoto] = useState<File | null>(null);
  const [sending, setSending] = useState(false);
  // The composer writes to the client, or an internal note the client never gets (issue 16).
  const [mode, setMode] = useState<'message' | 'note'>('message');
  const [pickerOpen, setPickerOpen] = useState(false);
  const me = useMe();
  const notes = useQuery<LeadNote[]>({ queryKey: ['notes', lead.id], queryFn: () => api<LeadNote[]>(`/api/leads/${lead.id}/notes/`), retry: false });
  const replyWindow = useQuery<ReplyWindow>({
    queryKey: ['reply-window', lead.id, lead.last_message_at, lead.channel],
    queryFn: () => api<ReplyWindow>(`/api/leads/${lead.id}/reply-window/`), retry: false,
    refetchInterval: 60_000, // the window closes by the clock, not by an event
  });
  const windowClosed = !!replyWindow.data && replyWindow.data.applies && !replyWindow.data.open;
  const blocked = mode === 'message' && windowClosed;
  const slash = slashQuery(text);
  const textareaRef = useRef<HTMLTextAreaElement>(null);
  const scrollRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const fileRef = useRef<HTMLInputElement>(null);
  const list = msgs.data ?? [];
  const lastId = list.length ? list[list.length - 1].id : 0;

  useEffect(() => { if (msgs.data && msgs.data.length < LIMIT) setHasOlder(false); }, [msgs.data]);
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lastId, list.length, notes.data?.length]);

  const loadOlder = async () => {
    if (!list.length) return;
    const el = scrollRef.current;
    const before = el ? el.scrollHeight - el.scrollTop : 0;
    const older = await api<Message[]>(`/api/leads/${lead.id}/messages/?before=${list[0].id}&limit=${LIMIT}`);
    if (older.length < LIMIT) setHasOlder(false);
    stick.current = false;
    qc.setQueryData<Message[]>(key, (cur) => {
      const ids = new Set((cur ?? []).map((m) => m.id));
      return [...older.filter((m) => !ids.has(m.id)), ...(cur ?? [])];
    });
    requestAnimationFrame(() => { if (el) el.scrollTop = el.scrollHeight - before; });
  };

  const pickReply = (r: QuickReply) => {
    const filled = fillPlaceholders(r.text, { lead, manager: me.data?.full_name, company: me.data?.tenant?.name });
    setText((cur) => (slashQuery(cur) !== null || !cur.trim() ? filled : `${cur.trimEnd()} ${filled}`));
    setPickerOpen(false);
    requestAnimationFrame(() => textareaRef.current?.focus());
  };
  const addNote = async (body: string) => {
    setSending(true);
    try {
      const n = await api<LeadNote>(`/api/leads/${lead.id}/notes/`, { method: 'POST', body: { text: body } });
      stick.current = true;
      qc.setQueryData<LeadNote[]>(['notes', lead.id], (cur) => [...(cur ?? []).filter((x) => x.id !== n.id), n]);
      setText('');
    } catch (err) {
      toast(t('note.failed', { detail: err instanceof ApiError ? errorText(err.body, err.message) : t('login.offline') }), 'error');
    } finally {
      setSending(false);
    }
  };

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.trim();
    if (mode === 'note') { if (body) await addNote(body); return; }
    if ((!body && !photo) || blocked) return;
    setSending(true);
    try {
      let payload: unknown = { text: body };
      if (photo) { const fd = new FormData(); fd.append('text', body); fd.append('image', photo); payload = fd; }
      const m = await api<Message>(`/api/leads/${lead.id}/messages/`, { method: 'POST', body: payload });
      stick.current = true;
      qc.setQueryData<Message[]>(key, (cur) => mergeMessages(cur, m));
      setText('');
      setPhoto(null);
      if (fileRef.current) fileRef.current.value = '';
      // a human message stops the AI: refresh the card
      void qc.invalidateQueries({ queryKey: ['lead', lead.id] });
    } catch (err) {
      toast(t('chat.sendFailed', { detail: err instanceof ApiError ? errorText(err.body, err.message) : t('login.offline') }), 'error');
    } finally {
      setSending(false);
    }
  };
  const onKey = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Escape' && (pickerOpen || slash !== null)) { e.preventDefault(); setPickerOpen(false); if (slash !== null) setText(''); return; }
    if (e.key === 'Enter' && slash !== null) { e.preventDefault(); return; }
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) { e.preventDefault(); void send(); }
  };
  const author = (m: Message) => {
    switch (m.author_kind) {
      case 'client': return lead.name || t('chat.client');
      case 'ai': return <><Icon name="ai" size={13} /> {t('chat.ai')}</>;
      case 'user': return <><Icon name="user" size={13} /> {m.author?.full_name || ''}</>;
      default: return t('chat.system');
    }
  };

  const bubble = (m: Message) => (
    <div key={m.id} className={`msg msg-${m.direction} msg-by-${m.author_kind}${m.status === 'failed' ? ' msg-failed' : ''}`}
      data-testid="chat-message" data-author={m.author_kind} data-direction={m.direction}>
      <div className="msg-author">{author(m)}</div>
      <MessageContent m={m} />
      <div className="msg-meta">{formatTime(m.created_at, lang)} <Ticks m={m} />{m.status === 'failed' && m.error ? <span className="neg"> {m.error}</span> : null}</div>
    </div>
  );

  return (
    <div className="chat" data-testid="chat">
      <div className="chat-scroll" ref={scrollRef}
        onScroll={(e) => { const el = e.currentTarget; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80; }}>
        {hasOlder && list.length >= LIMIT && <button className="btn btn-ghost btn-sm center" onClick={loadOlder}>{t('chat.older')}</button>}
        {msgs.isPending && <div className="muted pad">{t('common.loading')}</div>}
        {!msgs.isPending && list.length === 0 && !notes.data?.length && <div className="muted pad">{t('chat.empty')}</div>}
        {chatItems(list, notes.data ?? [], !hasOlder || list.length < LIMIT).map((item) => item.type === 'note'
          ? <NoteBubble key={`n${item.note.id}`} note={item.note} />
          : bubble(item.message))}
      </div>
      {mode === 'message' && !blocked && lead.handled_by === 'ai' && <div className="chat-note muted small">{t('chat.humanNote')}</div>}
      {mode === 'message' && lead.channel === 'whatsapp' && replyWindow.data?.applies && replyWindow.data.open && replyWindow.data.closes_at && (
        <div className="chat-note muted small" data-testid="window-open">
          <Icon name="clock" size={12} /> {t('tpl.openFor', { time: formatDuration(Date.parse(replyWindow.data.closes_at) - Date.now(), lang) })}
        </div>
      )}
      {blocked && replyWindow.data && (
        <TemplatePicker key={replyWindow.data.templates.map((x) => x.name).join()} lead={lead} window={replyWindow.data} onSent={() => {
          void qc.invalidateQueries({ queryKey: key }); void qc.invalidateQueries({ queryKey: ['lead', lead.id] });
        }} />
      )}
      {(pickerOpen || slash !== null) && <QuickReplyPicker query={slash ?? ''} onPick={pickReply} onClose={() => { setPickerOpen(false); if (slash !== null) setText(''); }} />}
      <div className="composer-modes" role="tablist">
        <button type="button" role="tab" aria-selected={mode === 'message'} className={`mode-tab${mode === 'message' ? ' active' : ''}`} onClick={() => setMode('message')} data-testid="mode-message">
          <Icon name="send" size={13} /> {t('note.toClient')}
        </button>
        <button type="button" role="tab" aria-selected={mode === 'note'} className={`mode-tab mode-note${mode === 'note' ? ' active' : ''}`} onClick={() => { setMode('note'); setPhoto(null); }} data-testid="mode-note">
          <Icon name="note" size={13} /> {t('note.label')}
        </button>
      </div>
      <form className={`composer${mode === 'note' ? ' composer-note' : ''}`} onSubmit={send}>
        {mode === 'message' && (
          <label className={`btn btn-ghost btn-icon${blocked ? ' disabled' : ''}`} title={t('chat.photo')}>
            <Icon name="upload" /><input ref={fileRef} type="file" accept="image/*" hidden disabled={blocked} data-testid="chat-photo" onChange={(e) => setPhoto(e.target.files?.[0] ?? null)} />
          </label>
        )}
        <button type="button" className="btn btn-ghost btn-icon" title={t('qr.title')} aria-label={t('qr.title')} disabled={blocked}
          onClick={() => setPickerOpen((v) => !v)} data-testid="qr-button"><Icon name="chat" /></button>
        <div className="composer-main">
          {photo && <div className="photo-chip"><Icon name="file" size={12} /> {photo.name} <button type="button" className="link" onClick={() => { setPhoto(null); if (fileRef.current) fileRef.current.value = ''; }} aria-label={t('chat.removePhoto')}><Icon name="x" size={12} /></button></div>}
          <textarea ref={textareaRef} rows={1} value={text} disabled={blocked}
            placeholder={blocked ? t('tpl.blocked') : mode === 'note' ? t('note.placeholder') : t('chat.placeholder')}
            onChange={(e) => setText(e.target.value)} onKeyDown={onKey} data-testid="chat-input" />
        </div>
        <button className={`btn ${mode === 'note' ? 'btn-accent' : 'btn-primary'}`} type="submit"
          disabled={sending || blocked || slash !== null || (!text.trim() && !photo)} data-testid="chat-send">
          {mode === 'note' ? t('note.add') : t('chat.send')}
        </button>
      </form>
    </div>
  );
}
