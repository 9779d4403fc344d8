import { lazy, Suspense } from 'react';
import { useT } from '../lib/i18n';
import { Link, matchPath, navigate, useLocation } from '../lib/router';
import type { Me } from '../lib/types';
import { Board } from './Board';
import { LeadsList } from './LeadsList';
import { Icon } from '../components/Icon';
import { LeadsActions } from '../components/CrmTools';

const LeadPanel = lazy(() => import('./LeadPanel'));

export function Leads({ me }: { me: Me }) {
  const t = useT();
  const { pathname, search } = useLocation();
  const params = new URLSearchParams(search);
  const view = params.get('view') === 'list' ? 'list' : 'board';
  const m = matchPath('/leads/:id', pathname);
  const openId = m ? Number(m.id) : null;
  const listSearch = (() => { const p = new URLSearchParams(search); p.set('view', 'list'); return `?${p.toString()}`; })();

  return (
    <div className={`leads-page${openId ? ' has-panel' : ''}`}>
      <div className="leads-toolbar">
        <div className="seg" role="tablist">
          <Link to="/leads" className={`seg-btn${view === 'board' ? ' active' : ''}`} data-testid="view-board" role="tab"><Icon name="board" size={14} /> {t('nav.board')}</Link>
          <Link to={`/leads${listSearch}`} className={`seg-btn${view === 'list' ? ' active' : ''}`} data-testid="view-list" role="tab"><Icon name="menu" size={14} /> {t('nav.list')}</Link>
        </div>
        <div className="crm-actions">
          <LeadsActions me={me} search={search} />
          <Link to="/sandbox" className="btn btn-accent btn-sm" data-testid="open-sandbox"><Icon name="sandbox" size={14} /> {t('nav.sandbox')}</Link>
        </div>
      </div>
      {view === 'board' ? <Board search={search} /> : <LeadsList search={search} me={me} />}
      {openId !== null && !Number.isNaN(openId) && (
        <Suspense fallback={<div className="panel-backdrop"><aside className="lead-panel pad muted">{t('common.loading')}</aside></div>}>
          <LeadPanel id={openId} me={me} onClose={() => navigate(`/leads${search}`)} />
        </Suspense>
      )}
    </div>
  );
}
