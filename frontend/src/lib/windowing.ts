// Fixed-height list windowing: which rows to render for a scroll position.
export interface WindowInput { scrollTop: number; viewportHeight: number; itemHeight: number; count: number; overscan?: number }
export interface WindowResult { start: number; end: number; offsetTop: number; totalHeight: number }

export function computeWindow({ scrollTop, viewportHeight, itemHeight, count, overscan = 4 }: WindowInput): WindowResult {
  const totalHeight = Math.max(0, count * itemHeight);
  if (count <= 0 || itemHeight <= 0) return { start: 0, end: 0, offsetTop: 0, totalHeight };
  const top = Math.min(Math.max(0, scrollTop), Math.max(0, totalHeight - viewportHeight));
  const first = Math.floor(top / itemHeight);
  const visible = Math.ceil(Math.max(viewportHeight, itemHeight) / itemHeight) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(count, first + visible + overscan);
  return { start, end, offsetTop: start * itemHeight, totalHeight };
}

/** True when the rendered window is close enough to the end of what is loaded to fetch the next page. */
export function shouldLoadMore(end: number, loaded: number, total: number, threshold = 8): boolean {
  return loaded < total && end >= loaded - threshold;
}
