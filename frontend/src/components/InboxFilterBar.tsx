// The inbox view's quick filters (mine / unassigned / waiting / hot / unread) and search, on the board and the list.
import { useEffect, useState } from 'react';
import { useT } from '../lib/i18n';
import { boardFiltersToSearch, INBOX_FILTERS, parseBoardFilters, toggleFilter, type InboxFilter } from '../lib/inbox';
import { navigate, useLocation } from '../lib/router';
import { Icon, type IconName } from './Icon';

const ICONS: Record<InboxFilter, IconName> = { mine: 'user', unassigned: 'team', waiting: 'clock', hot: 'hot', unread: 'chat' };

export function InboxChips({ active, onToggle, q, onSearch, search = true }: {
  active: InboxFilter[]; onToggle: (f: InboxFilter) => void; q: string; onSearch: (q: string) => void; search?: boolean;
}) {
  const t = useT();
  const [text, setText] = useState(q);
  useEffect(() => { setText(q); }, [q]);
  // typing goes to the URL (and the server) after a pause
  useEffect(() => {
    if (text.trim() === q) return;
    const id = setTimeout(() => onSearch(text.trim()), 350);
    return () => clearTimeout(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);
  return (
    <div className="inbox-bar" data-testid="inbox-filters" role="toolbar" aria-label={t('inbox.filters')}>
      {search && <label className="inbox-search">
        <Icon name="search" size={15} />
        <input type="search" value={text} maxLength={200} placeholder={t('inbox.search')} aria-label={t('inbox.search')}
          onChange={(e) => setText(e.target.value)} data-testid="inbox-q" />
      </label>}
      <div className="inbox-chips">
        {INBOX_FILTERS.map((f) => (
          <button key={f} type="button" className={`chip${active.includes(f) ? ' active' : ''}`} aria-pressed={active.includes(f)}
            onClick={() => onToggle(f)} data-testid={`inbox-${f}`}>
            <Icon name={ICONS[f]} size={13} /> {t(`inbox.${f}`)}
          </button>
        ))}
      </div>
    </div>
  );
}

/** The board's filters live in the URL (`only=mine,waiting&q=…`), so a filtered board can be shared and reloaded. */
export function InboxFilterBar({ search }: { search: string }) {
  const { pathname } = useLocation();
  const f = parseBoardFilters(search);
  const go = (next: typeof f) => navigate(`${pathname}${boardFiltersToSearch(search, next)}`, { replace: true });
  return <InboxChips active={f.only} q={f.q} onToggle={(x) => go(toggleFilter(f, x))} onSearch={(q) => go({ ...f, q })} />;
}
