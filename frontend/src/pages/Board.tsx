import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState, type CSSProperties, type DragEvent, type TouchEvent as RTouchEvent } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, errorText, ApiError } from '../lib/api';
import { appendColumnPage, BOARD_PAGE_SIZE, columnHasMore, moveCard, nextPageFor, rollbackMove } from '../lib/boardState';
import { useNow } from '../lib/hooks';
import { useLang, useT } from '../lib/i18n';
import { formatMoney, formatMoneyShort } from '../lib/money';
import { Link, navigate } from '../lib/router';
import { toast } from '../lib/toast';
import type { Board as BoardT, BoardColumn, Lead, Page } from '../lib/types';
import { computeWindow, shouldLoadMore } from '../lib/windowing';
import { applyLead } from '../lib/wsCache';
import { ClientWaitingTimer, HandlerBadge, NoAnswerTimer, Temp, UnreadBadge } from '../components/LeadBits';
import { InboxFilterBar } from '../components/InboxFilterBar';
import { boardFiltersToApi, parseBoardFilters } from '../lib/inbox';
import { Icon } from '../components/Icon';

export const CARD_H = 124; // row height (card + gap); cards have a fixed height so the column can be windowed

interface Dnd {
  dragId: number | null;
  overStage: number | null;
  start: (id: number) => void;
  end: () => void;
  over: (stage: number | null) => void;
  drop: (stage: number, id?: number) => void;
  touchStart: (e: RTouchEvent, lead: Lead) => void;
  open: (id: number) => void;
}

export function Board({ search }: { search: string }) {
  const t = useT();
  const qc = useQueryClient();
  const now = useNow(15_000);
  const filters = parseBoardFilters(search);
  const filterQs = boardFiltersToApi(filters).toString();
  // One cache entry, ['board'], whatever the filters (live events and the card update it there); the filter it
  // was fetched with travels in it, and a change of filters refetches.
  const board = useQuery<BoardT>({
    queryKey: ['board'],
    queryFn: async () => ({ ...(await api<BoardT>(`/api/board/${filterQs ? `?${filterQs}` : ''}`)), filter: filterQs || undefined }),
    staleTime: 30_000,
  });
  const fetchedFilter = board.data?.filter ?? '';
  useEffect(() => {
    if (board.data && fetchedFilter !== filterQs) void qc.invalidateQueries({ queryKey: ['board'] });
  }, [filterQs, fetchedFilter, board.data, qc]);
  const boardRef = useRef<HTMLDivElement>(null);
  const [dragId, setDragId] = useState<number | null>(null);
  const [overStage, setOverStage] = useState<number | null>(null);
  const [ghost, setGhost] = useState<{ x: number; y: number; lead: Lead } | null>(null);
  const dragRef = useRef<number | null>(null);
  const overRef = useRef<number | null>(null);
  const suppressClick = useRef(0);
  const touch = useRef<{ lead: Lead; x: number; y: number; active: boolean; timer: ReturnType<typeof setTimeout>; lastJump: number } | null>(null);

  const move = useCallback(async (leadId: number, toStage: number) => {
    const cur = qc.getQueryData<BoardT>(['board']);
    if (!cur) return;
    const { board: next, prev } = moveCard(cur, leadId, toStage);
    if (!prev) return;
    void qc.cancelQueries({ queryKey: ['board'] });
    qc.setQueryData(['board'], next);
    try {
      const lead = await api<Lead>(`/api/leads/${leadId}/`, { method: 'PATCH', body: { stage: toStage } });
      applyLead(qc, lead, false);
    } catch (e) {
      qc.setQueryData<BoardT>(['board'], (b) => (b ? rollbackMove(b, leadId, prev) : b));
      const detail = e instanceof ApiError ? errorText(e.body, e.message) : t('login.offline');
      toast(t('board.moveFailed', { name: prev.lead.name || prev.lead.phone, detail }), 'error');
    }
  }, [qc, t]);

  const setOver = useCallback((s: number | null) => { if (overRef.current !== s) { overRef.current = s; setOverStage(s); } }, []);
  const endDrag = useCallback(() => { dragRef.current = null; setDragId(null); setOver(null); setGhost(null); }, [setOver]);

  // touch fallback: long-press a card, then drag it over another column (edges flip columns on a phone)
  useEffect(() => {
    const onMove = (e: TouchEvent) => {
      const s = touch.current;
      if (!s) return;
      const p = e.touches[0];
      if (!s.active) {
        if (Math.abs(p.clientX - s.x) > 10 || Math.abs(p.clientY - s.y) > 10) { clearTimeout(s.timer); touch.current = null; }
        return;
      }
      e.preventDefault();
      setGhost({ x: p.clientX, y: p.clientY, lead: s.lead });
      const el = document.elementFromPoint(p.clientX, p.clientY)?.closest('[data-stage-id]') as HTMLElement | null;
      setOver(el ? Number(el.dataset.stageId) : null);
      const b = boardRef.current;
      const nowMs = Date.now();
      if (b && nowMs - s.lastJump > 700) {
        const edge = 36;
        if (p.clientX < edge) { b.scrollBy({ left: -b.clientWidth * 0.85, behavior: 'smooth' }); s.lastJump = nowMs; }
        else if (p.clientX > window.innerWidth - edge) { b.scrollBy({ left: b.clientWidth * 0.85, behavior: 'smooth' }); s.lastJump = nowMs; }
      }
    };
    const onEnd = (e: TouchEvent) => {
      const s = touch.current;
      if (!s) return;
      clearTimeout(s.timer);
      touch.current = null;
      if (!s.active) return;
      e.preventDefault();
      suppressClick.current = Date.now() + 500;
      const target = overRef.current;
      endDrag();
      if (e.type === 'touchend' && target !== null && target !== s.lead.stage) void move(s.lead.id, target);
    };
    window.addEventListener('touchmove', onMove, { passive: false });
    window.addEventListener('touchend', onEnd, { passive: false });
    window.addEventListener('touchcancel', onEnd);
    return () => {
      window.removeEventListener('touchmove', onMove);
      window.removeEventListener('touchend', onEnd);
      window.removeEventListener('touchcancel', onEnd);
    };
  }, [move, endDrag, setOver]);

  const start = useCallback((id: number) => { if (touch.current) { clearTimeout(touch.current.timer); touch.current = null; } dragRef.current = id; setDragId(id); }, []);
  const drop = useCallback((stage: number, id?: number) => {
      const leadId = id || dragRef.current;
      endDrag();
      if (leadId) void move(leadId, stage);
    }, [endDrag, move]);
  const touchStart = useCallback((e: RTouchEvent, lead: Lead) => {
      if (e.touches.length !== 1) return;
      const p = e.touches[0];
      const s = { lead, x: p.clientX, y: p.clientY, active: false, lastJump: 0, timer: setTimeout(() => {
        s.active = true;
        dragRef.current = lead.id;
        setDragId(lead.id);
        setGhost({ x: s.x, y: s.y, lead });
        try { navigator.vibrate?.(15); } catch { /* ignore */ }
      }, 380) };
      touch.current = s;
    }, []);
  const open = useCallback((id: number) => {
      if (Date.now() < suppressClick.current) return;
      navigate(`/leads/${id}${search}`);
    }, [search]);
  const dnd: Dnd = useMemo(() => ({ dragId, overStage, start, end: endDrag, over: setOver, drop, touchStart, open }),
    [dragId, overStage, start, endDrag, setOver, drop, touchStart, open]);

  if (board.isPending) return <div className="pad muted">{t('common.loading')}</div>;
  if (board.isError) return <div className="pad form-error">{t('common.error', { detail: (board.error as Error).message })}</div>;
  const stages = board.data.stages.slice().sort((a, b) => a.position - b.position);
  const total = stages.reduce((s, c) => s + c.count, 0);
  const currency = board.data.currency || 'KZT';

  return (
    <div className="board-wrap">
      <InboxFilterBar search={search} />
      <div className="stage-chips" aria-hidden>
        {stages.map((c) => (
          <button key={c.id} className="chip" style={{ '--stage': c.color } as CSSProperties}
            onClick={() => document.querySelector(`[data-testid="board-column-${c.id}"]`)?.scrollIntoView({ behavior: 'smooth', inline: 'start', block: 'nearest' })}>
            <span className="dot" />{c.name} <b>{c.count}</b>
          </button>
        ))}
      </div>
      {total === 0 && filterQs && <div className="board-empty muted" data-testid="board-nothing">{t('inbox.nothing')}</div>}
      {total === 0 && !filterQs && (
        <div className="board-empty">
          {t('board.empty')} <Link to="/sandbox" className="btn btn-accent btn-sm"><Icon name="sandbox" size={14} /> {t('board.openSandbox')}</Link>
        </div>
      )}
      <div className={`board${dragId ? ' dragging' : ''}`} data-testid="board" ref={boardRef}>
        {stages.map((c) => <Column key={c.id} c={c} now={now} dnd={dnd} filterQs={filterQs} currency={currency} />)}
      </div>
      {ghost && (
        <div className="drag-ghost" style={{ left: ghost.x, top: ghost.y }}>
          <Temp t={ghost.lead.temperature} /> {ghost.lead.name || ghost.lead.phone}
        </div>
      )}
    </div>
  );
}

function Column({ c, now, dnd, filterQs, currency }: { c: BoardColumn; now: number; dnd: Dnd; filterQs: string; currency: string }) {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const scrollRef = useRef<HTMLDivElement>(null);
  const [scrollTop, setScrollTop] = useState(0);
  const [vh, setVh] = useState(700);
  const [loading, setLoading] = useState(false);
  const raf = useRef(0);

  useLayoutEffect(() => {
    const el = scrollRef.current;
    if (!el) return;
    setVh(el.clientHeight || 700);
    if (typeof ResizeObserver === 'undefined') return;
    const ro = new ResizeObserver(() => setVh(el.clientHeight || 700));
    ro.observe(el);
    return () => ro.disconnect();
  }, []);

  const w = computeWindow({ scrollTop, viewportHeight: vh, itemHeight: CARD_H, count: c.leads.length, overscan: 6 });
  const hasMore = columnHasMore(c);

  useEffect(() => {
    if (loading || !hasMore || !shouldLoadMore(w.end, c.leads.length, c.count)) return;
    let cancelled = false;
    setLoading(true);
    const page = nextPageFor(c);
    api<Page<Lead>>(`/api/leads/?stage=${c.id}&ordering=-score&page=${page}&page_size=${BOARD_PAGE_SIZE}${filterQs ? `&${filterQs}` : ''}`)
      .then((p) => { if (!cancelled) qc.setQueryData<BoardT>(['board'], (b) => (b ? appendColumnPage(b, c.id, p, page) : b)); })
      .catch((e) => {
        // a page past the end (404) means we have everything
        if (!cancelled && e instanceof ApiError && e.status === 404) {
          qc.setQueryData<BoardT>(['board'], (b) => (b ? appendColumnPage(b, c.id, { count: c.leads.length, next: null, previous: null, results: [] }, page) : b));
        }
      })
      .finally(() => { if (!cancelled) setLoading(false); });
    return () => { cancelled = true; };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [w.end, c.leads.length, c.count, hasMore, c.id]);

  const onScroll = () => {
    cancelAnimationFrame(raf.current);
    raf.current = requestAnimationFrame(() => setScrollTop(scrollRef.current?.scrollTop ?? 0));
  };
  const onDragOver = (e: DragEvent) => {
    if (dnd.dragId === null && !e.dataTransfer.types.includes('text/plain')) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    dnd.over(c.id);
  };
  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const id = Number(e.dataTransfer.getData('text/plain')) || undefined;
    dnd.drop(c.id, id);
  };
  const visible = c.leads.slice(w.start, w.end);
  const draggingFrom = dnd.dragId !== null ? findLeadStage(c, dnd.dragId) : false;

  return (
    <section className={`column${dnd.overStage === c.id && !draggingFrom ? ' drop-target' : ''}`} data-testid={`board-column-${c.id}`} data-stage-id={c.id}
      style={{ '--stage': c.color } as CSSProperties} onDragOver={onDragOver} onDrop={onDrop}
      onDragLeave={(e) => { if (!(e.currentTarget as HTMLElement).contains(e.relatedTarget as Node)) dnd.over(null); }}>
      <header className="column-head">
        <span className="dot" /> <span className="column-name" title={c.name}>{c.name}</span>
        <span className="column-count" data-testid={`column-count-${c.id}`}>{c.count}</span>
        {Number(c.amount) > 0 && (
          <span className="column-amount" data-testid={`column-amount-${c.id}`} title={`${t('amount.total')}: ${formatMoney(c.amount, currency, lang)}`}>
            {formatMoneyShort(c.amount, currency, lang)}
          </span>
        )}
      </header>
      <div className="column-scroll" ref={scrollRef} onScroll={onScroll}>
        <div className="column-inner" style={{ height: w.totalHeight }}>
          {visible.map((l, i) => (
            <Card key={l.id} lead={l} top={(w.start + i) * CARD_H} now={now} dnd={dnd} dragging={dnd.dragId === l.id} currency={currency} />
          ))}
        </div>
        {loading && <div className="muted small pad-s">{t('board.loadingMore')}</div>}
      </div>
    </section>
  );
}

function findLeadStage(c: BoardColumn, id: number) { return c.leads.some((l) => l.id === id); }

const Card = memo(function Card({ lead: l, top, now, dnd, dragging, currency }: { lead: Lead; top: number; now: number; dnd: Dnd; dragging: boolean; currency: string }) {
  const t = useT();
  const lang = useLang();
  const lm = l.last_message;
  const who = lm && lm.direction !== 'in' ? <><Icon name={lm.author_kind === 'ai' ? 'ai' : 'user'} size={12} /> </> : null;
  return (
    <article className={`card${dragging ? ' is-dragging' : ''}${l.no_answer ? ' card-late' : ''}`} style={{ top }} data-testid={`lead-card-${l.id}`}
      data-lead-id={l.id} draggable tabIndex={0} role="button"
      onDragStart={(e) => { e.dataTransfer.setData('text/plain', String(l.id)); e.dataTransfer.effectAllowed = 'move'; dnd.start(l.id); }}
      onDragEnd={() => dnd.end()}
      onTouchStart={(e) => dnd.touchStart(e, l)}
      onContextMenu={(e) => e.preventDefault()}
      onClick={() => dnd.open(l.id)}
      onKeyDown={(e) => { if (e.key === 'Enter') dnd.open(l.id); }}>
      <div className="card-top">
        <Temp t={l.temperature} />
        <span className="card-name">{l.name || l.phone}</span>
        <UnreadBadge lead={l} />
        <span className="score" title={t('lead.score')}>{l.score}</span>
      </div>
      <div className="card-sub muted">{[l.name ? l.phone : '', l.city].filter(Boolean).join(' · ')}</div>
      <div className="card-msg">{lm ? <>{who}{lm.text}</> : <span className="muted">{t('card.noMessages')}</span>}</div>
      <div className="card-foot">
        <HandlerBadge lead={l} />
        <NoAnswerTimer lead={l} now={now} />
        <ClientWaitingTimer lead={l} now={now} />
        {l.amount && <span className="card-amount" data-testid="card-amount">{formatMoney(l.amount, currency, lang)}</span>}
      </div>
    </article>
  );
});

