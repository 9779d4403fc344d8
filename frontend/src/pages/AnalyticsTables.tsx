import { useQuery } from '@tanstack/react-query';
import { api } from '../lib/api';
import { formatPercent } from '../lib/format';
import { useLang, useT } from '../lib/i18n';
import { ANALYTICS_TABLES, exportUrl, formatMoney } from '../lib/money';
import type { AnalyticsTable, AnalyticsTables as Tables } from '../lib/types';
import { channelLabel } from '../components/LeadBits';

const MONEY = new Set(['won_amount', 'open_amount', 'avg_deal']);
const SHARE = new Set(['share', 'qualified_rate', 'won_rate', 'hot_share', 'warm_share', 'cold_share']);
/** The column each table draws its bars from. */
const BAR: Record<string, string> = {
  money_by_manager: 'won_amount', money_by_source: 'won_amount', money_by_channel: 'won_amount', cohort_funnel: 'share',
  messages_by_channel: 'total', message_conversion: 'qualified_rate', quality_by_source: 'avg_score', top_questions: 'leads',
  active_conversations: 'active', sales_cycle: 'median_days',
};

/** The sales tables of the analytics page (GET /api/analytics/tables/), each with a CSV download. */
export function AnalyticsTablesSection({ from, to }: { from: string; to: string }) {
  const t = useT();
  const q = useQuery<Tables>({ queryKey: ['analytics-tables', from, to], queryFn: () => api<Tables>(`/api/analytics/tables/?from=${from}&to=${to}`) });
  if (q.isPending) return <div className="muted">{t('common.loading')}</div>;
  if (q.isError) return <div className="form-error">{t('common.error', { detail: (q.error as Error).message })}</div>;
  return (
    <section className="an-tables" data-testid="analytics-tables">
      <h3>{t('an.tables')}</h3>
      <div className="an-grid">
        {ANALYTICS_TABLES.filter((name) => q.data.tables[name]).map((name) => (
          <TableCard key={name} name={name} table={q.data.tables[name]} currency={q.data.currency} activeDays={q.data.active_days} from={from} to={to} />
        ))}
      </div>
    </section>
  );
}

function TableCard({ name, table, currency, activeDays, from, to }: { name: string; table: AnalyticsTable; currency: string; activeDays: number; from: string; to: string }) {
  const t = useT();
  const lang = useLang();
  const bar = BAR[name];
  const max = Math.max(0, ...table.rows.map((r) => Number(r[bar] ?? 0) || 0));
  const cell = (col: string, v: string | number | null) => {
    if (v === null || v === undefined) return '—';
    if (MONEY.has(col)) return formatMoney(v, currency, lang);
    if (SHARE.has(col)) return formatPercent(Number(v));
    if (col === 'channel') return channelLabel(t, String(v));
    if (col === 'manager' || col === 'source') return String(v) || (col === 'manager' ? t('an.unassigned') : '—');
    if (col === 'segment') return v === 'all' ? t('an.segment.all') : channelLabel(t, String(v));
    if (col === 'kind' && name === 'top_questions') return t(`an.kind.${v}`);
    if (col === 'question') { const k = `an.intent.${v}`; const s = t(k); return s === k ? String(v) : s; }
    if (col === 'kind' && name === 'cohort_funnel') return '';
    return typeof v === 'number' ? v.toLocaleString(lang === 'en' ? 'en-GB' : 'ru-RU') : String(v);
  };
  const columns = table.columns.filter((c) => !(name === 'cohort_funnel' && c === 'kind'));
  return (
    <div className="chart-card an-card" data-testid={`an-table-${name}`}>
      <div className="an-head">
        <h4>{t(`an.t.${name}`)}</h4>
        <a className="btn btn-sm" href={exportUrl(name, from, to, lang)} download title={t('an.csvHint')} data-testid={`csv-${name}`}>{t('an.csv')}</a>
      </div>
      {name === 'cohort_funnel' && <div className="muted small">{t('an.cohortHint')}</div>}
      {name === 'active_conversations' && <div className="muted small">{t('an.activeHint', { n: activeDays })}</div>}
      {table.rows.length === 0 ? <div className="muted">{t('an.empty')}</div> : (
        <div className="table-wrap an-scroll">
          <table className="table an-table">
            <thead><tr>{columns.map((c) => <th key={c} className={c === columns[0] ? '' : 'num'}>{t(`an.c.${c}`)}</th>)}</tr></thead>
            <tbody>
              {table.rows.map((r, i) => (
                <tr key={i}>
                  {columns.map((c) => (
                    <td key={c} className={c === columns[0] ? '' : 'num nowrap'}>
                      {cell(c, r[c])}
                      {c === bar && max > 0 && <span className="an-bar" aria-hidden><span style={{ width: `${((Number(r[c]) || 0) / max) * 100}%` }} /></span>}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
