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

self.addEventListener('notificationclick', (event) => {
  event.notification.close();
  const url = new URL((event.notification.data && event.notification.data.url) || '/', self.location.origin).href;
  event.waitUntil((async () => {
    const windows = await self.clients.matchAll({ type: 'window', includeUncontrolled: true });
    const open = windows.find((c) => new URL(c.url).origin === self.location.origin);
    if (open) {
      await open.focus();
      // The app navigates itself (no reload): App.tsx listens for this message.
      open.postMessage({ type: 'open', url: new URL(url).pathname });
      return;
    }
    await self.clients.openWindow(url);
  })());
});
