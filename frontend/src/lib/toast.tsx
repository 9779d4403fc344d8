import { useSyncExternalStore } from 'react';

export interface Toast { id: number; text: string; kind: 'info' | 'error' }
let toasts: Toast[] = [];
let seq = 0;
const listeners = new Set<() => void>();
const emit = () => listeners.forEach((l) => l());

export function toast(text: string, kind: Toast['kind'] = 'info', ms = 5000) {
  const id = ++seq;
  toasts = [...toasts.slice(-3), { id, text, kind }];
  emit();
  setTimeout(() => dismiss(id), ms);
}
export function dismiss(id: number) { toasts = toasts.filter((t) => t.id !== id); emit(); }

export function Toasts() {
  const list = useSyncExternalStore((f) => { listeners.add(f); return () => { listeners.delete(f); }; }, () => toasts, () => toasts);
  return (
    <div className="toasts" role="status" aria-live="polite">
      {list.map((t) => (
        <div key={t.id} className={`toast toast-${t.kind}`} data-testid={`toast-${t.kind}`} onClick={() => dismiss(t.id)}>{t.text}</div>
      ))}
    </div>
  );
}
