import { useEffect, useLayoutEffect, useRef, useState, type FormEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { formatTime } from '../lib/format';
import { useLang, useT } from '../lib/i18n';
import { Link } from '../lib/router';
import { toast } from '../lib/toast';
import type { Message } from '../lib/types';
import { mergeMessages } from '../lib/wsCache';
import { sandboxReceipt } from '../lib/sandboxReceipt';
import { MessageContent, Ticks } from '../components/MessageContent';
import { Icon } from '../components/Icon';

const KEY = 'buildcrm.sandbox';
const randomPhone = () => '+7700' + String(Math.floor(1000000 + Math.random() * 8999999));
function load(): { phone: string; name: string; leadId: number | null } {
  try { const v = JSON.parse(localStorage.getItem(KEY) || 'null'); if (v?.phone) return v; } catch { /* ignore */ }
  return { phone: randomPhone(), name: 'Алексей', leadId: null };
}

export default function Sandbox() {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const [state, setState] = useState(load);
  const [text, setText] = useState('');
  const [sending, setSending] = useState(false);
  const scrollRef = useRef<HTMLDivElement>(null);
  const phone = state.phone.trim();
  useEffect(() => { try { localStorage.setItem(KEY, JSON.stringify(state)); } catch { /* ignore */ } }, [state]);

  const msgs = useQuery<Message[]>({
    queryKey: ['sandbox', phone],
    queryFn: () => api<Message[]>(`/api/sandbox/messages/?phone=${encodeURIComponent(phone)}`),
    enabled: phone.length >= 5,
    refetchInterval: 1500,
    refetchIntervalInBackground: false,
    retry: false,
  });
  // The page is the client's phone: acknowledge what it received (delivered) and, while shown, what it shows (read).
  useEffect(() => {
    const receipt = sandboxReceipt(msgs.data, document.visibilityState === 'visible');
    if (!receipt || phone.length < 5) return;
    api('/api/sandbox/receipts/', { method: 'POST', body: { phone, ...receipt } })
      .then(() => qc.invalidateQueries({ queryKey: ['sandbox', phone] }))
      .catch(() => { /* a receipt is best effort; the next poll tries again when something changes */ });
  }, [msgs.data, phone, qc]);
  const refetch = msgs.refetch;
  useEffect(() => {
    const onShow = () => { if (document.visibilityState === 'visible') void refetch(); };
    document.addEventListener('visibilitychange', onShow);
    return () => document.removeEventListener('visibilitychange', onShow);
  }, [refetch]);
  const list = (msgs.data ?? []).slice().sort((a, b) => (a.created_at < b.created_at ? -1 : a.created_at > b.created_at ? 1 : a.id - b.id));
  const leadId = state.leadId ?? list[0]?.lead ?? null;
  const last = list[list.length - 1];
  const waiting = last && last.direction === 'in' && Date.now() - Date.parse(last.created_at) < 90_000;

  useLayoutEffect(() => { const el = scrollRef.current; if (el) el.scrollTop = el.scrollHeight; }, [list.length]);

  const send = async (e: FormEvent) => {
    e.preventDefault();
    const body = text.trim();
    if (!body || phone.length < 5) return;
    setSending(true);
    try {
      const r = await api<{ lead_id: number; message: Message }>('/api/sandbox/messages/', { method: 'POST', body: { phone, name: state.name.trim(), text: body } });
      setText('');
      setState((s) => ({ ...s, leadId: r.lead_id }));
      if (r.message) qc.setQueryData<Message[]>(['sandbox', phone], (cur) => mergeMessages(cur, r.message));
    } catch (err) {
      toast(t('chat.sendFailed', { detail: err instanceof ApiError ? errorText(err.body, err.message) : t('login.offline') }), 'error');
    } finally {
      setSending(false);
    }
  };

  return (
    <div className="sandbox-page">
      <div className="sandbox-side">
        <h2><Icon name="sandbox" size={20} /> {t('sandbox.title')}</h2>
        <p className="muted">{t('sandbox.hint')}</p>
        <label>{t('sandbox.phone')}
          <input value={state.phone} inputMode="tel" data-testid="sandbox-phone" onChange={(e) => setState({ ...state, phone: e.target.value, leadId: null })} />
        </label>
        <label>{t('sandbox.name')}
          <input value={state.name} data-testid="sandbox-name" onChange={(e) => setState({ ...state, name: e.target.value })} />
        </label>
        <div className="row gap wrap">
          <button className="btn" data-testid="sandbox-new" onClick={() => setState({ phone: randomPhone(), name: state.name, leadId: null })}><Icon name="plus" size={14} /> {t('sandbox.newClient')}</button>
          {leadId && <Link className="btn btn-ghost" to={`/leads/${leadId}`} data-testid="sandbox-open-lead">{t('sandbox.openLead')} →</Link>}
        </div>
      </div>
      <div className="phone" data-testid="sandbox">
        <div className="phone-bar">
          <div className="avatar">AI</div>
          <div><b>{t('sandbox.online')}</b><div className="small">{waiting ? t('sandbox.typing') : 'online'}</div></div>
        </div>
        <div className="phone-chat" ref={scrollRef}>
          {list.length === 0 && <div className="phone-empty">{t('sandbox.empty')}</div>}
          {list.map((m) => (
            <div key={m.id} className={`bubble ${m.direction === 'in' ? 'bubble-me' : 'bubble-them'}`} data-testid="sandbox-message"
              data-direction={m.direction} data-author={m.author_kind}>
              <MessageContent m={m} />
              <div className="msg-meta">{formatTime(m.created_at, lang)} <Ticks m={m} /></div>
            </div>
          ))}
          {waiting && <div className="bubble bubble-them typing"><span>•</span><span>•</span><span>•</span></div>}
        </div>
        <form className="phone-composer" onSubmit={send}>
          <input value={text} placeholder={t('sandbox.placeholder')} onChange={(e) => setText(e.target.value)} data-testid="sandbox-input" autoFocus />
          <button className="send-round" type="submit" disabled={sending || !text.trim()} data-testid="sandbox-send" aria-label={t('sandbox.send')}><Icon name="send" size={18} /></button>
        </form>
      </div>
    </div>
  );
}
