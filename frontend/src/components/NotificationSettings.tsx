// Account → notifications: push on this device, which events arrive which way, quiet hours, Telegram linking.
import { useEffect, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import {
  currentSubscription, disablePush, enablePush, pushSupported, type NotificationPrefs, type Way,
} from '../lib/notifications';

const PREFS_KEY = ['notification-prefs'];

export function NotificationSettings() {
  const t = useT();
  const qc = useQueryClient();
  const prefs = useQuery<NotificationPrefs>({ queryKey: PREFS_KEY, queryFn: () => api<NotificationPrefs>('/api/notifications/prefs/') });
  const [pushOn, setPushOn] = useState<boolean | null>(null);
  const [quiet, setQuiet] = useState({ start: '', end: '' });
  const [code, setCode] = useState<{ code: string; bot_username: string; expires_at: string } | null>(null);
  const [error, setError] = useState('');

  useEffect(() => { void currentSubscription().then((s) => setPushOn(!!s)).catch(() => setPushOn(false)); }, []);
  // From the server when its quiet hours change (not on every refetch: that would wipe what is being typed).
  const storedStart = prefs.data?.quiet_start ?? '';
  const storedEnd = prefs.data?.quiet_end ?? '';
  useEffect(() => { setQuiet({ start: storedStart, end: storedEnd }); }, [storedStart, storedEnd]);

  const save = async (body: Record<string, unknown>) => {
    setError('');
    try {
      qc.setQueryData(PREFS_KEY, await api<NotificationPrefs>('/api/notifications/prefs/', { method: 'PUT', body }));
      toast(t('common.saved'));
    } catch (e) {
      setError(e instanceof ApiError ? errorText(e.body, e.message) : t('login.offline'));
    }
  };

  // Shown at once (the server's answer replaces it; a failure puts the stored choice back).
  const toggleWay = (kind: string, way: Way, on: boolean) => {
    qc.setQueryData<NotificationPrefs>(PREFS_KEY, (old) => (old
      ? { ...old, ways: { ...old.ways, [kind]: { ...old.ways[kind], [way]: on } } } : old));
    void save({ ways: { [kind]: { [way]: on } } }).then(() => qc.invalidateQueries({ queryKey: PREFS_KEY }));
  };

  const togglePush = async () => {
    setError('');
    try {
      if (pushOn) { await disablePush(); setPushOn(false); return; }
      const outcome = await enablePush();
      if (outcome === 'on') { setPushOn(true); toast(t('notif.pushOn')); } else setError(t(`notif.push.${outcome}`));
    } catch (e) {
      setError(e instanceof ApiError ? errorText(e.body, e.message) : `${t('notif.push.failed')} ${(e as Error)?.message ?? ''}`);
    }
  };

  const linkTelegram = async () => {
    setError('');
    try { setCode(await api('/api/notifications/telegram/', { method: 'POST' })); } catch (e) {
      setError(e instanceof ApiError ? errorText(e.body, e.message) : t('login.offline'));
    }
  };
  const unlinkTelegram = async () => {
    await api('/api/notifications/telegram/', { method: 'DELETE' });
    setCode(null);
    void qc.invalidateQueries({ queryKey: PREFS_KEY });
  };

  if (prefs.isPending) return <div className="muted">{t('common.loading')}</div>;
  if (!prefs.data) return null;
  const p = prefs.data;
  const ways = p.channels.filter((w) => w !== 'telegram' || p.telegram_bot);

  return (
    <section className="card-form" data-testid="notif-settings">
      <h3>{t('notif.settings')}</h3>
      <div className="notif-push">
        {pushSupported()
          ? <button className="btn" data-testid="notif-push-toggle" disabled={pushOn === null} onClick={() => void togglePush()}>
              {pushOn ? t('notif.pushDisable') : t('notif.pushEnable')}</button>
          : <span className="muted small" data-testid="notif-push-unsupported">{t('notif.push.unsupported')}</span>}
      </div>
      <div className="table-wrap">
        <table className="notif-ways" data-testid="notif-ways">
          <thead><tr><th>{t('notif.event')}</th>{ways.map((w) => <th key={w}>{t(`notifWay.${w}`)}</th>)}</tr></thead>
          <tbody>
            {p.kinds.map((kind) => (
              <tr key={kind}>
                <td>{t(`notifKind.${kind}`)}</td>
                {ways.map((w: Way) => (
                  <td key={w}>
                    <input type="checkbox" aria-label={`${t(`notifKind.${kind}`)}: ${t(`notifWay.${w}`)}`}
                      data-testid={`notif-way-${kind}-${w}`} checked={p.ways[kind]?.[w] ?? true}
                      onChange={(e) => toggleWay(kind, w, e.target.checked)} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <form className="notif-quiet" onSubmit={(e) => { e.preventDefault(); void save({ quiet_start: quiet.start || null, quiet_end: quiet.end || null }); }}>
        <strong>{t('notif.quiet')}</strong>
        <span className="muted small">{t('notif.quietHint', { tz: p.timezone })}</span>
        <label>{t('list.from')} <input type="time" value={quiet.start} data-testid="notif-quiet-start"
          onChange={(e) => setQuiet({ ...quiet, start: e.target.value })} /></label>
        <label>{t('list.to')} <input type="time" value={quiet.end} data-testid="notif-quiet-end"
          onChange={(e) => setQuiet({ ...quiet, end: e.target.value })} /></label>
        <button className="btn btn-sm" type="submit" data-testid="notif-quiet-save">{t('common.save')}</button>
      </form>
      {p.telegram_bot && (
        <div className="notif-telegram" data-testid="notif-telegram">
          <strong>Telegram</strong>
          {p.telegram_linked
            ? <><span data-testid="notif-telegram-linked">{t('notif.tgLinked')}</span>
                <button className="btn btn-sm" onClick={() => void unlinkTelegram()}>{t('notif.tgUnlink')}</button></>
            : <button className="btn btn-sm" data-testid="notif-telegram-link" onClick={() => void linkTelegram()}>{t('notif.tgLink')}</button>}
          {code && !p.telegram_linked && (
            <p className="small" data-testid="notif-telegram-code">
              {t('notif.tgSend', { code: code.code })}{' '}
              {code.bot_username && <a href={`https://t.me/${code.bot_username}?start=${code.code}`} target="_blank" rel="noreferrer">@{code.bot_username}</a>}
              {' '}<span className="muted">{t('notif.tgExpires')}</span>
            </p>
          )}
        </div>
      )}
      {error && <div className="form-error" role="alert" data-testid="notif-error">{error}</div>}
    </section>
  );
}
