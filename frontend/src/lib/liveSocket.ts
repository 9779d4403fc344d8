// The live connection to /ws/, as a small state machine with its clock, timers and socket injected (so the
// reconnect rules are unit-tested):
// - reconnects with exponential backoff and jitter, capped; the backoff only starts over once a connection
//   has stayed up for `stableMs`, so a socket that keeps dying right after it opens cannot hammer the server;
// - asks for one catch-up (`onResync`) per connection, when the server's hello says the socket has joined its
//   groups — never per event;
// - a heartbeat ping finds connections that died silently (sleep, a NAT or proxy dropping them) and replaces them.
import { backoffDelay } from './wsCache';

export interface SocketLike {
  send(data: string): void;
  close(code?: number): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code?: number }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}

export interface LiveHandlers {
  /** A server event (anything but the hello/pong housekeeping), as received. */
  onEvent(raw: string): void;
  /** The socket (re)joined: refetch what may have changed while it was away. */
  onResync(): void;
  /** The socket closed (4401: not or no longer signed in). */
  onClose?(code: number): void;
}

export interface LiveDeps {
  url(): string;
  create(url: string): SocketLike;
  now(): number;
  setTimer(fn: () => void, ms: number): unknown;
  clearTimer(id: unknown): void;
  random(): number;
}

export interface LiveOptions {
  baseMs: number; capMs: number; stableMs: number; heartbeatMs: number; pongTimeoutMs: number;
}

export const LIVE_DEFAULTS: LiveOptions = { baseMs: 1000, capMs: 30_000, stableMs: 30_000, heartbeatMs: 25_000, pongTimeoutMs: 10_000 };

export class LiveSocket {
  attempt = 0;
  /** Delays of the reconnects scheduled so far (for tests and diagnostics). */
  readonly delays: number[] = [];
  private sock: SocketLike | null = null;
  private openedAt: number | null = null;
  private lastHeard = 0;
  private reconnectTimer: unknown = null;
  private heartbeatTimer: unknown = null;
  private stopped = false;
  private readonly opts: LiveOptions;

  constructor(private readonly handlers: LiveHandlers, private readonly deps: LiveDeps, opts: Partial<LiveOptions> = {}) {
    this.opts = { ...LIVE_DEFAULTS, ...opts };
  }

  get connected(): boolean { return this.sock !== null && this.openedAt !== null; }

  start(): void { this.stopped = false; this.open(); }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    this.drop();
  }

  /** The network is back: reconnect now instead of waiting out the backoff. */
  reconnectNow(): void {
    if (this.stopped || this.sock) return;
    this.attempt = 0;
    this.clearTimers();
    this.open();
  }

  private open(): void {
    if (this.stopped) return;
    let sock: SocketLike;
    try { sock = this.deps.create(this.deps.url()); } catch { this.scheduleReconnect(); return; }
    this.sock = sock;
    this.openedAt = null;
    sock.onopen = () => {
      this.openedAt = this.deps.now();
      this.lastHeard = this.openedAt;
      this.beat();
    };
    sock.onmessage = (ev) => {
      this.lastHeard = this.deps.now();
      const raw = String(ev.data);
      const type = messageType(raw);
      if (type === 'hello') this.handlers.onResync();
      else if (type !== 'pong') this.handlers.onEvent(raw);
    };
    sock.onclose = (ev) => { if (this.sock === sock) this.closed(ev?.code ?? 1006); };
    sock.onerror = () => { try { sock.close(); } catch { /* closing anyway */ } };
  }

  private closed(code: number): void {
    const upFor = this.openedAt === null ? 0 : this.deps.now() - this.openedAt;
    this.drop();
    if (this.heartbeatTimer !== null) { this.deps.clearTimer(this.heartbeatTimer); this.heartbeatTimer = null; }
    this.handlers.onClose?.(code);
    if (upFor >= this.opts.stableMs) this.attempt = 0;
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.stopped) return;
    if (this.reconnectTimer !== null) this.deps.clearTimer(this.reconnectTimer);
    const delay = backoffDelay(this.attempt++, this.opts.baseMs, this.opts.capMs, this.deps.random);
    this.delays.push(delay);
    this.reconnectTimer = this.deps.setTimer(() => { this.reconnectTimer = null; this.open(); }, delay);
  }

  private beat(): void {
    this.heartbeatTimer = this.deps.setTimer(() => {
      this.heartbeatTimer = null;
      const sock = this.sock;
      if (!sock || this.stopped) return;
      if (this.deps.now() - this.lastHeard > this.opts.heartbeatMs + this.opts.pongTimeoutMs) {
        // Nothing heard since the last ping was due an answer: the connection is dead without a close.
        this.closed(4000);
        return;
      }
      try { sock.send('{"type":"ping"}'); } catch { /* a dead socket: found on the next beat */ }
      this.beat();
    }, this.opts.heartbeatMs);
  }

  private drop(): void {
    const sock = this.sock;
    this.sock = null;
    this.openedAt = null;
    if (sock) {
      sock.onopen = sock.onmessage = sock.onclose = sock.onerror = null;
      try { sock.close(); } catch { /* already closed */ }
    }
  }

  private clearTimers(): void {
    if (this.reconnectTimer !== null) { this.deps.clearTimer(this.reconnectTimer); this.reconnectTimer = null; }
    if (this.heartbeatTimer !== null) { this.deps.clearTimer(this.heartbeatTimer); this.heartbeatTimer = null; }
  }
}

function messageType(raw: string): string | null {
  try { const v = JSON.parse(raw); return v && typeof v.type === 'string' ? v.type : null; } catch { return null; }
}
