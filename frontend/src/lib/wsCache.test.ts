import { describe, expect, it, vi } from 'vitest';
import { QueryClient } from '@tanstack/react-query';
import { applyWsEvent, backoffDelay, mergeMessages, parseWsEvent } from './wsCache';
import { mkBoard, mkLead, mkMessage } from './fixtures';
import type { Board, Lead, Message, Page } from './types';

function client() {
  return new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
}

describe('websocket events → cache', () => {
  it('lead.created adds a card to the board', () => {
    const qc = client();
    qc.setQueryData(['board'], mkBoard());
    applyWsEvent(qc, { type: 'lead.created', lead: mkLead(50, 2, 99) });
    const b = qc.getQueryData<Board>(['board'])!;
    expect(b.stages[1].leads[0].id).toBe(50);
    expect(b.stages[1].count).toBe(3);
  });
  it('lead.updated moves the card, updates the open card and list pages', () => {
    const qc = client();
    qc.setQueryData(['board'], mkBoard());
    qc.setQueryData(['lead', 1], { ...mkLead(1, 1, 90), fields: [{ key: 'city', label: 'Город', type: 'text', required: true }] });
    qc.setQueryData(['leads', '?q='], { count: 1, next: null, previous: null, results: [mkLead(1, 1, 90)] });
    applyWsEvent(qc, { type: 'lead.updated', lead: mkLead(1, 3, 90, { ai_enabled: false }) });
    const b = qc.getQueryData<Board>(['board'])!;
    expect(b.stages[0].leads.map((l) => l.id)).toEqual([2, 3]);
    expect(b.stages[2].leads.map((l) => l.id)).toEqual([1]);
    const card = qc.getQueryData<Lead>(['lead', 1])!;
    expect(card.stage).toBe(3);
    expect(card.fields?.length).toBe(1); // card-only data survives
    expect(qc.getQueryData<Page<Lead>>(['leads', '?q='])!.results[0].ai_enabled).toBe(false);
  });
  it('lead.removed drops the card from the board and list pages', () => {
    const qc = client();
    qc.setQueryData(['board'], mkBoard());
    qc.setQueryData(['leads', '?q='], { count: 2, next: null, previous: null, results: [mkLead(1, 1, 90), mkLead(2, 1, 80)] });
    const before = qc.getQueryData<Board>(['board'])!.stages[0].count;
    applyWsEvent(qc, parseWsEvent(JSON.stringify({ type: 'lead.removed', lead_id: 1 }))!);
    const b = qc.getQueryData<Board>(['board'])!;
    expect(b.stages[0].leads.map((l) => l.id)).not.toContain(1);
    expect(b.stages[0].count).toBe(before - 1);
    const page = qc.getQueryData<Page<Lead>>(['leads', '?q='])!;
    expect(page.results.map((l) => l.id)).toEqual([2]);
    expect(page.count).toBe(1);
  });
  it('lead.updated for an unknown card invalidates the board', () => {
    const qc = client();
    qc.setQueryData(['board'], mkBoard());
    const spy = vi.spyOn(qc, 'invalidateQueries');
    applyWsEvent(qc, { type: 'lead.updated', lead: mkLead(404, 1, 1) });
    expect(spy).toHaveBeenCalledWith({ queryKey: ['board'] });
  });
  it('message.created appends to the chat once and updates the card preview', () => {
    const qc = client();
    qc.setQueryData(['board'], mkBoard());
    qc.setQueryData(['messages', 1], [mkMessage(1, 1)]);
    const m = mkMessage(2, 1, { direction: 'out', author_kind: 'ai', text: 'Здравствуйте!' });
    applyWsEvent(qc, { type: 'message.created', lead_id: 1, message: m });
    applyWsEvent(qc, { type: 'message.created', lead_id: 1, message: { ...m, status: 'delivered' } });
    const msgs = qc.getQueryData<Message[]>(['messages', 1])!;
    expect(msgs.map((x) => x.id)).toEqual([1, 2]);
    expect(msgs[1].status).toBe('delivered');
    expect(qc.getQueryData<Board>(['board'])!.stages[0].leads[0].last_message?.text).toBe('Здравствуйте!');
  });
  it('message.created updates the sandbox dialog of that lead', () => {
    const qc = client();
    qc.setQueryData(['sandbox', '+7700'], [mkMessage(1, 7)]);
    applyWsEvent(qc, { type: 'message.created', lead_id: 7, message: mkMessage(3, 7, { direction: 'out', author_kind: 'ai' }) });
    expect(qc.getQueryData<Message[]>(['sandbox', '+7700'])!.length).toBe(2);
  });
  it('message.updated changes the status of a shown message and never adds one', () => {
    const qc = client();
    qc.setQueryData(['board'], mkBoard());
    const out = mkMessage(2, 1, { direction: 'out', author_kind: 'ai', status: 'queued' });
    qc.setQueryData(['messages', 1], [mkMessage(1, 1), out]);
    qc.setQueryData(['sandbox', '+7700'], [mkMessage(1, 1), out]);
    applyWsEvent(qc, { type: 'message.updated', lead_id: 1, message: { ...out, status: 'delivered' } });
    applyWsEvent(qc, { type: 'message.updated', lead_id: 1, message: mkMessage(9, 1, { status: 'read' }) });
    const msgs = qc.getQueryData<Message[]>(['messages', 1])!;
    expect(msgs.map((x) => [x.id, x.status])).toEqual([[1, 'received'], [2, 'delivered']]);
    expect(qc.getQueryData<Message[]>(['sandbox', '+7700'])![1].status).toBe('delivered');
    // a status change is not a new message: the card preview stays
    expect(qc.getQueryData<Board>(['board'])!.stages[0].leads[0].last_message).toBeNull();
  });
  it('does not create caches nobody asked for', () => {
    const qc = client();
    applyWsEvent(qc, { type: 'message.created', lead_id: 1, message: mkMessage(1, 1) });
    expect(qc.getQueryData(['messages', 1])).toBeUndefined();
  });
});

describe('websocket helpers', () => {
  it('parses only known events', () => {
    expect(parseWsEvent('{"type":"lead.created","lead":{"id":1}}')?.type).toBe('lead.created');
    expect(parseWsEvent('{"type":"message.updated","lead_id":1,"message":{"id":3}}')?.type).toBe('message.updated');
    expect(parseWsEvent('{"type":"message.updated","lead_id":1}')).toBeNull();
    expect(parseWsEvent('{"type":"hello","user":1}')).toBeNull();
    expect(parseWsEvent('{"type":"ping"}')).toBeNull();
    expect(parseWsEvent('not json')).toBeNull();
  });
  it('backs off exponentially with a cap', () => {
    expect(backoffDelay(0, 1000, 30000, () => 1)).toBe(1000);
    expect(backoffDelay(3, 1000, 30000, () => 1)).toBe(8000);
    expect(backoffDelay(20, 1000, 30000, () => 1)).toBe(30000);
    expect(backoffDelay(3, 1000, 30000, () => 0)).toBe(4000);
  });
  it('mergeMessages keeps chronological order', () => {
    const out = mergeMessages([mkMessage(1, 1), mkMessage(3, 1)], mkMessage(2, 1));
    expect(out.map((m) => m.id)).toEqual([1, 2, 3]);
  });
});

describe('note.created (issue 16)', () => {
  it('is parsed and lands in the loaded notes of its lead once', () => {
    const apply = applyWsEvent, parse = parseWsEvent;
    const qc = new QueryClient();
    qc.setQueryData(['notes', 7], [{ id: 1, lead: 7, text: 'a', author: null, created_at: '2026-01-01T10:00:00Z' }]);
    const raw = JSON.stringify({ type: 'note.created', lead_id: 7, note: { id: 2, lead: 7, text: 'b', author: null, created_at: '2026-01-01T11:00:00Z' } });
    const ev = parse(raw);
    expect(ev?.type).toBe('note.created');
    apply(qc, ev!);
    apply(qc, ev!);
    expect((qc.getQueryData(['notes', 7]) as { id: number }[]).map((n) => n.id)).toEqual([1, 2]);
    expect(parse(JSON.stringify({ type: 'note.created', lead_id: 7 }))).toBeNull();
    apply(qc, { ...ev!, lead_id: 8 } as never);
    expect(qc.getQueryData(['notes', 8])).toBeUndefined();
  });
});
