import { describe, expect, it } from 'vitest';
import { sandboxReceipt } from './sandboxReceipt';
import type { Message } from './types';

const m = (id: number, direction: 'in' | 'out', status: Message['status']) => ({ id, direction, status }) as Message;

describe('sandbox receipts', () => {
  it('a shown page reads what was sent or delivered, up to the newest it has', () => {
    expect(sandboxReceipt([m(1, 'in', 'received'), m(2, 'out', 'sent'), m(3, 'out', 'delivered'), m(4, 'out', 'queued')], true))
      .toEqual({ status: 'read', upto_id: 3 });
  });
  it('a hidden page only acknowledges delivery', () => {
    expect(sandboxReceipt([m(2, 'out', 'sent'), m(3, 'out', 'delivered')], false)).toEqual({ status: 'delivered', upto_id: 2 });
    expect(sandboxReceipt([m(3, 'out', 'delivered')], false)).toBeNull();
  });
  it('nothing to acknowledge: read, queued, failed, the client’s own messages, no data', () => {
    expect(sandboxReceipt([m(1, 'in', 'received'), m(2, 'out', 'read'), m(3, 'out', 'queued'), m(4, 'out', 'failed')], true)).toBeNull();
    expect(sandboxReceipt(undefined, true)).toBeNull();
  });
});
