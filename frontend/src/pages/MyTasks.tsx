// "Мои задачи": the user's calls and meetings, overdue / today / upcoming on the company's clock; done in one tap,
// each opens its lead. Phone first (one column at 390 px).
import { useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { tenantZone, useNow } from '../lib/hooks';
import { formatInZone, groupTasks } from '../lib/inbox';
import { useLang, useT } from '../lib/i18n';
import { Link } from '../lib/router';
import { toast } from '../lib/toast';
import type { Me, Task } from '../lib/types';
import { Icon, type IconName } from '../components/Icon';

const KIND_ICON: Record<Task['kind'], IconName> = { call: 'phone', meeting: 'calendar', other: 'tasks' };

export default function MyTasks({ me }: { me: Me }) {
  const t = useT();
  const lang = useLang();
  const qc = useQueryClient();
  const now = useNow(30_000);
  const tz = tenantZone(me);
  const [showDone, setShowDone] = useState(false);
  const tasks = useQuery<Task[]>({
    queryKey: ['tasks', 'my', showDone],
    queryFn: () => api<Task[]>(`/api/tasks/my/${showDone ? '?done=true' : ''}`),
    refetchInterval: 60_000,
  });
  const done = async (task: Task) => {
    try {
      await api(`/api/tasks/${task.id}/done/`, { method: 'POST' });
      toast(t('tasks.doneOk'));
      void qc.invalidateQueries({ queryKey: ['tasks'] });
    } catch (e) {
      toast(t('common.error', { detail: e instanceof ApiError ? errorText(e.body, e.message) : String(e) }), 'error');
    }
  };
  const groups = groupTasks(tasks.data ?? [], now, tz);
  const sections: { key: 'overdue' | 'today' | 'upcoming' | 'done'; items: Task[] }[] = [
    { key: 'overdue', items: groups.overdue }, { key: 'today', items: groups.today }, { key: 'upcoming', items: groups.upcoming },
    ...(showDone ? [{ key: 'done' as const, items: groups.done }] : []),
  ];
  const open = groups.overdue.length + groups.today.length + groups.upcoming.length;

  return (
    <div className="page my-tasks" data-testid="my-tasks">
      <div className="page-head">
        <h2>{t('tasks.title')}</h2>
        <label className="inline small"><input type="checkbox" checked={showDone} onChange={(e) => setShowDone(e.target.checked)} data-testid="tasks-show-done" /> {t('tasks.showDone')}</label>
      </div>
      <p className="muted small" data-testid="tasks-zone">{t('tasks.zone', { tz })}</p>
      {tasks.isPending && <div className="muted">{t('common.loading')}</div>}
      {tasks.isError && <div className="form-error">{t('common.error', { detail: (tasks.error as Error).message })}</div>}
      {tasks.data && open === 0 && !showDone && <div className="muted pad" data-testid="tasks-empty">{t('tasks.empty')}</div>}
      {sections.filter((s) => s.items.length).map((s) => (
        <section key={s.key} className={`task-group task-group-${s.key}`} data-testid={`tasks-${s.key}`}>
          <h3>{t(`tasks.${s.key}`)} <span className="muted">{s.items.length}</span></h3>
          <ul className="task-list">
            {s.items.map((task) => (
              <li key={task.id} className={`task-item${s.key === 'overdue' ? ' task-overdue' : ''}`} data-testid={`my-task-${task.id}`}>
                <span className="task-kind" title={t(`taskKind.${task.kind}`)}><Icon name={KIND_ICON[task.kind] ?? 'tasks'} /></span>
                <div className="task-body">
                  <div className="task-line">
                    <b className="task-due" data-testid="task-due-at">{formatInZone(task.due_at, lang, tz, now)}</b>
                    <span>{task.title || t(`taskKind.${task.kind}`)}</span>
                  </div>
                  <div className="muted small">
                    <Link to={`/leads/${task.lead}`} data-testid={`task-lead-${task.id}`}>{task.lead_name}</Link>
                    {task.note ? <> · <q>{task.note}</q></> : null}
                    {task.created_by === 'ai' ? <> · {t('tasks.byAi')}</> : null}
                    {task.assignee && task.assignee.id !== me.id ? <> · {task.assignee.full_name || task.assignee.email}</> : null}
                  </div>
                </div>
                {!task.done_at && (
                  <button className="btn btn-sm" onClick={() => done(task)} data-testid={`my-task-done-${task.id}`} aria-label={t('lead.taskDone')}>
                    <Icon name="check" size={15} /> <span className="task-done-label">{t('lead.taskDone')}</span>
                  </button>
                )}
              </li>
            ))}
          </ul>
        </section>
      ))}
    </div>
  );
}
