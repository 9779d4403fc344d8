// The bell in the header: unread count (live over the websocket), the latest notifications, mark read, open the lead.
import { useEffect, useRef, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { Icon } from './Icon';
import { useLang, useT } from '../lib/i18n';
import { navigate } from '../lib/router';
import { formatTime } from '../lib/format';
import { isMuted, markRead, setMuted, useNotificationList, useUnreadCount, type AppNotification } from '../lib/notifications';

export function Bell() {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const [open, setOpen] = useState(false);
  const [muted, setMute] = useState(isMuted);
  const unread = useUnreadCount().data ?? 0;
  const list = useNotificationList(open);
  const box = useRef<HTMLDivElement>(null);

  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => { if (box.current && !box.current.contains(e.target as Node)) setOpen(false); };
    const esc = (e: KeyboardEvent) => { if (e.key === 'Escape') setOpen(false); };
    document.addEventListener('mousedown', close);
    document.addEventListener('keydown', esc);
    return () => { document.removeEventListener('mousedown', close); document.removeEventListener('keydown', esc); };
  }, [open]);

  const openOne = (n: AppNotification) => {
    setOpen(false);
    if (!n.read_at) void markRead(qc, [n.id]);
    if (n.url) navigate(n.url);
  };

  return (
    <div className="bell" ref={box}>
      <button className="btn btn-ghost btn-sm bell-button" data-testid="notif-bell" aria-label={t('notif.title')}
        title={t('notif.title')} aria-expanded={open} onClick={() => setOpen(!open)}>
        <Icon name="bell" />
        {unread > 0 && <span className="bell-count" data-testid="notif-count">{unread > 99 ? '99+' : unread}</span>}
      </button>
      {open && (
        <div className="bell-menu" role="dialog" aria-label={t('notif.title')} data-testid="notif-menu">
          <div className="bell-head">
            <strong>{t('notif.title')}</strong>
            <button className="btn btn-ghost btn-sm" data-testid="notif-mute" title={muted ? t('notif.unmute') : t('notif.mute')}
              aria-pressed={muted} onClick={() => { setMuted(!muted); setMute(!muted); }}>
              <Icon name="volume" className={muted ? 'muted-icon' : undefined} /> {muted ? t('notif.soundOff') : t('notif.soundOn')}
            </button>
            <button className="btn btn-ghost btn-sm" data-testid="notif-read-all" disabled={unread === 0}
              onClick={() => void markRead(qc, null)}>{t('notif.readAll')}</button>
          </div>
          <ul className="bell-list" data-testid="notif-list">
            {list.isPending && <li className="muted pad-s">{t('common.loading')}</li>}
            {list.data && list.data.length === 0 && <li className="muted pad-s" data-testid="notif-empty">{t('notif.empty')}</li>}
            {list.data?.map((n) => (
              <li key={n.id}>
                <button className={`bell-item${n.read_at ? '' : ' unread'}`} data-testid={`notif-item-${n.id}`} onClick={() => openOne(n)}>
                  <span className="bell-item-title">{t(`notifKind.${n.kind}`) === `notifKind.${n.kind}` ? n.title : t(`notifKind.${n.kind}`)}</span>
                  {n.body && <span className="bell-item-body">{n.body}</span>}
                  <span className="bell-item-time muted small">{formatTime(n.created_at, lang)}</span>
                </button>
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
