'use strict';
/*
 * The WhatsApp Web bridge: one whatsapp-web.js Client per BuildCRM tenant that enabled it, behind a small signed
 * HTTP API (node:http, no framework), forwarding what the client receives to BuildCRM's webhook.
 *
 * Trust: every tenant has its own secret, HMAC-SHA256(BRIDGE_SECRET, tenant) in hex, so the bridge keeps no secret
 * store and BuildCRM keeps the same value in `channels.wwebjs.secret`. Requests to the bridge carry
 *   X-Bridge-Timestamp: unix seconds (±300 s), X-Bridge-Signature: hex HMAC(secret, `${ts}.${METHOD} ${path}.${body}`)
 * (the method, path and time are signed so a captured request cannot be replayed elsewhere or later). Webhooks to
 * BuildCRM carry X-Bridge-Signature: hex HMAC(secret, body). Media is served at a signed expiring URL.
 */
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');

const MAX_BODY = 64 * 1024; // a send request is a few fields; media travel by URL
const MAX_MEDIA = 16 * 1024 * 1024; // WhatsApp's own limit for voice/audio/images is 16 MB
const CLOCK_SKEW_S = 300;
const MEDIA_TTL_S = 24 * 3600;
const TENANT = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const TOKEN = /^[A-Za-z0-9_-]{8,128}$/;
const KINDS = new Set(['text', 'image', 'audio', 'voice', 'video', 'document']);

function hmacHex(key, text) {
  return crypto.createHmac('sha256', key).update(text).digest('hex');
}

function tenantSecret(master, tenant) {
  return hmacHex(master, tenant);
}

function signRequest(secret, ts, method, urlPath, body) {
  return hmacHex(secret, `${ts}.${method} ${urlPath}.${body}`);
}

function equalHex(given, expected) {
  if (typeof given !== 'string' || given.length !== expected.length) return false;
  return crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

// wwebjs ack → our delivery status (ACK_ERROR -1, PENDING 0, SERVER 1, DEVICE 2, READ 3, PLAYED 4).
const ACK_STATUS = { '-1': 'failed', 1: 'sent', 2: 'delivered', 3: 'read', 4: 'read' };

function chatId(to) {
  if (typeof to !== 'string' || !to || to.length > 64) return null;
  if (to.includes('@')) return /^[0-9]{1,40}@(c\.us|lid|s\.whatsapp\.net)$/.test(to) ? to.replace('@s.whatsapp.net', '@c.us') : null;
  const digits = to.replace(/[^0-9]/g, '');
  return digits.length >= 5 && digits.length <= 15 ? `${digits}@c.us` : null;
}

function realClientFactory({ tenant, dataDir, chromiumPath }) {
  const { Client, LocalAuth } = require('whatsapp-web.js');
  return new Client({
    authStrategy: new LocalAuth({ clientId: tenant, dataPath: path.join(dataDir, 'auth') }),
    puppeteer: {
      executablePath: chromiumPath,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    },
  });
}

/**
 * Creates the bridge (not listening). Options: secret (BRIDGE_SECRET), dataDir, buildcrmUrl, publicUrl (how
 * BuildCRM reaches this bridge, for media links), chromiumPath, clientFactory({tenant, dataDir, chromiumPath})
 * returning an EventEmitter with initialize/sendMessage/logout/destroy (the whatsapp-web.js Client by default),
 * makeMedia(url, kind) for outbound media (MessageMedia.fromUrl by default), log.
 */
function createBridge(options) {
  const master = options.secret;
  if (!master) throw new Error('BRIDGE_SECRET is not set');
  const dataDir = options.dataDir;
  const buildcrmUrl = String(options.buildcrmUrl || 'http://localhost:8000').replace(/\/+$/, '');
  const publicUrl = String(options.publicUrl || 'http://localhost:3100').replace(/\/+$/, '');
  const chromiumPath = options.chromiumPath || '/usr/bin/chromium';
  const clientFactory = options.clientFactory || realClientFactory;
  const log = options.log || ((...a) => console.log('[bridge]', ...a));
  const makeMedia =
    options.makeMedia ||
    (async (url) => {
      const { MessageMedia } = require('whatsapp-web.js');
      return MessageMedia.fromUrl(url, { unsafeMime: true });
    });
  const sessions = new Map(); // tenant → {client, state, qr, token}
  const mediaDir = path.join(dataDir, 'media');
  fs.mkdirSync(mediaDir, { recursive: true });
  const tenantsFile = path.join(dataDir, 'tenants.json');

  function savedTenants() {
    try {
      return JSON.parse(fs.readFileSync(tenantsFile, 'utf8'));
    } catch {
      return {};
    }
  }
  function saveTenant(tenant, token) {
    const all = savedTenants();
    if (token) all[tenant] = { token };
    else delete all[tenant];
    fs.writeFileSync(tenantsFile, JSON.stringify(all));
  }

  async function postWebhook(tenant, payload) {
    const session = sessions.get(tenant);
    if (!session) return;
    const body = JSON.stringify({ tenant, ...payload });
    const signature = hmacHex(tenantSecret(master, tenant), body);
    // A failed delivery is retried a few times; WhatsApp keeps the message in the phone either way.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const response = await fetch(`${buildcrmUrl}/webhooks/wwebjs/${session.token}/`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-bridge-signature': signature },
          body,
        });
        if (response.status < 500 && response.status !== 429) return response.status;
      } catch (err) {
        log(`tenant=${tenant} webhook failed: ${err.message}`);
      }
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    }
    return null;
  }

  function mediaUrl(tenant, name) {
    const exp = Math.floor(Date.now() / 1000) + MEDIA_TTL_S;
    const sig = hmacHex(tenantSecret(master, tenant), `media:${tenant}/${name}:${exp}`);
    return `${publicUrl}/media/${tenant}/${name}?exp=${exp}&sig=${sig}`;
  }

  async function storeMedia(tenant, msg) {
    const media = await msg.downloadMedia();
    if (!media || !media.data) return { url: null, mimetype: null };
    const content = Buffer.from(media.data, 'base64');
    if (content.length > MAX_MEDIA) return { url: null, mimetype: media.mimetype || null };
    const name = crypto.randomBytes(16).toString('hex');
    const dir = path.join(mediaDir, tenant);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, name), content);
    fs.writeFileSync(path.join(dir, `${name}.type`), String(media.mimetype || 'application/octet-stream'));
    return { url: mediaUrl(tenant, name), mimetype: media.mimetype || null };
  }

  async function onMessage(tenant, msg) {
    if (msg.fromMe) return;
    const from = String(msg.from || '');
    if (!/@(c\.us|lid|s\.whatsapp\.net)$/.test(from)) return; // groups, status broadcasts, channels: not leads
    let media = { url: null, mimetype: null };
    if (msg.hasMedia) {
      try {
        media = await storeMedia(tenant, msg);
      } catch (err) {
        log(`tenant=${tenant} media of ${msg.id && msg.id._serialized} not downloaded: ${err.message}`);
      }
    }
    await postWebhook(tenant, {
      event: 'message',
      message: {
        id: msg.id && msg.id._serialized,
        from,
        type: msg.type,
        body: typeof msg.body === 'string' ? msg.body : '',
        timestamp: msg.timestamp,
        name: (msg._data && msg._data.notifyName) || null,
        media_url: media.url,
        mimetype: media.mimetype,
      },
    });
  }

  function wire(tenant, client) {
    const session = sessions.get(tenant);
    client.on('qr', async (qr) => {
      session.state = 'pairing';
      try {
        session.qr = await require('qrcode').toDataURL(qr);
      } catch (err) {
        log(`tenant=${tenant} QR not drawn: ${err.message}`);
      }
    });
    client.on('authenticated', () => {
      session.qr = null;
    });
    client.on('ready', () => {
      session.state = 'connected';
      session.qr = null;
      postWebhook(tenant, { event: 'state', state: 'connected' });
    });
    client.on('auth_failure', () => {
      session.state = 'logged_out';
    });
    client.on('disconnected', () => {
      session.state = 'logged_out';
      session.qr = null;
      postWebhook(tenant, { event: 'state', state: 'logged_out' });
    });
    client.on('message', (msg) => {
      onMessage(tenant, msg).catch((err) => log(`tenant=${tenant} message not forwarded: ${err.message}`));
    });
    client.on('message_ack', (msg, ack) => {
      const status = ACK_STATUS[String(ack)];
      if (!status || !msg || !msg.fromMe) return;
      postWebhook(tenant, { event: 'ack', message: { id: msg.id && msg.id._serialized, status, ack } });
    });
  }

  function startSession(tenant, token) {
    const existing = sessions.get(tenant);
    if (existing && existing.state !== 'logged_out') {
      existing.token = token;
      return existing;
    }
    const client = clientFactory({ tenant, dataDir, chromiumPath });
    const session = { client, state: 'starting', qr: null, token };
    sessions.set(tenant, session);
    wire(tenant, client);
    Promise.resolve(client.initialize()).catch((err) => {
      log(`tenant=${tenant} session failed to start: ${err.message}`);
      session.state = 'logged_out';
    });
    saveTenant(tenant, token);
    return session;
  }

  function stateOf(tenant) {
    const session = sessions.get(tenant);
    if (!session) return { state: 'logged_out', qr: null };
    return { state: session.state === 'starting' ? 'pairing' : session.state, qr: session.qr };
  }

  function reply(res, status, data) {
    const body = JSON.stringify(data);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  function readBody(req) {
    return new Promise((resolve) => {
      const chunks = [];
      let size = 0;
      let over = false;
      req.on('data', (chunk) => {
        size += chunk.length;
        if (size > MAX_BODY) over = true;
        else chunks.push(chunk);
      });
      req.on('end', () => resolve(over ? null : Buffer.concat(chunks).toString('utf8')));
      req.on('error', () => resolve(null));
    });
  }

  function serveMedia(req, res, url, tenant, name) {
    const exp = Number(url.searchParams.get('exp'));
    const sig = url.searchParams.get('sig') || '';
    const expected = hmacHex(tenantSecret(master, tenant), `media:${tenant}/${name}:${url.searchParams.get('exp')}`);
    if (!equalHex(sig, expected)) return reply(res, 403, { detail: 'bad signature' });
    if (!Number.isFinite(exp) || exp < Date.now() / 1000) return reply(res, 403, { detail: 'link expired' });
    const file = path.join(mediaDir, tenant, name);
    if (!fs.existsSync(file)) return reply(res, 404, { detail: 'no such media' });
    const type = fs.readFileSync(`${file}.type`, 'utf8');
    const content = fs.readFileSync(file);
    res.writeHead(200, { 'content-type': type, 'content-length': content.length });
    res.end(content);
  }

  async function handle(req, res) {
    const url = new URL(req.url, 'http://bridge');
    if (req.method === 'GET' && url.pathname === '/health') return reply(res, 200, { ok: true });
    const media = url.pathname.match(/^\/media\/([^/]+)\/([0-9a-f]{32})$/);
    if (media && req.method === 'GET' && TENANT.test(media[1])) return serveMedia(req, res, url, media[1], media[2]);
    const route = url.pathname.match(/^\/sessions\/([^/]+)\/(start|send|logout|state)$/);
    if (!route || !TENANT.test(route[1])) return reply(res, 404, { detail: 'not found' });
    const [, tenant, action] = route;
    const method = action === 'state' ? 'GET' : 'POST';
    if (req.method !== method) return reply(res, 405, { detail: 'method not allowed' });
    const body = await readBody(req);
    if (body === null) return reply(res, 413, { detail: `request body too large (limit ${MAX_BODY} bytes)` });
    const ts = Number(req.headers['x-bridge-timestamp']);
    const expected = signRequest(tenantSecret(master, tenant), req.headers['x-bridge-timestamp'], method, url.pathname, body);
    if (!equalHex(req.headers['x-bridge-signature'], expected)) return reply(res, 403, { detail: 'bad signature' });
    if (!Number.isFinite(ts) || Math.abs(Date.now() / 1000 - ts) > CLOCK_SKEW_S) {
      return reply(res, 403, { detail: 'stale request' });
    }
    let data = {};
    if (method === 'POST') {
      try {
        data = JSON.parse(body || '{}');
      } catch {
        return reply(res, 400, { detail: 'body must be JSON' });
      }
      if (!data || typeof data !== 'object' || Array.isArray(data)) return reply(res, 400, { detail: 'body must be a JSON object' });
    }
    if (action === 'state') return reply(res, 200, stateOf(tenant));
    if (action === 'start') {
      if (typeof data.token !== 'string' || !TOKEN.test(data.token)) return reply(res, 400, { detail: 'token is required' });
      startSession(tenant, data.token);
      return reply(res, 200, stateOf(tenant));
    }
    if (action === 'logout') {
      const session = sessions.get(tenant);
      if (session) {
        sessions.delete(tenant);
        try {
          await session.client.logout();
        } catch (err) {
          log(`tenant=${tenant} logout: ${err.message}`);
        }
        try {
          await session.client.destroy();
        } catch {
          /* the browser may already be gone */
        }
      }
      saveTenant(tenant, null);
      return reply(res, 200, { state: 'logged_out', qr: null });
    }
    // send
    const session = sessions.get(tenant);
    if (!session || session.state !== 'connected') return reply(res, 409, { detail: 'session is not connected' });
    const to = chatId(data.to);
    if (!to) return reply(res, 400, { detail: 'to must be a phone number or a WhatsApp id' });
    const kind = data.kind || 'text';
    if (!KINDS.has(kind)) return reply(res, 400, { detail: `kind must be one of ${[...KINDS].join(', ')}` });
    const text = typeof data.text === 'string' ? data.text : '';
    try {
      let sent;
      if (kind === 'text') {
        if (!text) return reply(res, 400, { detail: 'text is required' });
        sent = await session.client.sendMessage(to, text);
      } else {
        if (typeof data.media_url !== 'string' || !/^https?:\/\//.test(data.media_url)) {
          return reply(res, 400, { detail: 'media_url must be an http(s) URL' });
        }
        const content = await makeMedia(data.media_url, kind);
        const caption = kind === 'audio' || kind === 'voice' ? undefined : text || undefined;
        sent = await session.client.sendMessage(to, content, { caption, sendAudioAsVoice: kind === 'voice' });
      }
      return reply(res, 200, { id: sent && sent.id ? sent.id._serialized : null });
    } catch (err) {
      log(`tenant=${tenant} send failed: ${err.message}`);
      return reply(res, 502, { detail: `send failed: ${String(err.message).slice(0, 300)}` });
    }
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      log(`request failed: ${err.stack || err}`);
      if (!res.headersSent) reply(res, 500, { detail: 'bridge error' });
    });
  });

  /** Deletes received files whose links have expired (BuildCRM fetches them within minutes). */
  function sweepMedia(now = Date.now()) {
    let removed = 0;
    for (const tenant of fs.existsSync(mediaDir) ? fs.readdirSync(mediaDir) : []) {
      const dir = path.join(mediaDir, tenant);
      for (const name of fs.readdirSync(dir)) {
        const file = path.join(dir, name);
        if (now - fs.statSync(file).mtimeMs > MEDIA_TTL_S * 1000) {
          fs.rmSync(file, { force: true });
          removed += 1;
        }
      }
    }
    return removed;
  }
  const sweeper = setInterval(() => {
    try {
      sweepMedia();
    } catch (err) {
      log(`media sweep failed: ${err.message}`);
    }
  }, 3600 * 1000);
  sweeper.unref();

  /** Restarts the sessions of the tenants that had one (LocalAuth keeps them paired across restarts). */
  function restore() {
    for (const [tenant, { token }] of Object.entries(savedTenants())) {
      if (TENANT.test(tenant) && TOKEN.test(token || '')) startSession(tenant, token);
    }
  }

  async function close() {
    clearInterval(sweeper);
    for (const session of sessions.values()) {
      try {
        await session.client.destroy();
      } catch {
        /* already gone */
      }
    }
    sessions.clear();
    await new Promise((r) => server.close(r));
  }

  return { server, sessions, restore, close, mediaUrl, sweepMedia };
}

module.exports = { createBridge, tenantSecret, signRequest, hmacHex, chatId, ACK_STATUS };
