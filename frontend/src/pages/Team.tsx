import { useState, type FormEvent } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { useUsers } from '../lib/hooks';
import { useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { Me, Role, User } from '../lib/types';
import { passwordError } from './Account';
import { Icon } from '../components/Icon';

export default function Team({ me }: { me: Me }) {
  const t = useT();
  const qc = useQueryClient();
  const users = useUsers();
  const roles: Role[] = me.role === 'owner' ? ['head', 'manager'] : ['manager'];
  const [form, setForm] = useState({ email: '', full_name: '', role: 'manager' as Role, password: '' });
  const [error, setError] = useState('');
  const [resetting, setResetting] = useState<User | null>(null);
  const canEdit = (u: User) => u.id !== me.id && (me.role === 'owner' ? u.role !== 'owner' : u.role === 'manager');
  const fail = (e: unknown) => toast(t('common.error', { detail: e instanceof ApiError ? errorText(e.body, e.message) : String(e) }), 'error');

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    try {
      await api('/api/users/', { method: 'POST', body: form });
      setForm({ email: '', full_name: '', role: 'manager', password: '' });
      toast(t('team.created'));
      void qc.invalidateQueries({ queryKey: ['users'] });
    } catch (err) { setError(err instanceof ApiError ? errorText(err.body, err.message) : String(err)); }
  };
  const patch = async (u: User, body: Partial<User>) => {
    try {
      const nu = await api<User>(`/api/users/${u.id}/`, { method: 'PATCH', body });
      qc.setQueryData<User[]>(['users'], (cur) => cur?.map((x) => (x.id === u.id ? { ...x, ...nu } : x)));
    } catch (e) { fail(e); }
  };

  return (
    <div className="page" data-testid="team">
      <h2>{t('team.title')}</h2>
      {users.isError && <div className="form-error">{t('common.error', { detail: (users.error as Error).message })}</div>}
      <div className="table-wrap">
        <table className="table team-table" data-testid="team-table">
          <thead><tr><th>{t('team.fullName')}</th><th>Email</th><th>{t('team.role')}</th><th>{t('team.active')}</th><th /></tr></thead>
          <tbody>
            {users.data?.map((u) => (
              <tr key={u.id} className={u.is_active ? '' : 'row-inactive'} data-testid={`user-row-${u.id}`}>
                <td>{u.full_name}</td>
                <td>{u.email}</td>
                <td>
                  {canEdit(u)
                    ? <select value={u.role} onChange={(e) => patch(u, { role: e.target.value as Role })}>{roles.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}</select>
                    : t(`role.${u.role}`)}
                </td>
                <td>{u.is_active
                  ? <span className="pos"><Icon name="check" size={14} /> {t('team.active')}</span>
                  : <span className="neg"><Icon name="x" size={14} /> {t('team.inactive')}</span>}</td>
                <td>{canEdit(u) && (
                  <div className="row gap wrap team-actions">
                    <button className="btn btn-sm" data-testid={`user-toggle-${u.id}`} onClick={() => patch(u, { is_active: !u.is_active })}>
                      {u.is_active ? t('team.deactivate') : t('team.activate')}
                    </button>
                    <button className="btn btn-sm" data-testid={`user-reset-${u.id}`} onClick={() => setResetting(u)}>
                      <Icon name="key" size={14} /> {t('team.resetPassword')}
                    </button>
                  </div>
                )}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {resetting && <ResetPassword user={resetting} onClose={() => setResetting(null)} />}
      <form className="card-form" onSubmit={create} data-testid="team-form">
        <h3>{t('team.add')}</h3>
        <div className="grid4">
          <label>{t('team.email')}<input type="email" required value={form.email} onChange={(e) => setForm({ ...form, email: e.target.value })} data-testid="team-email" /></label>
          <label>{t('team.fullName')}<input required value={form.full_name} onChange={(e) => setForm({ ...form, full_name: e.target.value })} data-testid="team-name" /></label>
          <label>{t('team.role')}<select value={form.role} onChange={(e) => setForm({ ...form, role: e.target.value as Role })} data-testid="team-role">
            {roles.map((r) => <option key={r} value={r}>{t(`role.${r}`)}</option>)}</select></label>
          <label>{t('team.password')}<input type="password" required minLength={8} autoComplete="new-password" value={form.password} onChange={(e) => setForm({ ...form, password: e.target.value })} data-testid="team-password" /></label>
        </div>
        {error && <div className="form-error">{error}</div>}
        <button className="btn btn-primary" type="submit" data-testid="team-submit">{t('common.add')}</button>
      </form>
    </div>
  );
}

/** An owner's or head's reset of a team member's password (the server checks the role matrix). */
function ResetPassword({ user, onClose }: { user: User; onClose: () => void }) {
  const t = useT();
  const [next, setNext] = useState('');
  const [repeat, setRepeat] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const name = user.full_name || user.email;

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    if (next !== repeat) { setError(t('account.mismatch')); return; }
    setBusy(true);
    try {
      await api(`/api/users/${user.id}/password/`, { method: 'POST', body: { new_password: next } });
      toast(t('team.resetDone', { name }));
      onClose();
    } catch (err) {
      setError(err instanceof ApiError ? passwordError(err) : String(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="modal-backdrop" onClick={(e) => { if (e.target === e.currentTarget) onClose(); }}>
      <form className="modal" role="dialog" aria-label={t('team.resetTitle', { name })} onSubmit={submit} data-testid="reset-dialog">
        <h3>{t('team.resetTitle', { name })}</h3>
        <p className="muted small">{t('team.resetHint')}</p>
        <label>{t('account.new')}
          <input type="password" autoComplete="new-password" required minLength={8} value={next} autoFocus
            onChange={(e) => setNext(e.target.value)} data-testid="reset-new" />
        </label>
        <label>{t('account.repeat')}
          <input type="password" autoComplete="new-password" required minLength={8} value={repeat}
            onChange={(e) => setRepeat(e.target.value)} data-testid="reset-repeat" />
        </label>
        <p className="muted small">{t('account.rules')}</p>
        {error && <div className="form-error" role="alert" data-testid="reset-error">{error}</div>}
        <div className="row gap wrap">
          <button className="btn btn-primary" type="submit" disabled={busy} data-testid="reset-submit">{t('team.resetSubmit')}</button>
          <button className="btn btn-ghost" type="button" onClick={onClose}>{t('common.cancel')}</button>
        </div>
      </form>
    </div>
  );
}
