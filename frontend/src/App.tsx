import { lazy, Suspense, useEffect, useState } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, ensureCsrf } from './lib/api';
import { rememberMe, useLiveUpdates, useMe, useOnline } from './lib/hooks';
import { setLang, useLang, useT } from './lib/i18n';
import { meLabel } from './lib/format';
import { Icon, type IconName } from './components/Icon';
import { Bell } from './components/Bell';
import { Link, matchPath, navigate, useLocation } from './lib/router';
import { Toasts } from './lib/toast';
import type { Me } from './lib/types';
import { Login } from './pages/Login';
import { Leads } from './pages/Leads';

const Sandbox = lazy(() => import('./pages/Sandbox'));
const Analytics = lazy(() => import('./pages/Analytics'));
const Team = lazy(() => import('./pages/Team'));
const Stages = lazy(() => import('./pages/Stages'));
const Content = lazy(() => import('./pages/Content'));
const Account = lazy(() => import('./pages/Account'));
const Knowledge = lazy(() => import('./pages/Knowledge'));
const MyTasks = lazy(() => import('./pages/MyTasks'));
const Assignment = lazy(() => import('./pages/Assignment'));

export function OfflineBanner() {
  const online = useOnline();
  const t = useT();
  if (online) return null;
  return <div className="offline-banner" data-testid="offline-banner" role="alert"><Icon name="offline" /> {t('offline')}</div>;
}

export function App() {
  useEffect(() => { void ensureCsrf(); }, []);
  const me = useMe();
  const t = useT();
  if (me.isPending) return <><OfflineBanner /><div className="center-screen muted">{t('common.loading')}</div></>;
  if (me.isError) {
    return (
      <><OfflineBanner />
        <div className="center-screen">
          <p>{t('login.offline')}</p>
          <button className="btn" onClick={() => me.refetch()}>{t('common.retry')}</button>
        </div>
      </>
    );
  }
  if (!me.data) return <><OfflineBanner /><Login /><Toasts /></>;
  return <Shell me={me.data} />;
}

const canManage = (me: Me) => me.role === 'owner' || me.role === 'head';

function Shell({ me }: { me: Me }) {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const { pathname } = useLocation();
  useLiveUpdates(true);
  // A push clicked while the app is open: the service worker asks this window to open the lead.
  useEffect(() => {
    if (!('serviceWorker' in navigator)) return;
    const open = (e: MessageEvent) => { if (e.data?.type === 'open' && typeof e.data.url === 'string') navigate(e.data.url); };
    navigator.serviceWorker.addEventListener('message', open);
    return () => navigator.serviceWorker.removeEventListener('message', open);
  }, []);

  useEffect(() => {
    if (pathname === '/' || pathname === '/login' || pathname === '') navigate('/leads', { replace: true });
  }, [pathname]);

  const logout = async () => {
    try { await api('/api/auth/logout/', { method: 'POST' }); } catch { /* leave anyway */ }
    rememberMe(null);
    // Not qc.clear(): that would detach the mounted useMe observer from ['me'], and the shell would stay.
    qc.setQueryData(['me'], null);
    qc.removeQueries({ predicate: (q) => q.queryKey[0] !== 'me' });
    navigate('/login', { replace: true });
  };

  const nav = [
    { to: '/leads', key: 'leads', icon: 'board' },
    { to: '/tasks', key: 'tasks', icon: 'tasks' },
    { to: '/sandbox', key: 'sandbox', icon: 'sandbox', accent: true },
    { to: '/analytics', key: 'analytics', icon: 'analytics' },
    ...(canManage(me) ? [
      { to: '/team', key: 'team', icon: 'team', secondary: true },
      { to: '/stages', key: 'stages', icon: 'stages', secondary: true },
      { to: '/content', key: 'content', icon: 'content', secondary: true },
      { to: '/knowledge', key: 'knowledge', icon: 'knowledge', secondary: true },
      { to: '/assignment', key: 'assignment', icon: 'settings', secondary: true },
    ] : []),
  ];
  const secondary = nav.filter((n) => 'secondary' in n && n.secondary);
  const inSecondary = secondary.some((n) => pathname.startsWith(n.to));

  let page;
  if (pathname === '/leads' || matchPath('/leads/:id', pathname)) page = <Leads me={me} />;
  else if (pathname === '/sandbox') page = <Sandbox />;
  else if (pathname === '/analytics') page = <Analytics />;
  else if (pathname === '/team') page = canManage(me) ? <Team me={me} /> : <NoAccess />;
  else if (pathname === '/stages') page = canManage(me) ? <Stages /> : <NoAccess />;
  else if (pathname === '/content') page = canManage(me) ? <Content /> : <NoAccess />;
  else if (pathname === '/knowledge') page = <Knowledge canEdit={canManage(me)} />;
  else if (pathname === '/account') page = <Account me={me} />;
  else if (pathname === '/tasks') page = <MyTasks me={me} />;
  else if (pathname === '/assignment') page = canManage(me) ? <Assignment /> : <NoAccess />;
  else page = <Leads me={me} />;

  return (
    <div className="shell">
      <OfflineBanner />
      <header className="topbar">
        <Link to="/leads" className="brand" aria-label="BuildCRM">
          <img src="/favicon.svg" alt="" width={28} height={28} />
          <span className="brand-name">BuildCRM</span>
          <span className="tenant muted">{me.tenant?.name}</span>
        </Link>
        <nav className="nav" aria-label="main">
          {nav.map((n) => (
            <Link key={n.key} to={n.to} data-testid={`nav-${n.key}`}
              className={`nav-item${pathname.startsWith(n.to) ? ' active' : ''}${n.accent ? ' accent' : ''}${'secondary' in n && n.secondary ? ' nav-secondary' : ''}`}>
              <span className="nav-icon" aria-hidden><Icon name={n.icon as IconName} /></span><span className="nav-label">{t(`nav.${n.key}`)}</span>
            </Link>
          ))}
          {secondary.length > 0 && <MoreMenu items={secondary} active={inSecondary} pathname={pathname} />}
        </nav>
        <div className="topbar-right">
          <Bell />
          <button className="btn btn-ghost btn-sm" data-testid="lang-switch" title="Язык / Language"
            onClick={() => setLang(lang === 'ru' ? 'en' : 'ru')}>{lang === 'ru' ? 'EN' : 'RU'}</button>
          <Link to="/account" className="btn btn-ghost btn-sm account-link" data-testid="nav-account" title={t('account.nav')}
            aria-label={t('account.nav')}>
            <Icon name="user" /><span className="me muted" title={me.email} data-testid="me">{meLabel(me, t(`role.${me.role}`))}</span>
          </Link>
          <button className="btn btn-ghost btn-sm" data-testid="logout" onClick={logout}>{t('nav.logout')}</button>
        </div>
      </header>
      <main className="main">
        <Suspense fallback={<div className="pad muted">{t('common.loading')}</div>}>{page}</Suspense>
      </main>
      <Toasts />
    </div>
  );
}

function NoAccess() {
  const t = useT();
  return <div className="pad muted" data-testid="no-access">{t('common.noAccess')}</div>;
}

/** On a phone the bottom bar keeps the daily pages; the settings pages sit behind "More" (they do not fit 390 px). */
function MoreMenu({ items, active, pathname }: { items: { to: string; key: string; icon: string }[]; active: boolean; pathname: string }) {
  const t = useT();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [pathname]);
  return (
    <>
      <button type="button" className={`nav-item nav-more${active ? ' active' : ''}`} data-testid="nav-more"
        aria-expanded={open} aria-haspopup="menu" onClick={() => setOpen((o) => !o)}>
        <span className="nav-icon" aria-hidden><Icon name="menu" /></span><span className="nav-label">{t('nav.more')}</span>
      </button>
      {open && (
        <>
          <div className="more-backdrop" onClick={() => setOpen(false)} />
          <div className="more-sheet" role="menu" data-testid="more-sheet">
            {items.map((n) => (
              <Link key={n.key} to={n.to} data-testid={`more-${n.key}`} className={`more-item${pathname.startsWith(n.to) ? ' active' : ''}`}>
                <Icon name={n.icon as IconName} /> {t(`nav.${n.key}`)}
              </Link>
            ))}
          </div>
        </>
      )}
    </>
  );
}
