import { statusIcon } from '../lib/format';
import { Icon } from './Icon';
import { useT } from '../lib/i18n';
import type { Message } from '../lib/types';

export function MessageContent({ m }: { m: Message }) {
  const t = useT();
  const caption = m.caption && m.caption !== m.text ? <div className="msg-caption">{m.caption}</div> : null;
  let media = null;
  switch (m.kind) {
    case 'image':
      if (m.media_url) media = <a href={m.media_url} target="_blank" rel="noreferrer"><img className="msg-img" src={m.media_url} alt={m.caption || ''} loading="lazy" /></a>;
      break;
    case 'album':
      media = (
        <div className="msg-album">
          {(m.items || []).map((it, i) => (
            <a key={i} href={it.url} target="_blank" rel="noreferrer" title={it.caption}><img src={it.url} alt={it.caption || ''} loading="lazy" /></a>
          ))}
        </div>
      );
      break;
    case 'audio': case 'voice':
      if (m.media_url) media = <audio className="msg-audio" controls preload="none" src={m.media_url} />;
      break;
    case 'video':
      if (m.media_url) media = <video className="msg-video" controls preload="metadata" src={m.media_url} />;
      break;
    case 'document':
      if (m.media_url) media = <a className="msg-doc" href={m.media_url} target="_blank" rel="noreferrer"><Icon name="file" size={16} /> {m.caption || t('chat.document')}</a>;
      break;
    case 'link':
      if (m.media_url) media = <a className="msg-link" href={m.media_url} target="_blank" rel="noreferrer"><Icon name="link" size={16} /> {m.media_url}</a>;
      break;
  }
  return (
    <>
      {media}
      <Transcript m={m} />
      {caption}
      {m.text && <div className="msg-text">{linkify(m.text)}</div>}
      {m.deleted_at && <div className="msg-unsent" data-testid="msg-unsent">{t('chat.unsent')}</div>}
    </>
  );
}

/** Under a client's voice note: what it says (speech to text), or that it is being / could not be transcribed. */
function Transcript({ m }: { m: Message }) {
  const t = useT();
  if (m.kind !== 'voice' && m.kind !== 'audio') return null;
  if (m.transcript_status === 'done' && m.transcript) {
    return (
      <div className="msg-transcript" data-testid="msg-transcript">
        <span className="msg-transcript-label">{t('chat.transcript')}:</span> {m.transcript}
      </div>
    );
  }
  if (m.transcript_status === 'pending') return <div className="msg-transcript muted" data-testid="msg-transcript">{t('chat.transcribing')}</div>;
  if (m.transcript_status === 'failed') return <div className="msg-transcript muted" data-testid="msg-transcript">{t('chat.transcriptFailed')}</div>;
  return null;
}

function linkify(text: string) {
  const parts = text.split(/(https?:\/\/[^\s]+)/g);
  return parts.map((p, i) => (i % 2 ? <a key={i} href={p} target="_blank" rel="noreferrer">{p}</a> : p));
}

export function Ticks({ m }: { m: Message }) {
  const t = useT();
  if (m.direction !== 'out') return null;
  return (
    <span className={`ticks ticks-${m.status}`} title={t(`status.${m.status}`) + (m.error ? `: ${m.error}` : '')} data-testid="msg-status" data-status={m.status}>
      {statusIcon(m.status) && <Icon name={statusIcon(m.status)!} size={14} />}
    </span>
  );
}
