import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { Me } from '../lib/types';
import { NotificationSettings } from '../components/NotificationSettings';

/** The signed-in user's profile: who they are and a password change (current password required). */
export default function Account({ me }: { me: Me }) {
  const t = useT();
  const qc = useQueryClient();
  const [form, setForm] = useState({ current: '', next: '', repeat: '' });
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    if (form.next !== form.repeat) { setError(t('account.mismatch')); return; }
    setBusy(true);
    try {
      await api('/api/auth/password/', { method: 'POST', body: { current_password: form.current, new_password: form.next } });
      setForm({ current: '', next: '', repeat: '' });
      toast(t('account.changed'));
      void qc.invalidateQueries({ queryKey: ['me'] });
    } catch (err) {
      setError(err instanceof ApiError ? passwordError(err) : t('login.offline'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="page narrow" data-testid="account">
      <h2>{t('account.title')}</h2>
      <p className="muted">{me.full_name ? `${me.full_name} · ` : ''}{me.email} · {t(`role.${me.role}`)}</p>
      <form className="card-form" onSubmit={submit} data-testid="password-form">
        <h3>{t('account.password')}</h3>
        <label>{t('account.current')}
          <input type="password" autoComplete="current-password" required value={form.current} data-testid="password-current"
            onChange={(e) => setForm({ ...form, current: e.target.value })} />
        </label>
        <label>{t('account.new')}
          <input type="password" autoComplete="new-password" required minLength={8} value={form.next} data-testid="password-new"
            onChange={(e) => setForm({ ...form, next: e.target.value })} />
        </label>
        <label>{t('account.repeat')}
          <input type="password" autoComplete="new-password" required minLength={8} value={form.repeat} data-testid="password-repeat"
            onChange={(e) => setForm({ ...form, repeat: e.target.value })} />
        </label>
        <p className="muted small">{t('account.rules')}</p>
        {error && <div className="form-error" role="alert" data-testid="password-error">{error}</div>}
        <button className="btn btn-primary" type="submit" disabled={busy} data-testid="password-submit">{t('account.submit')}</button>
      </form>
      <NotificationSettings />
    </div>
  );
}

/** The server's reason without the field name in front ("new_password: …" → "…"). */
export function passwordError(err: ApiError): string {
  const body = err.body as Record<string, unknown> | null;
  if (body && typeof body === 'object') {
    for (const key of ['current_password', 'new_password']) {
      const v = body[key];
      if (Array.isArray(v) && v.length) return v.join(' ');
    }
  }
  return errorText(err.body, err.message);
}
