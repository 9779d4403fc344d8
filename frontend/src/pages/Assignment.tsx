// "Распределение": how new leads get a manager — off, round-robin, or rules (channel / source / city → a person)
// with round-robin behind them; applied on a new lead or at the first call request. Owners and heads only.
import { useEffect, useState } from 'react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorText } from '../lib/api';
import { useUsers } from '../lib/hooks';
import { useT } from '../lib/i18n';
import { toast } from '../lib/toast';
import type { AssignmentMode, AssignmentRule, AssignmentSettings, AssignmentWhen } from '../lib/types';
import { channelLabel } from '../components/LeadBits';
import { Icon } from '../components/Icon';

const MODES: AssignmentMode[] = ['off', 'round_robin', 'rules'];
const WHENS: AssignmentWhen[] = ['new_lead', 'call_request'];
const CHANNELS = ['whatsapp', 'telegram', 'instagram', 'sandbox'];

export default function Assignment() {
  const t = useT();
  const qc = useQueryClient();
  const settings = useQuery<AssignmentSettings>({ queryKey: ['assignment'], queryFn: () => api<AssignmentSettings>('/api/assignment/') });
  const users = useUsers();
  const [mode, setMode] = useState<AssignmentMode>('off');
  const [when, setWhen] = useState<AssignmentWhen>('new_lead');
  const [rules, setRules] = useState<AssignmentRule[]>([]);
  const [error, setError] = useState('');
  const [saving, setSaving] = useState(false);

  useEffect(() => {
    if (!settings.data) return;
    setMode(settings.data.mode); setWhen(settings.data.when); setRules(settings.data.rules);
  }, [settings.data]);

  const save = async () => {
    setSaving(true); setError('');
    try {
      const body = { mode, when, rules: mode === 'rules' ? rules : settings.data?.rules ?? [] };
      const fresh = await api<AssignmentSettings>('/api/assignment/', { method: 'PATCH', body });
      qc.setQueryData(['assignment'], fresh);
      toast(t('common.saved'));
    } catch (e) {
      setError(e instanceof ApiError ? errorText(e.body, e.message) : String(e));
    } finally { setSaving(false); }
  };
  const setRule = (i: number, patch: Partial<AssignmentRule>) => setRules((rs) => rs.map((r, k) => (k === i ? { ...r, ...patch } : r)));
  const team = (users.data ?? []).filter((u) => u.is_active);

  if (settings.isPending) return <div className="pad muted">{t('common.loading')}</div>;
  if (settings.isError) return <div className="pad form-error">{t('common.error', { detail: (settings.error as Error).message })}</div>;
  const managers = settings.data.managers;

  return (
    <div className="page assignment" data-testid="assignment-page">
      <div className="page-head"><h2>{t('assign.title')}</h2></div>
      <div className="card-form">
        <fieldset className="assign-modes" data-testid="assign-mode">
          <legend>{t('assign.mode')}</legend>
          {MODES.map((m) => (
            <label key={m} className="inline"><input type="radio" name="mode" value={m} checked={mode === m} onChange={() => setMode(m)} data-testid={`assign-mode-${m}`} /> {t(`assign.mode.${m}`)}</label>
          ))}
        </fieldset>
        {mode !== 'off' && (
          <fieldset data-testid="assign-when">
            <legend>{t('assign.when')}</legend>
            {WHENS.map((w) => (
              <label key={w} className="inline"><input type="radio" name="when" value={w} checked={when === w} onChange={() => setWhen(w)} data-testid={`assign-when-${w}`} /> {t(`assign.when.${w}`)}</label>
            ))}
          </fieldset>
        )}
        {mode === 'rules' && (
          <fieldset data-testid="assign-rules">
            <legend>{t('assign.rules')}</legend>
            <p className="muted small">{t('assign.rulesHint')}</p>
            {rules.map((r, i) => (
              <div key={i} className="assign-rule" data-testid={`assign-rule-${i}`}>
                <select value={r.channel} onChange={(e) => setRule(i, { channel: e.target.value })} aria-label={t('assign.rule.channel')}>
                  <option value="">{t('assign.rule.channel')}: {t('assign.any')}</option>
                  {CHANNELS.map((c) => <option key={c} value={c}>{channelLabel(t, c)}</option>)}
                </select>
                <input value={r.source} maxLength={100} placeholder={`${t('assign.rule.source')}: ${t('assign.any')}`} aria-label={t('assign.rule.source')} onChange={(e) => setRule(i, { source: e.target.value })} />
                <input value={r.city} maxLength={100} placeholder={`${t('assign.rule.city')}: ${t('assign.any')}`} aria-label={t('assign.rule.city')} onChange={(e) => setRule(i, { city: e.target.value })} data-testid={`assign-rule-city-${i}`} />
                <select value={r.user_id ? String(r.user_id) : ''} onChange={(e) => setRule(i, { user_id: Number(e.target.value) })} aria-label={t('assign.rule.user')} data-testid={`assign-rule-user-${i}`}>
                  <option value="">{t('assign.rule.user')}…</option>
                  {team.map((u) => <option key={u.id} value={String(u.id)}>{u.full_name || u.email}</option>)}
                </select>
                <button className="btn btn-sm btn-ghost" onClick={() => setRules((rs) => rs.filter((_, k) => k !== i))} aria-label={t('common.delete')}><Icon name="trash" size={15} /></button>
              </div>
            ))}
            <button className="btn btn-sm btn-ghost" onClick={() => setRules((rs) => [...rs, { channel: '', source: '', city: '', user_id: 0 }])} data-testid="assign-add-rule">
              <Icon name="plus" size={15} /> {t('assign.addRule')}
            </button>
          </fieldset>
        )}
        <p className="muted small" data-testid="assign-managers">
          {managers.length ? t('assign.managers', { names: managers.map((m) => m.full_name || m.email).join(', ') }) : t('assign.noManagers')}
        </p>
        <p className="small assign-hot"><Icon name="hot" size={14} /> {t('assign.hotNote')}</p>
        {error && <div className="form-error" role="alert" data-testid="assign-error">{error}</div>}
        <div className="row gap">
          <button className="btn btn-primary" onClick={save} disabled={saving} data-testid="assign-save">{t('common.save')}</button>
        </div>
      </div>
    </div>
  );
}
