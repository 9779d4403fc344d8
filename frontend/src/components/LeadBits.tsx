import { formatWaiting, temperatureIcon } from '../lib/format';
import { Icon } from './Icon';
import { useLang, useT } from '../lib/i18n';
import type { Lead } from '../lib/types';
import { unreadOf } from '../lib/inbox';

export function Temp({ t: temp }: { t: Lead['temperature'] }) {
  const t = useT();
  return <span className={`temp temp-${temp}`} title={t(`temp.${temp}`)} data-testid="temperature" data-temperature={temp}>
    {temperatureIcon(temp) && <Icon name={temperatureIcon(temp)!} size={16} />}
  </span>;
}

export function HandlerBadge({ lead }: { lead: Pick<Lead, 'handled_by' | 'ai_enabled' | 'needs_human' | 'stage_pinned'> }) {
  const t = useT();
  const h = lead.handled_by;
  // 'ai', a person ({id, email, full_name}), or null: AI switched off and nobody took the dialog
  const kind = h === 'ai' ? 'ai' : h && typeof h === 'object' ? 'human' : 'none';
  const label = kind === 'ai' ? t('badge.ai')
    : kind === 'human' ? (h as { full_name?: string; email?: string }).full_name || (h as { email?: string }).email || t('badge.human')
      : t('badge.aiOff');
  const icon = kind === 'ai' ? 'ai' : kind === 'human' ? 'user' : 'pause';
  return (
    <>
      <span className={`badge ${kind === 'ai' ? 'badge-ai' : kind === 'human' ? 'badge-human' : 'badge-off'}`} data-testid="handler-badge" data-handler={kind}>
        <Icon name={icon} size={13} /> {label}
      </span>
      {lead.needs_human && <span className="badge badge-warn" title={t('badge.needsHuman')}><Icon name="alert" size={13} title={t('badge.needsHuman')} /></span>}
      {lead.stage_pinned && <span className="badge" title={t('lead.pinnedHint')} data-testid="pin-badge"><Icon name="pin" size={13} title={t('lead.pinnedHint')} /></span>}
    </>
  );
}

export function NoAnswerTimer({ lead, now }: { lead: Pick<Lead, 'waiting_since' | 'no_answer'>; now: number }) {
  const t = useT();
  const lang = useLang();
  const s = formatWaiting(lead.waiting_since, now, lang);
  if (!s) return null;
  return (
    <span className={`timer${lead.no_answer ? ' timer-late' : ''}`} data-testid="no-answer-timer">
      <Icon name="clock" size={13} /> {lead.no_answer ? t('card.noAnswer', { time: s }) : s}
    </span>
  );
}

export function channelLabel(t: (k: string) => string, ch: string) {
  const k = `channel.${ch}`;
  const s = t(k);
  return s === k ? ch : s;
}

/** "Client waiting 12 min": the client's message has no answer yet (updates with `now`). */
export function ClientWaitingTimer({ lead, now }: { lead: Pick<Lead, 'client_waiting_since'>; now: number }) {
  const t = useT();
  const lang = useLang();
  const s = formatWaiting(lead.client_waiting_since, now, lang);
  if (!s) return null;
  const late = now - Date.parse(lead.client_waiting_since as string) >= 15 * 60_000;
  return (
    <span className={`timer client-waiting${late ? ' timer-late' : ''}`} data-testid="client-waiting" title={t('inbox.clientWaiting', { time: s })}>
      <Icon name="clock" size={13} /> {t('inbox.clientWaiting', { time: s })}
    </span>
  );
}

/** The current user's unread client messages on this lead. */
export function UnreadBadge({ lead }: { lead: Pick<Lead, 'inbound_count' | 'read_count'> }) {
  const t = useT();
  const n = unreadOf(lead);
  if (!n) return null;
  return <span className="unread-badge" data-testid="unread-badge" title={t('inbox.unreadN', { n })} aria-label={t('inbox.unreadN', { n })}>{n > 99 ? '99+' : n}</span>;
}
