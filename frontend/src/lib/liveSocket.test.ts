import { describe, expect, it } from 'vitest';
import { LiveSocket, type LiveDeps, type SocketLike } from './liveSocket';

class FakeSocket implements SocketLike {
  sent: string[] = [];
  closedWith: number | undefined | null = null;
  onopen: SocketLike['onopen'] = null;
  onmessage: SocketLike['onmessage'] = null;
  onclose: SocketLike['onclose'] = null;
  onerror: SocketLike['onerror'] = null;
  send(data: string) { this.sent.push(data); }
  close(code?: number) { this.closedWith = code; }
  // what the server / network does
  open() { this.onopen?.({}); }
  message(obj: unknown) { this.onmessage?.({ data: JSON.stringify(obj) }); }
  drop(code = 1011) { this.onclose?.({ code }); }
}

/** A manual clock and timer queue: time moves only when the test says so. */
function harness(random = () => 1) {
  let now = 0;
  let seq = 0;
  const timers = new Map<number, { at: number; fn: () => void }>();
  const sockets: FakeSocket[] = [];
  const log = { events: [] as string[], resyncs: 0, closes: [] as number[] };
  const deps: LiveDeps = {
    url: () => 'ws://alpha.localhost/ws/',
    create: () => { const s = new FakeSocket(); sockets.push(s); return s; },
    now: () => now,
    setTimer: (fn, ms) => { const id = ++seq; timers.set(id, { at: now + ms, fn }); return id; },
    clearTimer: (id) => { timers.delete(id as number); },
    random,
  };
  const live = new LiveSocket({
    onEvent: (raw) => log.events.push(raw),
    onResync: () => { log.resyncs += 1; },
    onClose: (code) => log.closes.push(code),
  }, deps);
  const advance = (ms: number) => {
    const until = now + ms;
    for (;;) {
      const due = [...timers.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      timers.delete(due[0]);
      now = due[1].at;
      due[1].fn();
    }
    now = until;
  };
  const last = () => sockets[sockets.length - 1];
  return { live, sockets, log, advance, last, pending: () => timers.size };
}

describe('live socket', () => {
  it('a socket that dies right after opening is retried less and less often (no storm)', () => {
    const h = harness();
    h.live.start();
    for (let i = 0; i < 8; i++) {
      h.last().open();
      h.last().message({ type: 'hello' });
      h.advance(5400); // the redis TimeoutError of old: 1011 after ~5.4 s
      h.last().drop(1011);
      h.advance(h.live.delays[h.live.delays.length - 1]);
    }
    expect(h.live.delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    expect(h.sockets.length).toBe(9);
  });

  it('jitter spreads reconnects between half and all of the step, never above the cap', () => {
    for (const r of [0, 0.3, 0.999]) {
      const h = harness(() => r);
      h.live.start();
      for (let i = 0; i < 12; i++) { h.last().drop(1006); h.advance(60_000); }
      h.live.delays.forEach((d, i) => {
        const step = Math.min(30_000, 1000 * 2 ** i);
        expect(d).toBeGreaterThanOrEqual(step / 2);
        expect(d).toBeLessThanOrEqual(step);
      });
    }
  });

  it('starts the backoff over only after a connection stayed up', () => {
    const h = harness();
    h.live.start();
    for (let i = 0; i < 4; i++) { h.last().drop(1006); h.advance(60_000); }
    expect(h.live.attempt).toBe(4);
    h.last().open();
    h.advance(29_000);
    h.last().message({ type: 'pong' });
    h.advance(2_000); // up 31 s
    h.last().drop(1006);
    expect(h.live.delays[h.live.delays.length - 1]).toBe(1000);
  });

  it('asks for one catch-up per connection, however many events follow', () => {
    const h = harness();
    h.live.start();
    h.last().open();
    h.last().message({ type: 'hello', user: 1 });
    for (let i = 0; i < 50; i++) h.last().message({ type: 'lead.updated', lead: { id: i } });
    expect(h.log.resyncs).toBe(1);
    expect(h.log.events.length).toBe(50);
    h.last().drop(1006);
    h.advance(1000);
    h.last().open();
    expect(h.log.resyncs).toBe(1); // not before the server has joined the socket to its groups
    h.last().message({ type: 'hello', user: 1 });
    expect(h.log.resyncs).toBe(2);
  });

  it('keeps an idle healthy connection open for hours with a ping the server answers', () => {
    const h = harness();
    h.live.start();
    const sock = h.last();
    sock.open();
    sock.message({ type: 'hello' });
    let answered = 0;
    const pongs = () => { while (sock.sent.length > answered) { answered += 1; sock.message({ type: 'pong' }); } };
    for (let t = 0; t < 3 * 3600; t += 5) { h.advance(5000); pongs(); }
    expect(h.sockets.length).toBe(1);
    expect(sock.closedWith).toBeNull();
    expect(sock.sent.length).toBeGreaterThan(400);
    expect(h.log.events).toEqual([]); // pongs are housekeeping, not events
  });

  it('replaces a connection that went silent without a close', () => {
    const h = harness();
    h.live.start();
    const sock = h.last();
    sock.open();
    sock.message({ type: 'hello' });
    h.advance(60_000); // pings go out, nothing comes back
    expect(sock.sent.length).toBeGreaterThan(0);
    expect(sock.closedWith).not.toBeNull();
    h.advance(2000);
    expect(h.sockets.length).toBe(2);
  });

  it('reports a refused or revoked login and stops for good when stopped', () => {
    const h = harness();
    h.live.start();
    h.last().drop(4401);
    expect(h.log.closes).toEqual([4401]);
    h.live.stop();
    h.advance(120_000);
    expect(h.sockets.length).toBe(1);
    expect(h.pending()).toBe(0);
  });

  it('reconnects at once when the network comes back', () => {
    const h = harness();
    h.live.start();
    for (let i = 0; i < 5; i++) { h.last().drop(1006); h.advance(h.live.delays[i]); }
    h.last().drop(1006); // now waiting 30 s
    h.live.reconnectNow();
    expect(h.sockets.length).toBe(7);
    expect(h.live.attempt).toBe(0);
    h.live.reconnectNow(); // already connecting: no second socket
    expect(h.sockets.length).toBe(7);
  });
});
