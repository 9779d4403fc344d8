// Web Push in the service worker (imported by the generated sw.js: vite.config.ts → workbox.importScripts).
// A push carries {title, body, url, tag, kind} (notifications.services.Push); a click opens or focuses the lead.
self.addEventListener('push', (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (e) { data = { body: event.data ? event.data.text() : '' }; }
  const title = data.title || 'BuildCRM';
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || '',
    tag: data.tag || undefined,
    renotify: !!data.tag,
    icon: '/icons/icon-192.png',
    badge: '/icons/icon-192.png',
    data: { url: data.url || '/', kind: data.kind || '' },
  }));
});

/** Focuses an open window of the app and has it open `path` (no reload: App.tsx listens), or opens a new one. */
self.openLead = async (path) => {
  const url = new URL(path || '/', self.location.origin);
  const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
  const open = windows.find((c) => new URL(c.url).origin === self.location.origin);
  if (open) {
    try { await open.focus(); } catch (e) { /* focus needs a user gesture: the navigation still happens */ }
    open.postMessage({ type: 'open', url: url.pathname });
    return 'focused';
  }
  await self.clients.openWindow(url.href);
  return 'opened';
};

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  event.waitUntil(self.openLead(event.notification.data && event.notification.data.url));
});
