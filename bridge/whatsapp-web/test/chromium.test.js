'use strict';
// The real whatsapp-web.js loads and launches Debian's Chromium up to the point where it needs the network:
// every connection goes to a dead proxy, so opening WhatsApp Web fails after the browser started.
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test } = require('node:test');
const { Client, LocalAuth } = require('whatsapp-web.js');

const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

test('the library launches Chromium and stops at the network', { timeout: 60000 }, async () => {
  const dataPath = fs.mkdtempSync(path.join(os.tmpdir(), 'bridge-chromium-'));
  const client = new Client({
    authStrategy: new LocalAuth({ clientId: 'probe', dataPath }),
    webVersionCache: { type: 'none' },
    puppeteer: {
      executablePath: chromium,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
        '--proxy-server=http://127.0.0.1:9', '--proxy-bypass-list=<-loopback>'],
    },
  });
  let failure = null;
  try {
    await client.initialize();
  } catch (err) {
    failure = err;
  }
  try {
    assert.ok(client.pupBrowser, 'the browser was launched');
    assert.match(await client.pupBrowser.version(), /Chrom/);
    assert.ok(failure, 'opening WhatsApp Web needs the network');
    assert.match(String(failure.message), /net::ERR_/);
  } finally {
    if (client.pupBrowser) await client.pupBrowser.close();
    fs.rmSync(dataPath, { recursive: true, force: true });
  }
});
