import { useEffect, useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { api } from '../lib/api';
import { emptyFilters, filtersToApi, filtersToSearch, inboxActive, inboxToggle, ORDERINGS, parseFilters, updateFilters, type Filters } from '../lib/filters';
import { formatDate, formatTime } from '../lib/format';
import { useNow, useStages, useUsers } from '../lib/hooks';
import { useLang, useT } from '../lib/i18n';
import { formatMoney, useCurrency } from '../lib/money';
import { navigate } from '../lib/router';
import { toast } from '../lib/toast';
import type { Lead, Me, Page } from '../lib/types';
import { channelLabel, ClientWaitingTimer, HandlerBadge, NoAnswerTimer, Temp, UnreadBadge } from '../components/LeadBits';
import { InboxChips } from '../components/InboxFilterBar';
import { Icon } from '../components/Icon';
import { BulkBar } from '../components/CrmTools';
import { toggleAll, toggleId } from '../lib/crm';

const PAGE_SIZE = 50;
const CHANNELS = ['whatsapp', 'telegram', 'instagram', 'sandbox'];

export function LeadsList({ search, me }: { search: string; me: Me }) {
  const t = useT();
  const lang = useLang();
  const now = useNow(15_000);
  const currency = useCurrency();
  const f = parseFilters(search);
  const stages = useStages();
  const users = useUsers(me.role !== 'manager');
  const apiQuery = filtersToApi(f, PAGE_SIZE);
  const leads = useQuery<Page<Lead>>({
    queryKey: ['leads', apiQuery],
    queryFn: () => api<Page<Lead>>(`/api/leads/${apiQuery}`),
    placeholderData: keepPreviousData,
  });
  const [q, setQ] = useState(f.q);
  const [source, setSource] = useState(f.source);
  const [tag, setTag] = useState(f.tag);
  const [selected, setSelected] = useState<number[]>([]);
  const pageIds = leads.data?.results.map((l) => l.id) ?? [];
  // Another filter or page: the selection would act on rows no longer in view.
  useEffect(() => { setSelected([]); }, [apiQuery]);

  const apply = (patch: Partial<Filters>) => navigate(`/leads${filtersToSearch(updateFilters(f, patch), { view: 'list' })}`, { replace: true });

  // debounce typing into the URL
  useEffect(() => {
    if (q === f.q && source === f.source && tag === f.tag) return;
    const id = setTimeout(() => apply({ q, source, tag }), 350);
    return () => clearTimeout(id);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [q, source, tag]);
  useEffect(() => { setQ(f.q); setSource(f.source); setTag(f.tag); }, [f.q, f.source, f.tag]);

  const stageName = (id: number) => stages.data?.find((s) => s.id === id)?.name ?? String(id);
  const stageColor = (id: number) => stages.data?.find((s) => s.id === id)?.color ?? '#999';
  const sortBy = (asc: string, desc: string) => apply({ ordering: f.ordering === desc ? asc : desc });
  const arrow = (asc: string, desc: string) => (f.ordering === desc ? ' ↓' : f.ordering === asc ? ' ↑' : '');
  const pages = leads.data ? Math.max(1, Math.ceil(leads.data.count / PAGE_SIZE)) : 1;

  return (
    <div className="list-view">
      <InboxChips active={inboxActive(f)} q={f.q} onToggle={(x) => apply(inboxToggle(f, x))} onSearch={(v) => { setQ(v); apply({ q: v }); }} search={false} />
      <div className="filters" data-testid="filters">
        <input className="grow" type="search" placeholder={t('list.search')} value={q} onChange={(e) => setQ(e.target.value)} data-testid="filter-q" />
        <select value={f.stage} onChange={(e) => apply({ stage: e.target.value })} data-testid="filter-stage" aria-label={t('list.stage')}>
          <option value="">{t('list.stage')}: {t('common.all')}</option>
          {stages.data?.map((s) => <option key={s.id} value={String(s.id)}>{s.name}</option>)}
        </select>
        <select value={f.temperature} onChange={(e) => apply({ temperature: e.target.value })} data-testid="filter-temperature" aria-label={t('list.temperature')}>
          <option value="">{t('list.temperature')}: {t('common.all')}</option>
          <option value="hot">{t('temp.hot')}</option>
          <option value="warm">{t('temp.warm')}</option>
          <option value="cold">{t('temp.cold')}</option>
        </select>
        <select value={f.assignee} onChange={(e) => apply({ assignee: e.target.value })} data-testid="filter-assignee" aria-label={t('list.assignee')}>
          <option value="">{t('list.assignee')}: {t('common.all')}</option>
          <option value="none">{t('list.unassigned')}</option>
          <option value="me">{t('inbox.mine')}</option>
          {me.role === 'manager' && <option value={String(me.id)}>{me.full_name || me.email}</option>}
          {users.data?.filter((u) => u.is_active).map((u) => <option key={u.id} value={String(u.id)}>{u.full_name || u.email}</option>)}
        </select>
        <select value={f.ai} onChange={(e) => apply({ ai: e.target.value })} data-testid="filter-ai" aria-label="AI">
          <option value="">AI: {t('common.all')}</option>
          <option value="on">{t('list.aiOn')}</option>
          <option value="off">{t('list.aiOff')}</option>
        </select>
        <select value={f.channel} onChange={(e) => apply({ channel: e.target.value })} data-testid="filter-channel" aria-label={t('list.channel')}>
          <option value="">{t('list.channel')}: {t('common.all')}</option>
          {CHANNELS.map((c) => <option key={c} value={c}>{channelLabel(t, c)}</option>)}
        </select>
        <input placeholder={t('list.source')} value={source} onChange={(e) => setSource(e.target.value)} data-testid="filter-source" className="w-source" />
        <input placeholder={t('crm.filterTag')} value={tag} onChange={(e) => setTag(e.target.value)} data-testid="filter-tag" className="w-source" aria-label={t('crm.filterTag')} />
        <label className="inline">{t('list.from')} <input type="date" value={f.created_from} onChange={(e) => apply({ created_from: e.target.value })} data-testid="filter-from" /></label>
        <label className="inline">{t('list.to')} <input type="date" value={f.created_to} onChange={(e) => apply({ created_to: e.target.value })} data-testid="filter-to" /></label>
        <select value={f.ordering} onChange={(e) => apply({ ordering: e.target.value })} data-testid="filter-ordering" aria-label={t('list.ordering')}>
          {ORDERINGS.map((o) => <option key={o} value={o}>{t(`order.${o}`)}</option>)}
        </select>
        <button className="btn btn-ghost btn-sm" onClick={() => { setQ(''); setSource(''); setTag(''); navigate(`/leads${filtersToSearch(emptyFilters(), { view: 'list' })}`, { replace: true }); }} data-testid="filter-reset">{t('list.reset')}</button>
        <button className="btn btn-ghost btn-sm" onClick={() => { void navigator.clipboard?.writeText(window.location.href).then(() => toast(t('list.copied'))); }}><Icon name="link" size={14} /> {t('list.copy')}</button>
      </div>
      {leads.isError && <div className="form-error pad">{t('common.error', { detail: (leads.error as Error).message })}</div>}
      <div className="table-wrap">
        <table className="table" data-testid="list-table">
          <thead>
            <tr>
              <th className="sortable" onClick={() => sortBy('name', 'name')}>
                <input type="checkbox" className="row-check" aria-label={t('crm.selectAll')} data-testid="select-all" onClick={(e) => e.stopPropagation()}
                  checked={pageIds.length > 0 && pageIds.every((id) => selected.includes(id))} onChange={() => setSelected(toggleAll(selected, pageIds))} />{t('col.name')}{f.ordering === 'name' ? ' ↑' : ''}</th>
              <th>{t('col.city')}</th>
              <th>{t('col.stage')}</th>
              <th className="sortable" onClick={() => sortBy('score', '-score')}>{t('col.score')}{arrow('score', '-score')}</th>
              <th className="num">{t('amount.column')}</th>
              <th>{t('col.handler')}</th>
              <th className="sortable" onClick={() => apply({ ordering: '-last_message_at' })}>{t('col.lastMessage')}{f.ordering === '-last_message_at' ? ' ↓' : ''}</th>
              <th>{t('col.channel')}</th>
              <th className="sortable" onClick={() => sortBy('created_at', '-created_at')}>{t('col.created')}{arrow('created_at', '-created_at')}</th>
            </tr>
          </thead>
          <tbody>
            {leads.data?.results.map((l) => (
              <tr key={l.id} data-testid={`list-row-${l.id}`} onClick={() => navigate(`/leads/${l.id}${search}`)} tabIndex={0}
                onKeyDown={(e) => { if (e.key === 'Enter') navigate(`/leads/${l.id}${search}`); }}>
                <td>
                  <input type="checkbox" className="row-check" aria-label={t('crm.selectRow')} data-testid={`select-${l.id}`} checked={selected.includes(l.id)}
                    onClick={(e) => e.stopPropagation()} onChange={() => setSelected(toggleId(selected, l.id))} />
                  <b>{l.name || l.phone}</b> <UnreadBadge lead={l} /><div className="muted small">{l.name ? l.phone : ''}</div>
                  {(l.tags?.length ?? 0) > 0 && <div className="row-tags">{l.tags!.map((tg) => (
                    <button type="button" key={tg} className={`chip${l.tags_auto?.includes(tg) ? ' tag-auto' : ''}`} title={t('crm.filterTag')}
                      onClick={(e) => { e.stopPropagation(); setTag(tg); apply({ tag: tg }); }}>{tg}</button>
                  ))}</div>}
                </td>
                <td>{l.city}</td>
                <td><span className="stage-pill" style={{ borderColor: stageColor(l.stage) }}>{stageName(l.stage)}</span></td>
                <td className="nowrap"><Temp t={l.temperature} /> {l.score}</td>
                <td className="nowrap num" data-testid="list-amount">{formatMoney(l.amount, currency, lang)}</td>
                <td><HandlerBadge lead={l} /></td>
                <td className="cell-msg">
                  <div className="ellipsis">{l.last_message?.text}</div>
                  <div className="muted small">{formatTime(l.last_message_at, lang, now)} <NoAnswerTimer lead={l} now={now} /> <ClientWaitingTimer lead={l} now={now} /></div>
                </td>
                <td>{channelLabel(t, l.channel)}{l.source ? <div className="muted small">{l.source}</div> : null}</td>
                <td className="nowrap">{formatDate(l.created_at, lang)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {leads.isPending && <div className="pad muted">{t('common.loading')}</div>}
      </div>
      {selected.length > 0 && <BulkBar me={me} ids={selected} onDone={() => setSelected([])} />}
      <div className="pager">
        <span className="muted" data-testid="list-count">{t('list.count', { n: leads.data?.count ?? 0 })}</span>
        <button className="btn btn-sm" disabled={f.page <= 1} onClick={() => apply({ page: f.page - 1 })}>{t('list.prev')}</button>
        <span>{t('list.page', { p: f.page, n: pages })}</span>
        <button className="btn btn-sm" disabled={!leads.data?.next} onClick={() => apply({ page: f.page + 1 })}>{t('list.next')}</button>
      </div>
    </div>
  );
}
