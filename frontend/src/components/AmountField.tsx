import { useEffect, useState } from 'react';
import { useLang, useT } from '../lib/i18n';
import { formatMoney, parseAmountInput, useCurrency } from '../lib/money';
import { toast } from '../lib/toast';
import type { Lead } from '../lib/types';

type Act = (path: string, body?: unknown, method?: string) => Promise<boolean>;

/** The deal amount on the lead card: shown in the tenant's currency, edited in place (saves on its own). */
export function AmountField({ lead, act }: { lead: Lead; act: Act }) {
  const t = useT();
  const lang = useLang();
  const currency = useCurrency();
  const [text, setText] = useState(lead.amount ?? '');
  const [editing, setEditing] = useState(false);
  useEffect(() => { if (!editing) setText(lead.amount ? String(Number(lead.amount)) : ''); }, [lead.amount, editing]);
  const value = parseAmountInput(text);
  const save = async () => {
    if (value === undefined) { toast(t('amount.bad'), 'error'); return; }
    if (await act('', { amount: value }, 'PATCH')) { setEditing(false); toast(t('common.saved')); }
  };
  return (
    <div className="amount-field" data-testid="lead-amount">
      <label>{t('amount.label', { currency })}
        <div className="row gap">
          <input inputMode="decimal" value={text} placeholder={t('amount.placeholder')} data-testid="lead-amount-input"
            aria-invalid={value === undefined}
            onChange={(e) => { setText(e.target.value); setEditing(true); }}
            onKeyDown={(e) => { if (e.key === 'Enter') void save(); if (e.key === 'Escape') setEditing(false); }} />
          {editing && <button className="btn btn-primary btn-sm" onClick={() => void save()} data-testid="lead-amount-save">{t('common.save')}</button>}
        </div>
      </label>
      <div className="muted small" data-testid="lead-amount-shown">
        {lead.amount ? formatMoney(lead.amount, currency, lang) : t('amount.none')}
        {lead.amount && !lead.amount_by_person ? ` · ${t('amount.fromBudget')}` : ''}
      </div>
    </div>
  );
}
