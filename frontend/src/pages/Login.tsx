import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, ApiError, ensureCsrf } from '../lib/api';
import { rememberMe } from '../lib/hooks';
import { setLang, useLang, useT } from '../lib/i18n';
import { formatSeconds } from '../lib/format';
import { navigate, useLocation } from '../lib/router';
import type { Me } from '../lib/types';

export function Login() {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const { pathname, search } = useLocation();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      await ensureCsrf();
      await api('/api/auth/login/', { method: 'POST', body: { email: email.trim(), password } });
      const me = await api<Me>('/api/auth/me/');
      rememberMe(me);
      qc.setQueryData(['me'], me);
      if (pathname === '/login' || pathname === '/') navigate('/leads', { replace: true });
      else navigate(pathname + search, { replace: true });
    } catch (err) {
      if (err instanceof ApiError) {
        if (err.status === 429) setError(t('login.throttled', { time: formatSeconds(err.retryAfter ?? 60, lang) }));
        else if (err.status === 403 && (err.body as { detail?: string } | null)?.detail?.includes('CSRF')) setError(t('login.failed', { detail: err.message }));
        else if (err.status === 403) setError(t('login.deactivated'));
        else if (err.status === 400 || err.status === 401) setError(t('login.wrong'));
        else setError(t('login.failed', { detail: err.message }));
      } else setError(t('login.offline'));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login-page">
      <form className="login-card" onSubmit={submit} data-testid="login-form">
        <div className="login-head">
          <img src="/favicon.svg" alt="" width={40} height={40} />
          <h1>{t('login.title')}</h1>
        </div>
        <label>{t('login.email')}
          <input type="email" autoComplete="username" required value={email} data-testid="login-email"
            onChange={(e) => setEmail(e.target.value)} autoFocus />
        </label>
        <label>{t('login.password')}
          <input type="password" autoComplete="current-password" required value={password} data-testid="login-password"
            onChange={(e) => setPassword(e.target.value)} />
        </label>
        {error && <div className="form-error" role="alert" data-testid="login-error">{error}</div>}
        <button className="btn btn-primary btn-block" type="submit" disabled={busy} data-testid="login-submit">{t('login.submit')}</button>
        <button type="button" className="btn btn-ghost btn-sm lang-login" data-testid="lang-switch"
          onClick={() => setLang(lang === 'ru' ? 'en' : 'ru')}>{lang === 'ru' ? 'English' : 'Русский'}</button>
      </form>
    </div>
  );
}
