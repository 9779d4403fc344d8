import { describe, expect, it } from 'vitest';
import { QueryClient } from '@tanstack/react-query';
import {
  applyNotification, LIST_KEY, markedRead, parseNotificationEvent, prependNotification, UNREAD_KEY, urlBase64ToUint8Array,
  type AppNotification,
} from './notifications';

const n = (id: number, read_at: string | null = null): AppNotification => ({
  id, kind: 'new_lead', lead_id: 7, title: 'Новый лид', body: 'Айгуль', url: '/leads/7', created_at: '2026-01-01T10:00:00Z', read_at,
});

describe('notifications', () => {
  it('puts a new one on top, once', () => {
    const list = [n(1)];
    const next = prependNotification(list, n(2))!;
    expect(next.map((x) => x.id)).toEqual([2, 1]);
    expect(prependNotification(next, n(2))).toBe(next);
    expect(prependNotification(undefined, n(3))).toBeUndefined();
  });
  it('keeps at most 100', () => {
    const many = Array.from({ length: 100 }, (_, i) => n(i + 1));
    expect(prependNotification(many, n(500))!.length).toBe(100);
  });
  it('marks some or all read', () => {
    const list = [n(1), n(2), n(3, 'x')];
    expect(markedRead(list, [2], 'now')!.map((x) => x.read_at)).toEqual([null, 'now', 'x']);
    expect(markedRead(list, null, 'now')!.map((x) => x.read_at)).toEqual(['now', 'now', 'x']);
  });
  it('reads only well-formed events', () => {
    expect(parseNotificationEvent({ type: 'notification.created', notification: n(4) })?.id).toBe(4);
    expect(parseNotificationEvent({ type: 'notification.created', notification: { id: '4' } })).toBeNull();
    expect(parseNotificationEvent({ type: 'lead.created' })).toBeNull();
    expect(parseNotificationEvent(null)).toBeNull();
  });
  it('a live event adds to the list and the unread count, a repeat does not', () => {
    const qc = new QueryClient();
    qc.setQueryData(LIST_KEY, [n(1)]);
    qc.setQueryData(UNREAD_KEY, 1);
    applyNotification(qc, n(2));
    applyNotification(qc, n(2));
    expect(qc.getQueryData<AppNotification[]>(LIST_KEY)!.map((x) => x.id)).toEqual([2, 1]);
    expect(qc.getQueryData(UNREAD_KEY)).toBe(2);
  });
  it('decodes the VAPID key', () => {
    expect(Array.from(urlBase64ToUint8Array('AQID_-8'))).toEqual([1, 2, 3, 255, 239]);
  });
});
