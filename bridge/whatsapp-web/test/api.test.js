'use strict';
// The bridge's HTTP API and its forwarding, with whatsapp-web.js's Client replaced at its event boundary (a fake
// client emitting the library's events); BuildCRM is a local HTTP server that records what the bridge posts.
const assert = require('node:assert/strict');
const { EventEmitter } = require('node:events');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { createBridge, tenantSecret, signRequest, hmacHex } = require('../bridge');

const MASTER = 'test-master-secret';
const TOKEN = 'webhook-token-abcdef';
const clients = [];

class FakeClient extends EventEmitter {
  constructor() {
    super();
    this.sent = [];
    this.loggedOut = false;
    clients.push(this);
  }
  async initialize() {}
  async sendMessage(to, content, options) {
    this.sent.push({ to, content, options });
    return { id: { _serialized: `true_${to}_MSG${this.sent.length}` } };
  }
  async logout() {
    this.loggedOut = true;
  }
  async destroy() {}
}

let bridge;
let base;
let crm;
const received = [];

function listen(server) {
  return new Promise((r) => server.listen(0, '127.0.0.1', () => r(server.address().port)));
}

before(async () => {
  crm = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() });
      res.end('{"ok":true}');
    });
  });
  const crmPort = await listen(crm);
  bridge = createBridge({
    secret: MASTER,
    dataDir: fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-test-')),
    buildcrmUrl: `http://127.0.0.1:${crmPort}`,
    publicUrl: 'http://bridge.test',
    clientFactory: () => new FakeClient(),
    makeMedia: async (url, kind) => ({ url, kind }),
    log: () => {},
  });
  base = `http://127.0.0.1:${await listen(bridge.server)}`;
});

after(async () => {
  await bridge.close();
  await new Promise((r) => crm.close(r));
});

async function call(tenant, action, data, { secret, ts, method } = {}) {
  const m = method || (action === 'state' ? 'GET' : 'POST');
  const body = m === 'GET' ? '' : typeof data === 'string' ? data : JSON.stringify(data || {});
  const stamp = String(ts ?? Math.floor(Date.now() / 1000));
  const urlPath = `/sessions/${tenant}/${action}`;
  const signature = signRequest(secret || tenantSecret(MASTER, tenant), stamp, m, urlPath, body);
  const res = await fetch(base + urlPath, {
    method: m,
    headers: { 'x-bridge-timestamp': stamp, 'x-bridge-signature': signature },
    body: m === 'GET' ? undefined : body,
  });
  return { status: res.status, data: await res.json() };
}

async function until(check) {
  for (let i = 0; i < 100; i += 1) {
    const value = check();
    if (value) return value;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('condition not reached');
}

test('a session pairs with a QR, then connects', async () => {
  assert.deepEqual((await call('acme', 'state')).data, { state: 'logged_out', qr: null });
  assert.equal((await call('acme', 'start', { token: TOKEN })).status, 200);
  const client = clients.at(-1);
  client.emit('qr', '2@abcdef,ghijk');
  const pairing = await (async () => {
    for (let i = 0; i < 50; i += 1) {
      const s = (await call('acme', 'state')).data;
      if (s.qr) return s;
      await new Promise((r) => setTimeout(r, 20));
    }
    return null;
  })();
  assert.equal(pairing.state, 'pairing');
  assert.match(pairing.qr, /^data:image\/png;base64,/);
  client.emit('ready');
  assert.deepEqual((await call('acme', 'state')).data, { state: 'connected', qr: null });
});

test('sends text, image and voice notes, returning the WhatsApp message id', async () => {
  const client = clients.at(-1);
  const text = await call('acme', 'send', { to: '+7 701 111-22-33', kind: 'text', text: 'Здравствуйте' });
  assert.equal(text.status, 200);
  assert.equal(text.data.id, 'true_77011112233@c.us_MSG1');
  assert.deepEqual(client.sent[0], { to: '77011112233@c.us', content: 'Здравствуйте', options: undefined });
  const voice = await call('acme', 'send', { to: '123456789012345@lid', kind: 'voice', media_url: 'https://crm.test/v.ogg' });
  assert.equal(voice.status, 200);
  assert.equal(client.sent[1].to, '123456789012345@lid');
  assert.deepEqual(client.sent[1].content, { url: 'https://crm.test/v.ogg', kind: 'voice' });
  assert.equal(client.sent[1].options.sendAudioAsVoice, true);
  await call('acme', 'send', { to: '77011112233', kind: 'image', media_url: 'https://crm.test/a.jpg', text: 'Фото' });
  assert.equal(client.sent[2].options.caption, 'Фото');
  assert.equal(client.sent[2].options.sendAudioAsVoice, false);
});

test('refuses bad signatures, stale or replayed-elsewhere requests, malformed and oversized bodies', async () => {
  assert.equal((await call('acme', 'send', { to: '1', text: 'x' }, { secret: 'wrong' })).status, 403);
  assert.equal((await call('acme', 'state', null, { secret: tenantSecret(MASTER, 'other') })).status, 403);
  assert.equal((await call('acme', 'state', null, { ts: Math.floor(Date.now() / 1000) - 3600 })).status, 403);
  assert.equal((await call('acme', 'send', '{not json')).status, 400);
  assert.equal((await call('acme', 'send', [1, 2])).status, 400);
  assert.equal((await call('acme', 'send', { to: 'nobody', kind: 'text', text: 'x' })).status, 400);
  assert.equal((await call('acme', 'send', { to: '77011112233', kind: 'sticker' })).status, 400);
  assert.equal((await call('acme', 'send', { to: '77011112233', kind: 'image', media_url: 'file:///etc/passwd' })).status, 400);
  assert.equal((await call('acme', 'send', { to: '77011112233', text: 'x'.repeat(70000) })).status, 413);
  assert.equal((await call('acme', 'start', { token: 'x' })).status, 400);
  assert.equal((await call('Bad Tenant', 'state')).status, 404);
  assert.equal((await call('acme', 'state', null, { method: 'POST' })).status, 405);
  // a signature made for another path (the state read) opens nothing else
  const stamp = String(Math.floor(Date.now() / 1000));
  const sig = signRequest(tenantSecret(MASTER, 'acme'), stamp, 'GET', '/sessions/acme/state', '');
  const res = await fetch(`${base}/sessions/acme/logout`, { method: 'POST', headers: { 'x-bridge-timestamp': stamp, 'x-bridge-signature': sig } });
  assert.equal(res.status, 403);
});

test('another tenant has no session to send through', async () => {
  const res = await call('other', 'send', { to: '77011112233', text: 'x' });
  assert.equal(res.status, 409);
});

test('forwards inbound text, media by signed expiring URL, voice notes and acks, signed', async () => {
  const client = clients.at(-1);
  received.length = 0;
  client.emit('message', {
    id: { _serialized: 'false_77011112233@c.us_AAA' }, from: '77011112233@c.us', fromMe: false, type: 'chat',
    body: 'Нужен дом', timestamp: 1735000000, hasMedia: false, _data: { notifyName: 'Айгуль' },
  });
  client.emit('message', {
    id: { _serialized: 'false_77011112233@c.us_BBB' }, from: '77011112233@c.us', fromMe: false, type: 'ptt',
    body: '', timestamp: 1735000001, hasMedia: true, _data: {},
    downloadMedia: async () => ({ mimetype: 'audio/ogg; codecs=opus', data: Buffer.from('OggS-voice').toString('base64') }),
  });
  client.emit('message', { id: { _serialized: 'g' }, from: '1203@g.us', fromMe: false, type: 'chat', body: 'group' });
  client.emit('message', { id: { _serialized: 'me' }, from: '77011112233@c.us', fromMe: true, type: 'chat', body: 'mine' });
  client.emit('message_ack', { id: { _serialized: 'true_77011112233@c.us_MSG1' }, fromMe: true }, 3);
  await until(() => received.length >= 3);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(received.length, 3);
  const secret = tenantSecret(MASTER, 'acme');
  for (const r of received) {
    assert.equal(r.url, `/webhooks/wwebjs/${TOKEN}/`);
    assert.equal(r.headers['x-bridge-signature'], hmacHex(secret, r.body));
  }
  const bodies = received.map((r) => JSON.parse(r.body));
  const text = bodies.find((b) => b.message.id === 'false_77011112233@c.us_AAA');
  assert.deepEqual(text, { tenant: 'acme', event: 'message', message: {
    id: 'false_77011112233@c.us_AAA', from: '77011112233@c.us', type: 'chat', body: 'Нужен дом',
    timestamp: 1735000000, name: 'Айгуль', media_url: null, mimetype: null } });
  const ack = bodies.find((b) => b.event === 'ack');
  assert.deepEqual(ack.message, { id: 'true_77011112233@c.us_MSG1', status: 'read', ack: 3 });
  const voice = bodies.find((b) => b.message.id === 'false_77011112233@c.us_BBB');
  assert.equal(voice.message.type, 'ptt');
  assert.equal(voice.message.mimetype, 'audio/ogg; codecs=opus');
  const link = new URL(voice.message.media_url);
  assert.equal(link.origin, 'http://bridge.test');
  const got = await fetch(base + link.pathname + link.search);
  assert.equal(got.status, 200);
  assert.equal(got.headers.get('content-type'), 'audio/ogg; codecs=opus');
  assert.equal(await got.text(), 'OggS-voice');
  const forged = await fetch(`${base}${link.pathname}?exp=${link.searchParams.get('exp')}&sig=${'0'.repeat(64)}`);
  assert.equal(forged.status, 403);
  const exp = Math.floor(Date.now() / 1000) - 1;
  const expired = hmacHex(secret, `media:acme/${link.pathname.split('/').at(-1)}:${exp}`);
  assert.equal((await fetch(`${base}${link.pathname}?exp=${exp}&sig=${expired}`)).status, 403);
  // files outlive their links by nothing: a day later the sweep deletes them
  assert.equal(bridge.sweepMedia(Date.now()), 0);
  assert.equal(bridge.sweepMedia(Date.now() + 25 * 3600 * 1000), 2); // the file and its type
  assert.equal((await fetch(base + link.pathname + link.search)).status, 404);
});

test('logging out ends the session', async () => {
  const client = clients.at(-1);
  assert.deepEqual((await call('acme', 'logout')).data, { state: 'logged_out', qr: null });
  assert.equal(client.loggedOut, true);
  assert.equal((await call('acme', 'state')).data.state, 'logged_out');
});
