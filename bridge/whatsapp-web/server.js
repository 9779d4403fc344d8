'use strict';
// Entry point: `node bridge/whatsapp-web/server.js` (Procfile `bridge`, docker-compose `bridge`, `make run`).
const path = require('node:path');
const { createBridge } = require('./bridge');

const http = require('node:http');

const port = Number(process.env.BRIDGE_PORT || 3100);
const host = process.env.BRIDGE_HOST || '127.0.0.1';
if (!process.env.BRIDGE_SECRET) {
  // Without the platform's bridge secret no request can be trusted: stay up (so `make run` keeps its other
  // processes) but refuse everything until it is set.
  console.log('[bridge] BRIDGE_SECRET is not set: WhatsApp Web sessions are off');
  http
    .createServer((req, res) => {
      res.writeHead(req.url === '/health' ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ detail: 'BRIDGE_SECRET is not set' }));
    })
    .listen(port, host);
  return;
}
const bridge = createBridge({
  secret: process.env.BRIDGE_SECRET,
  dataDir: path.resolve(process.env.BRIDGE_DATA_DIR || path.join(__dirname, 'data')),
  buildcrmUrl: process.env.BUILDCRM_URL || 'http://localhost:8000',
  publicUrl: process.env.BRIDGE_PUBLIC_URL || `http://localhost:${port}`,
  chromiumPath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
});
bridge.server.listen(port, host, () => {
  console.log(`[bridge] listening on ${port}`);
  bridge.restore();
});
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => bridge.close().finally(() => process.exit(0)));
}
