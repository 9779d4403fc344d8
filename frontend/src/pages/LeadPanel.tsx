import { useEffect, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { formatTime } from '../lib/format';
import { tenantZone, useMarkRead, useNow, useStages, useUsers } from '../lib/hooks';
import { useLang, useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import { describeReason, describeTask, timelineEntries } from '../lib/timeline';
import type { Followup, Lead, LeadEvent, Me, QualField, Task } from '../lib/types';
import { applyLead } from '../lib/wsCache';
import { channelLabel, HandlerBadge, NoAnswerTimer, Temp } from '../components/LeadBits';
import { AmountField } from '../components/AmountField';
import { Chat } from './Chat';
import { Icon } from '../components/Icon';
import { scheduledFollowups } from '../lib/followups';
import { AiSwitch, PhoneLinks } from '../components/ChatTools';
import { TagChips } from '../components/CrmTools';

export default function LeadPanel({ id, me, onClose }: { id: number; me: Me; onClose: () => void }) {
  const t = useT();
  const qc = useQueryClient();
  const lead = useQuery<Lead>({ queryKey: ['lead', id], queryFn: () => api<Lead>(`/api/leads/${id}/`) });
  useMarkRead(id, lead.data?.inbound_count);
  const [tab, setTab] = useState<'chat' | 'info' | 'history'>('chat');

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => { if (e.key === 'Escape') onClose(); };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  const act = async (path: string, body?: unknown, method = 'POST') => {
    try {
      const l = await api<Lead>(`/api/leads/${id}/${path}`, { method, body });
      qc.setQueryData<Lead>(['lead', id], (old) => ({ ...old, ...l, fields: l.fields ?? old?.fields }));
      applyLead(qc, l, false);
      return true;
    } catch (e) {
      toast(t('lead.saveFailed', { detail: e instanceof ApiError ? errorText(e.body, e.message) : String(e) }), 'error');
      return false;
    }
  };

  return (
    <div className="panel-backdrop" onClick={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <aside className="lead-panel" data-testid="lead-panel" aria-label={t('lead.title')}>
        <div className="panel-head">
          <button className="btn btn-ghost btn-icon" onClick={onClose} aria-label={t('common.close')} data-testid="panel-close"><Icon name="x" size={18} /></button>
          {lead.data ? (
            <>
              <div className="panel-title">
                <Temp t={lead.data.temperature} /> <b data-testid="lead-name">{lead.data.name || lead.data.phone}</b>
                <span className="score-big" title={t('lead.score')}>{lead.data.score}</span>
                <div className="muted small"><PhoneLinks phone={lead.data.phone} /> · {channelLabel(t, lead.data.channel)}</div>
                <AiSwitch lead={lead.data} onChange={(on) => act('', { ai_enabled: on }, 'PATCH')} />
              </div>
              <HandoffButtons lead={lead.data} act={act} />
            </>
          ) : <div className="panel-title muted">{lead.isError ? t('lead.notFound') : t('common.loading')}</div>}
        </div>
        {lead.data && (
          <>
            <div className="tabs">
              {(['chat', 'info', 'history'] as const).map((k) => (
                <button key={k} className={`tab${tab === k ? ' active' : ''}`} onClick={() => setTab(k)} data-testid={`tab-${k}`}>
                  {t(k === 'chat' ? 'lead.chat' : k === 'info' ? 'lead.fields' : 'lead.timeline')}
                </button>
              ))}
            </div>
            <div className={`panel-body tab-${tab}`}>
              <div className="panel-col col-info">
                <LeadInfo lead={lead.data} me={me} act={act} />
                <div className="col-history-inline"><Timeline id={id} fields={lead.data.fields} /></div>
              </div>
              <div className="panel-col col-chat"><Chat lead={lead.data} /></div>
              <div className="panel-col col-history"><Timeline id={id} fields={lead.data.fields} /></div>
            </div>
          </>
        )}
      </aside>
    </div>
  );
}

type Act = (path: string, body?: unknown, method?: string) => Promise<boolean>;

function HandoffButtons({ lead, act }: { lead: Lead; act: Act }) {
  const t = useT();
  const [busy, setBusy] = useState(false);
  const run = async (p: string) => { setBusy(true); await act(p); setBusy(false); };
  return (
    <div className="handoff">
      <HandlerBadge lead={lead} />
      {/* handled_by: 'ai' → take over; a person → return to AI; null (AI off, nobody) → both */}
      {(lead.handled_by === 'ai' || !lead.handled_by) && <button className="btn btn-primary btn-sm" disabled={busy} onClick={() => run('takeover/')} data-testid="takeover"><Icon name="hand" size={14} /> {t('lead.takeover')}</button>}
      {(lead.handled_by !== 'ai' || lead.stage_pinned) && <button className="btn btn-accent btn-sm" disabled={busy} onClick={() => run('return-to-ai/')} data-testid="return-to-ai"><Icon name="ai" size={14} /> {t('lead.returnToAi')}</button>}
    </div>
  );
}

function LeadInfo({ lead, me, act }: { lead: Lead; me: Me; act: Act }) {
  const t = useT();
  const lang = useLang();
  const now = useNow(30_000);
  const stages = useStages();
  const users = useUsers(me.role !== 'manager');
  const [form, setForm] = useState({ name: lead.name, phone: lead.phone, city: lead.city });
  const [data, setData] = useState<Record<string, unknown>>(lead.data || {});
  const [dirty, setDirty] = useState(false);
  useEffect(() => {
    if (!dirty) { setForm({ name: lead.name, phone: lead.phone, city: lead.city }); setData(lead.data || {}); }
  }, [lead, dirty]);
  const followups = useQuery<Followup[]>({ queryKey: ['followups', lead.id], queryFn: () => api<Followup[]>(`/api/leads/${lead.id}/followups/`), retry: false });

  const save = async () => {
    if (await act('', { ...form, data }, 'PATCH')) { setDirty(false); toast(t('common.saved')); }
  };
  const assignees = users.data?.filter((u) => u.is_active) ?? [];
  const assigneeOptions = [...assignees];
  if (!assignees.some((u) => u.id === me.id)) assigneeOptions.unshift({ id: me.id, email: me.email, full_name: me.full_name, role: me.role, is_active: true });
  if (lead.assignee && !assigneeOptions.some((u) => u.id === lead.assignee!.id)) assigneeOptions.push({ ...lead.assignee, role: 'manager', is_active: true });
  const fields: QualField[] = lead.fields ?? Object.keys(lead.data || {}).map((k) => ({ key: k, label: k, type: 'text', required: false }));

  return (
    <div className="lead-info">
      <div className="grid2">
        <label>{t('lead.stage')}
          <select value={lead.stage} data-testid="lead-stage" onChange={(e) => act('', { stage: Number(e.target.value) }, 'PATCH')}>
            {stages.data?.map((s) => <option key={s.id} value={s.id}>{s.name}</option>)}
          </select>
        </label>
        <label>{t('lead.assignee')}
          <select value={lead.assignee?.id ?? ''} data-testid="lead-assignee"
            onChange={(e) => act('', { assignee: e.target.value ? Number(e.target.value) : null }, 'PATCH')}>
            <option value="">{t('lead.unassigned')}</option>
            {assigneeOptions.map((u) => <option key={u.id} value={u.id}>{u.full_name || u.email}</option>)}
          </select>
        </label>
      </div>
      <AmountField lead={lead} act={act} />
      {lead.stage_pinned && (
        <div className="pin small" data-testid="lead-pin" title={t('lead.pinnedHint')}>
          <Icon name="pin" size={14} /> {t('lead.pinned', { name: lead.stage_pinned_by?.full_name || lead.stage_pinned_by?.email.split('@')[0] || '—', time: formatTime(lead.stage_pinned_at, lang, now) })}
        </div>
      )}
      <div className="meta muted small">
        {lead.waiting_since && <NoAnswerTimer lead={lead} now={now} />}
        {lead.source && <span>{t('lead.source')}: {lead.source}</span>}
        {lead.campaign && <span>{t('lead.campaign')}: {lead.campaign}</span>}
        <span>{t('lead.created')}: {formatTime(lead.created_at, lang, now)}</span>
      </div>
      <TagChips lead={lead} save={(tags) => act('', { tags }, 'PATCH')} />

      <h3>{t('lead.fields')}</h3>
      <div className="grid2">
        {(['name', 'phone', 'city'] as const).map((k) => (
          <label key={k}>{t(`lead.${k}`)}
            <input value={form[k] ?? ''} data-testid={`lead-field-${k}`} onChange={(e) => { setForm({ ...form, [k]: e.target.value }); setDirty(true); }} />
          </label>
        ))}
      </div>
      {fields.length > 0 && <h3>{t('lead.qualification')}</h3>}
      <div className="grid2">
        {fields.map((fd) => (
          <QualInput key={fd.key} field={fd} value={data[fd.key]} onChange={(v) => { setData({ ...data, [fd.key]: v }); setDirty(true); }} />
        ))}
      </div>
      {dirty && (
        <div className="row gap">
          <button className="btn btn-primary" onClick={save} data-testid="lead-save">{t('common.save')}</button>
          <button className="btn btn-ghost" onClick={() => setDirty(false)}>{t('common.cancel')}</button>
        </div>
      )}

      <h3>{t('lead.score')}: {lead.score} <Temp t={lead.temperature} /></h3>
      <div className="scorebar"><div style={{ width: `${Math.max(0, Math.min(100, lead.score))}%` }} className={`temp-bg-${lead.temperature}`} /></div>
      <ul className="reasons" data-testid="score-reasons">
        {(lead.score_reasons || []).length === 0 && <li className="muted">{t('lead.noReasons')}</li>}
        {(lead.score_reasons || []).map((r, i) => (
          <li key={i}><b className={r.points >= 0 ? 'pos' : 'neg'}>{r.points > 0 ? '+' : ''}{r.points}</b> {describeReason(r, lang, lead.fields)}{r.quote ? <q className="muted"> {r.quote}</q> : null}</li>
        ))}
      </ul>

      <LeadTasks lead={lead} now={now} me={me} />

      <h3>{t('lead.followups')}</h3>
      <ul className="followups" data-testid="followups">
        {scheduledFollowups(followups.data).length === 0 && <li className="muted">{t('lead.noFollowups')}</li>}
        {scheduledFollowups(followups.data).map((f) => (
          <li key={f.id}><Icon name="clock" size={14} /> {t('lead.step', { n: f.step })} — {formatTime(f.due_at, lang, now)} {f.reason && <span className="muted">· {f.reason}</span>}</li>
        ))}
      </ul>
    </div>
  );
}

function QualInput({ field, value, onChange }: { field: QualField; value: unknown; onChange: (v: unknown) => void }) {
  const t = useT();
  const lang = useLang();
  const label = <>{(lang === 'en' && field.label_en) || field.label || field.key}{field.required ? ' *' : ''}</>;
  const tid = `qual-${field.key}`;
  const options = field.options || field.choices;
  switch (field.type) {
    case 'number':
      return <label>{label}<input type="number" data-testid={tid} value={value === null || value === undefined ? '' : String(value)}
        onChange={(e) => onChange(e.target.value === '' ? null : Number(e.target.value))} /></label>;
    case 'boolean':
      return (
        <label>{label}
          <select data-testid={tid} value={value === true ? 'true' : value === false ? 'false' : ''}
            onChange={(e) => onChange(e.target.value === '' ? null : e.target.value === 'true')}>
            <option value="">—</option><option value="true">{t('common.yes')}</option><option value="false">{t('common.no')}</option>
          </select>
        </label>
      );
    case 'choice':
      if (options?.length) {
        return (
          <label>{label}
            <select data-testid={tid} value={value === null || value === undefined ? '' : String(value)} onChange={(e) => onChange(e.target.value || null)}>
              <option value="">—</option>
              {options.map((o) => <option key={o} value={o}>{o}</option>)}
            </select>
          </label>
        );
      }
      break;
    case 'dimensions': {
      const d = (value && typeof value === 'object' ? value : {}) as Record<string, number | null>;
      return (
        <label className="span2">{label}
          <div className="dims">
            {(['length', 'width', 'height'] as const).map((k) => (
              <input key={k} type="number" step="0.1" placeholder={t(`lead.dims.${k}`)} title={t(`lead.dims.${k}`)} data-testid={`${tid}-${k}`}
                value={d[k] === null || d[k] === undefined ? '' : String(d[k])}
                onChange={(e) => onChange({ ...d, [k]: e.target.value === '' ? null : Number(e.target.value) })} />
            ))}
          </div>
        </label>
      );
    }
  }
  return <label>{label}<input data-testid={tid} value={value === null || value === undefined ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)}
    onChange={(e) => onChange(e.target.value)} /></label>;
}

function LeadTasks({ lead, now, me }: { lead: Lead; now: number; me: Me }) {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const tasks = useQuery<Task[]>({ queryKey: ['tasks', lead.id, lead.updated_at], queryFn: () => api<Task[]>(`/api/leads/${lead.id}/tasks/`), retry: false });
  const [adding, setAdding] = useState(false);
  const [kind, setKind] = useState<Task['kind']>('call');
  const [title, setTitle] = useState('');
  const [due, setDue] = useState('');
  const [assignee, setAssignee] = useState('');
  const users = useUsers(me.role !== 'manager');
  const fail = (e: unknown) => toast(t('common.error', { detail: e instanceof ApiError ? errorText(e.body, e.message) : String(e) }), 'error');
  const refresh = () => { void qc.invalidateQueries({ queryKey: ['tasks', lead.id] }); void qc.invalidateQueries({ queryKey: ['events', lead.id] }); };
  const done = async (task: Task) => {
    try { await api(`/api/tasks/${task.id}/done/`, { method: 'POST' }); refresh(); } catch (e) { fail(e); }
  };
  const add = async () => {
    if (!due) return;
    try {
      await api(`/api/leads/${lead.id}/tasks/`, { method: 'POST', body: { kind, title: title.trim(), due_at: due, ...(assignee ? { assignee: Number(assignee) } : {}) } });
      setAdding(false); setTitle(''); setDue(''); toast(t('lead.taskAdded')); refresh();
    } catch (e) { fail(e); }
  };
  const open = (tasks.data ?? []).filter((x) => !x.done_at);
  return (
    <>
      <h3>{t('lead.tasks')}</h3>
      <ul className="tasks" data-testid="lead-tasks">
        {open.length === 0 && <li className="muted">{tasks.isPending ? t('common.loading') : t('lead.noTasks')}</li>}
        {open.map((task) => (
          <li key={task.id} className="row gap wrap" data-testid={`task-${task.id}`}>
            <span className="grow"><Icon name={task.kind === 'call' ? 'phone' : task.kind === 'meeting' ? 'calendar' : 'tasks'} size={14} /> {describeTask(task, lang, now)}
              {task.note && task.created_by === 'ai' ? <q className="muted small"> {task.note}</q> : null}
              {task.assignee ? <span className="muted small"> · {task.assignee.full_name || task.assignee.email.split('@')[0]}</span> : null}
            </span>
            <button className="btn btn-sm btn-ghost" onClick={() => done(task)} data-testid={`task-done-${task.id}`}><Icon name="check" size={14} /> {t('lead.taskDone')}</button>
          </li>
        ))}
      </ul>
      {adding ? (
        <div className="row gap wrap card-form" data-testid="task-form">
          <select value={kind} onChange={(e) => setKind(e.target.value as Task['kind'])} aria-label={t('lead.tasks')}>
            {(['call', 'meeting', 'other'] as const).map((k) => <option key={k} value={k}>{t(`taskKind.${k}`)}</option>)}
          </select>
          <input className="grow" value={title} maxLength={200} placeholder={t('lead.taskTitle')} onChange={(e) => setTitle(e.target.value)} data-testid="task-title" />
          {/* without an offset: the server reads it on the company's clock (the tenant's zone) */}
          <label className="inline small muted">{t('lead.taskZone', { tz: tenantZone(me) })}
            <input type="datetime-local" value={due} aria-label={t('lead.taskDue')} onChange={(e) => setDue(e.target.value)} data-testid="task-due" /></label>
          {me.role !== 'manager' && (
            <select value={assignee} onChange={(e) => setAssignee(e.target.value)} aria-label={t('lead.taskAssignee')} data-testid="task-assignee">
              <option value="">{t('lead.taskAssignee')}: {lead.assignee ? (lead.assignee.full_name || lead.assignee.email) : t('lead.unassigned')}</option>
              {users.data?.filter((u) => u.is_active).map((u) => <option key={u.id} value={String(u.id)}>{u.full_name || u.email}</option>)}
            </select>
          )}
          <button className="btn btn-sm btn-primary" disabled={!due} onClick={add} data-testid="task-save">{t('common.save')}</button>
          <button className="btn btn-sm btn-ghost" onClick={() => setAdding(false)}>{t('common.cancel')}</button>
        </div>
      ) : <button className="btn btn-sm btn-ghost" onClick={() => setAdding(true)} data-testid="task-add"><Icon name="plus" size={14} /> {t('lead.addTask')}</button>}
    </>
  );
}

function Timeline({ id, fields }: { id: number; fields?: QualField[] }) {
  const t = useT();
  const lang = useLang();
  const events = useQuery<LeadEvent[]>({ queryKey: ['events', id], queryFn: () => api<LeadEvent[]>(`/api/leads/${id}/events/`), retry: false });
  const list = timelineEntries(events.data ?? [], lang, { fields });
  return (
    <div className="timeline-wrap">
      <h3>{t('lead.timeline')}</h3>
      <ul className="timeline" data-testid="timeline">
        {list.length === 0 && <li className="muted">{events.isPending ? t('common.loading') : t('lead.noEvents')}</li>}
        {list.map((e) => (
          <li key={e.id}>
            <span className="muted small">{formatTime(e.at, lang)}</span>{' '}
            <b>{e.actor === 'ai' ? <><Icon name="ai" size={13} /> AI</> : e.actor === 'system' ? <><Icon name="settings" size={13} /> {t('event.actor.system')}</> : <><Icon name="user" size={13} /> {e.actor?.full_name || ''}</>}</b>{' '}
            {e.text}
          </li>
        ))}
      </ul>
    </div>
  );
}
