// Online state: navigator.onLine plus the outcome of our own fetches (a failed fetch means offline
// even when the OS thinks it is online — e.g. the server is unreachable).
type Listener = () => void;
let browserOnline = typeof navigator === 'undefined' ? true : navigator.onLine;
let fetchFailed = false;
const listeners = new Set<Listener>();
const emit = () => listeners.forEach((l) => l());

export function isOnline() { return browserOnline && !fetchFailed; }
export function subscribeOnline(l: Listener) { listeners.add(l); return () => { listeners.delete(l); }; }
export function reportFetch(ok: boolean) {
  const failed = !ok;
  if (failed !== fetchFailed) { fetchFailed = failed; emit(); }
}
if (typeof window !== 'undefined') {
  window.addEventListener('online', () => { browserOnline = true; fetchFailed = false; emit(); });
  window.addEventListener('offline', () => { browserOnline = false; emit(); });
}
