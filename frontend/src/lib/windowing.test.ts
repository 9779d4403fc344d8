import { describe, expect, it } from 'vitest';
import { computeWindow, shouldLoadMore } from './windowing';

describe('windowing', () => {
  it('renders only the visible rows plus overscan', () => {
    const w = computeWindow({ scrollTop: 0, viewportHeight: 600, itemHeight: 100, count: 2000, overscan: 3 });
    expect(w).toEqual({ start: 0, end: 10, offsetTop: 0, totalHeight: 200000 });
  });
  it('follows the scroll position', () => {
    const w = computeWindow({ scrollTop: 50000, viewportHeight: 600, itemHeight: 100, count: 2000, overscan: 3 });
    expect(w.start).toBe(497);
    expect(w.end).toBe(510);
    expect(w.offsetTop).toBe(49700);
    expect(w.end - w.start).toBeLessThan(20);
  });
  it('clamps at the end and for overscroll', () => {
    const w = computeWindow({ scrollTop: 999999, viewportHeight: 600, itemHeight: 100, count: 2000, overscan: 3 });
    expect(w.end).toBe(2000);
    expect(computeWindow({ scrollTop: -50, viewportHeight: 600, itemHeight: 100, count: 5 }).start).toBe(0);
  });
  it('handles empty lists', () => {
    expect(computeWindow({ scrollTop: 0, viewportHeight: 600, itemHeight: 100, count: 0 })).toEqual({ start: 0, end: 0, offsetTop: 0, totalHeight: 0 });
  });
  it('asks for more near the end only when more exist', () => {
    expect(shouldLoadMore(28, 30, 100)).toBe(true);
    expect(shouldLoadMore(10, 30, 100)).toBe(false);
    expect(shouldLoadMore(30, 30, 30)).toBe(false);
  });
});
