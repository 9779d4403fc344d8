import { useEffect, useLayoutEffect, useRef, useState, type FormEvent, type KeyboardEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { formatTime } from '../lib/format';
import { useLang, useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { Lead, Message } from '../lib/types';
import { mergeMessages } from '../lib/wsCache';
import { MessageContent, Ticks } from '../components/MessageContent';
import { Icon } from '../components/Icon';

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
  const scrollRef = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const fileRef = useRef<HTMLInputElement>(null);
  const list = msgs.data ?? [];
  const lastId = list.length ? list[list.length - 1].id : 0;

  useEffect(() => { if (msgs.data && msgs.data.length < LIMIT) setHasOlder(false); }, [msgs.data]);
  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [lastId, list.length]);

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

  const send = async (e?: FormEvent) => {
    e?.preventDefault();
    const body = text.trim();
    if (!body && !photo) return;
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

  return (
    <div className="chat" data-testid="chat">
      <div className="chat-scroll" ref={scrollRef}
        onScroll={(e) => { const el = e.currentTarget; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 80; }}>
        {hasOlder && list.length >= LIMIT && <button className="btn btn-ghost btn-sm center" onClick={loadOlder}>{t('chat.older')}</button>}
        {msgs.isPending && <div className="muted pad">{t('common.loading')}</div>}
        {!msgs.isPending && list.length === 0 && <div className="muted pad">{t('chat.empty')}</div>}
        {list.map((m) => (
          <div key={m.id} className={`msg msg-${m.direction} msg-by-${m.author_kind}${m.status === 'failed' ? ' msg-failed' : ''}`}
            data-testid="chat-message" data-author={m.author_kind} data-direction={m.direction}>
            <div className="msg-author">{author(m)}</div>
            <MessageContent m={m} />
            <div className="msg-meta">{formatTime(m.created_at, lang)} <Ticks m={m} />{m.status === 'failed' && m.error ? <span className="neg"> {m.error}</span> : null}</div>
          </div>
        ))}
      </div>
      {lead.handled_by === 'ai' && <div className="chat-note muted small">{t('chat.humanNote')}</div>}
      <form className="composer" onSubmit={send}>
        <label className="btn btn-ghost btn-icon" title={t('chat.photo')}>
          <Icon name="paperclip" size={18} /><input ref={fileRef} type="file" accept="image/*" hidden data-testid="chat-photo" onChange={(e) => setPhoto(e.target.files?.[0] ?? null)} />
        </label>
        <div className="composer-main">
          {photo && <div className="photo-chip"><Icon name="image" size={14} /> {photo.name} <button type="button" className="link" onClick={() => { setPhoto(null); if (fileRef.current) fileRef.current.value = ''; }} aria-label={t('chat.removePhoto')}><Icon name="x" size={12} /></button></div>}
          <textarea rows={1} value={text} placeholder={t('chat.placeholder')} onChange={(e) => setText(e.target.value)} onKeyDown={onKey} data-testid="chat-input" />
        </div>
        <button className="btn btn-primary" type="submit" disabled={sending || (!text.trim() && !photo)} data-testid="chat-send">{t('chat.send')}</button>
      </form>
    </div>
  );
}
