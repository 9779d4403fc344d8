import type { Message } from './types';

export interface SandboxReceipt { status: 'delivered' | 'read'; upto_id: number }

/** The sandbox page plays the client's phone: what it has received is delivered, and while it is on screen what it
 * shows is read. The receipt to send for the messages it has, or null when nothing would change. */
export function sandboxReceipt(messages: readonly Message[] | undefined, visible: boolean): SandboxReceipt | null {
  const due = (messages ?? []).filter((m) => m.direction === 'out'
    && (m.status === 'sent' || (visible && m.status === 'delivered')));
  if (!due.length) return null;
  return { status: visible ? 'read' : 'delivered', upto_id: Math.max(...due.map((m) => m.id)) };
}
