import { useQuery } from '@tanstack/react-query';
import { api } from '../lib/api';
import { formatPercent, formatSeconds, isoDate } from '../lib/format';
import { useLang, useT } from '../lib/i18n';
import { navigate, useLocation } from '../lib/router';
import type { Analytics as A } from '../lib/types';
import { channelLabel } from '../components/LeadBits';
import { AnalyticsTablesSection } from './AnalyticsTables';

const daysAgo = (n: number) => { const d = new Date(); d.setDate(d.getDate() - n); return isoDate(d); };

export default function Analytics() {
  const t = useT();
  const lang = useLang();
  const { search } = useLocation();
  const p = new URLSearchParams(search);
  const from = p.get('from') || daysAgo(29);
  const to = p.get('to') || isoDate(new Date());
  const set = (f: string, tt: string) => navigate(`/analytics?from=${f}&to=${tt}`, { replace: true });
  const q = useQuery<A>({ queryKey: ['analytics', from, to], queryFn: () => api<A>(`/api/analytics/summary/?from=${from}&to=${to}`) });
  const d = q.data;

  return (
    <div className="page analytics" data-testid="analytics">
      <div className="page-head">
        <h2>{t('analytics.title')}</h2>
        <div className="row gap wrap" data-testid="period">
          {[7, 30, 90].map((n) => (
            <button key={n} className={`btn btn-sm${from === daysAgo(n - 1) && to === isoDate(new Date()) ? ' btn-primary' : ''}`} onClick={() => set(daysAgo(n - 1), isoDate(new Date()))}>{t(`analytics.${n}`)}</button>
          ))}
          <input type="date" value={from} onChange={(e) => e.target.value && set(e.target.value, to)} data-testid="period-from" />
          <input type="date" value={to} onChange={(e) => e.target.value && set(from, e.target.value)} data-testid="period-to" />
        </div>
      </div>
      {q.isPending && <div className="muted">{t('common.loading')}</div>}
      {q.isError && <div className="form-error">{t('common.error', { detail: (q.error as Error).message })}</div>}
      {d && (
        <>
          <div className="kpis">
            <Kpi label={t('analytics.total')} value={String(d.conversion.total)} />
            <Kpi label={t('analytics.conversion')} value={formatPercent(d.conversion.rate)} sub={`${t('analytics.won')}: ${d.conversion.won}`} />
            <Kpi label={t('analytics.firstResponse')} value={formatSeconds(d.ai_first_response_seconds.avg, lang)}
              sub={`${t('analytics.p50')} ${formatSeconds(d.ai_first_response_seconds.p50, lang)} · ${t('analytics.p90')} ${formatSeconds(d.ai_first_response_seconds.p90, lang)}`} />
            <Kpi label={t('analytics.handed')} value={formatPercent(d.handed_to_human.share)} sub={String(d.handed_to_human.count)} />
            <Kpi label={t('analytics.followups')} value={formatPercent(d.followups.rate)} sub={t('analytics.answered', { a: d.followups.answered, s: d.followups.sent })} />
            <Kpi label={t('analytics.reengagement')} value={formatPercent(d.reengagement.rate)} sub={t('analytics.answered', { a: d.reengagement.answered, s: d.reengagement.sent })} />
          </div>
          <div className="charts">
            <section className="chart-card"><h3>{t('analytics.funnel')}</h3><Funnel rows={d.funnel.map((f) => ({ label: f.name, value: f.count }))} /></section>
            <section className="chart-card"><h3>{t('analytics.byDay')}</h3><DayChart rows={d.by_day} legend={[t('analytics.leads'), t('analytics.won')]} /></section>
            <section className="chart-card"><h3>{t('analytics.byChannel')}</h3><Bars rows={d.by_channel.map((c) => ({ label: channelLabel(t, c.channel), value: c.count }))} empty={t('analytics.noData')} /></section>
            <section className="chart-card"><h3>{t('analytics.bySource')}</h3><Bars rows={d.by_source.map((c) => ({ label: c.source || '—', value: c.count }))} empty={t('analytics.noData')} /></section>
          </div>
          <AnalyticsTablesSection from={from} to={to} />
        </>
      )}
    </div>
  );
}

function Kpi({ label, value, sub }: { label: string; value: string; sub?: string }) {
  return <div className="kpi"><div className="kpi-label">{label}</div><div className="kpi-value">{value}</div>{sub && <div className="kpi-sub muted">{sub}</div>}</div>;
}

/** Centered funnel bars drawn in SVG. */
function Funnel({ rows }: { rows: { label: string; value: number }[] }) {
  const max = Math.max(1, ...rows.map((r) => r.value));
  const H = 30; const W = 400;
  return (
    <svg viewBox={`0 0 ${W} ${rows.length * H}`} className="svg-chart" role="img" data-testid="chart-funnel">
      {rows.map((r, i) => {
        const w = Math.max(2, (r.value / max) * (W - 10));
        return (
          <g key={i} transform={`translate(0 ${i * H})`}>
            <rect x={(W - w) / 2} y={3} width={w} height={H - 6} rx={4} fill="var(--primary)" opacity={1 - i * (0.5 / Math.max(1, rows.length))} />
            <text x={W / 2} y={H / 2 + 4} textAnchor="middle" className="svg-label-funnel">{r.label}: {r.value}</text>
          </g>
        );
      })}
    </svg>
  );
}

function Bars({ rows, empty }: { rows: { label: string; value: number }[]; empty: string }) {
  if (!rows.length) return <div className="muted">{empty}</div>;
  const max = Math.max(1, ...rows.map((r) => r.value));
  return (
    <div className="hbars">
      {rows.map((r, i) => (
        <div key={i} className="hbar"><span className="hbar-label" title={r.label}>{r.label}</span>
          <span className="hbar-track"><span className="hbar-fill" style={{ width: `${(r.value / max) * 100}%` }} /></span>
          <span className="hbar-value">{r.value}</span></div>
      ))}
    </div>
  );
}

function DayChart({ rows, legend }: { rows: { date: string; leads: number; won: number }[]; legend: [string, string] | string[] }) {
  if (!rows.length) return <div className="muted">—</div>;
  const W = 600; const H = 180; const pad = 20;
  const max = Math.max(1, ...rows.map((r) => r.leads));
  const bw = (W - pad) / rows.length;
  return (
    <>
      <svg viewBox={`0 0 ${W} ${H + 16}`} className="svg-chart" role="img" data-testid="chart-days">
        <line x1={pad} y1={H} x2={W} y2={H} stroke="var(--border)" />
        <text x={0} y={12} className="svg-label">{max}</text>
        {rows.map((r, i) => {
          const h = (r.leads / max) * (H - 10); const hw = (r.won / max) * (H - 10);
          return (
            <g key={r.date}>
              <title>{`${r.date}: ${r.leads} / ${r.won}`}</title>
              <rect x={pad + i * bw + 1} y={H - h} width={Math.max(1, bw - 2)} height={h} fill="var(--primary-soft)" />
              <rect x={pad + i * bw + 1} y={H - hw} width={Math.max(1, bw - 2)} height={hw} fill="var(--ok)" />
            </g>
          );
        })}
        <text x={pad} y={H + 14} className="svg-label">{rows[0].date}</text>
        <text x={W} y={H + 14} textAnchor="end" className="svg-label">{rows[rows.length - 1].date}</text>
      </svg>
      <div className="legend small"><span className="sw sw-leads" /> {legend[0]} <span className="sw sw-won" /> {legend[1]}</div>
    </>
  );
}
