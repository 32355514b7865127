// SIP over WebSocket against the real server, with JsSIP in headless Chromium and a raw
// WebSocket client (issue 6, part 1). Run by tests/e2e/ws_register.sh, which starts the server
// and passes: HTTP_PORT, SIP_PORT, DOMAIN, PASSWORD, TOKEN (a supervisor's), MAX_FAILURES,
// SIPP_CANCEL (a command line: a SIPp caller to extension 1001 that cancels while it rings).
'use strict';

const assert = require('assert/strict');
const crypto = require('crypto');
const fs = require('fs');
const { spawn, spawnSync } = require('child_process');
const WebSocket = require('ws');
const sp = require('./lib/softphone');

const { HTTP_PORT, DOMAIN, PASSWORD, TOKEN } = process.env;
const MAX_FAILURES = Number(process.env.MAX_FAILURES || 3);
const BASE = `http://127.0.0.1:${HTTP_PORT}`;
const WS_URL = `ws://127.0.0.1:${HTTP_PORT}/sip`;

const step = (s) => console.log(`== ${s}`);

// A SIPp caller (one call of tests/e2e/sipp/uac_expect.xml.in) to extension 1001 that must end
// with final response `code`; resolves with SIPp's exit status (0 = got it).
// `sdp` (optional) rewrites the offer's text.
async function sippExpect(name, code, sdp = (t) => t) {
  const { SCEN, WORK, SIP_PORT } = process.env;
  const scenario = `${WORK}/uac_expect_${name}.xml`;
  const text = sdp(fs.readFileSync(`${SCEN}/uac_expect.xml.in`, 'utf8').replaceAll('@CODE@', `${code}`));
  fs.writeFileSync(scenario, text);
  const args = ['-sf', scenario, '-s', '1001', '-m', '1', '-timeout', '30s', '-nostdin',
    '-i', '127.0.0.1', '-p', `${await sp.freePort()}`, '-mp', `${await sp.freeMediaPort()}`,
    '-trace_err', '-error_file', `${WORK}/sipp-${name}.err`, `127.0.0.1:${SIP_PORT}`];
  const child = spawn('sipp', args, { stdio: 'ignore' });
  return new Promise((resolve) => child.on('exit', (status) => resolve(status)));
}

// "AOR transport" lines of GET /api/v1/registrations, sorted.
async function registrations() {
  const r = await fetch(`${BASE}/api/v1/registrations`, {
    headers: { Authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(r.status, 200);
  return (await r.json()).map((b) => `${b.aor} ${b.source.split(':')[0]}`).sort();
}

// Polls the registrations until `pred` holds (the server acts on a closed socket at once, but
// asynchronously); fails after `ms`.
async function registrationsUntil(pred, what, ms = 10000) {
  const end = Date.now() + ms;
  let got;
  while (Date.now() < end) {
    got = await registrations();
    if (pred(got)) return got;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: registrations are ${JSON.stringify(got)}`);
}

async function wsCounter(name) {
  const text = await (await fetch(`${BASE}/metrics`)).text();
  const m = text.match(new RegExp(`^switchboard_${name}_total\\{transport="ws"\\} (\\d+)`, 'm'));
  assert.ok(m, `metric ${name} for transport ws is exported`);
  return Number(m[1]);
}

// A raw SIP WebSocket: resolves once open (or with {status} when the handshake is refused).
// `options.autoPong: false` makes a peer that never answers pings.
function rawSocket(protocols, options = {}) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(WS_URL, protocols, options);
    const raw = { ws, messages: [], waiters: [], closed: null, pings: 0 };
    ws.on('ping', () => (raw.pings += 1));
    raw.closed = new Promise((r) => ws.on('close', (code, reason) => r({ code, reason: `${reason}` })));
    ws.on('message', (data) => {
      raw.messages.push(data.toString());
      raw.waiters.splice(0).forEach((w) => w());
    });
    ws.on('open', () => resolve(raw));
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    ws.on('error', reject);
  });
}

async function nextMessage(raw, ms = 5000) {
  const end = Date.now() + ms;
  while (raw.messages.length === 0) {
    const left = end - Date.now();
    assert.ok(left > 0, 'an answer arrives on the WebSocket');
    await new Promise((r) => {
      raw.waiters.push(r);
      setTimeout(r, left);
    });
  }
  return raw.messages.shift();
}

let seq = 0;
function register(user, extra = '') {
  seq += 1;
  return (
    `REGISTER sip:${DOMAIN} SIP/2.0\r\n` +
    `Via: SIP/2.0/WS raw${seq}.invalid;branch=z9hG4bK-raw-${seq}\r\n` +
    `Max-Forwards: 70\r\nTo: <sip:${user}@${DOMAIN}>\r\nFrom: <sip:${user}@${DOMAIN}>;tag=raw${seq}\r\n` +
    `Call-ID: raw-${user}@test\r\nCSeq: ${seq} REGISTER\r\n` +
    `Contact: <sip:raw@raw.invalid;transport=ws>\r\nExpires: 300\r\n${extra}Content-Length: 0\r\n\r\n`
  );
}

function options() {
  seq += 1;
  return (
    `OPTIONS sip:${DOMAIN} SIP/2.0\r\nVia: SIP/2.0/WS raw.invalid;branch=z9hG4bK-opt-${seq}\r\n` +
    `Max-Forwards: 70\r\nTo: <sip:${DOMAIN}>\r\nFrom: <sip:probe@${DOMAIN}>;tag=o${seq}\r\n` +
    `Call-ID: opt-${seq}@test\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`
  );
}

const status = (msg) => Number(msg.split(' ')[1]);
const headers = (msg, name) =>
  msg.split('\r\n').filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`));

// The Authorization answering an MD5 `challenge` (a WWW-Authenticate value) with `password`.
function digest(challenge, user, password) {
  const param = (k) => (challenge.match(new RegExp(`${k}="?([^",]+)"?`)) || [])[1];
  const md5 = (s) => crypto.createHash('md5').update(s).digest('hex');
  const uri = `sip:${DOMAIN}`;
  const [realm, nonce, cnonce, nc] = [param('realm'), param('nonce'), 'c0ffee', '00000001'];
  const ha1 = md5(`${user}:${realm}:${password}`);
  const ha2 = md5(`REGISTER:${uri}`);
  const response = md5(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`);
  return (
    `Authorization: Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", ` +
    `response="${response}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}"\r\n`
  );
}

async function main() {
  const wav = sp.toneWav(`${process.env.WORK || '/tmp'}/browser-tone.wav`, 440, 5);
  const browser = await sp.launch({ wav });
  try {
    step('JsSIP in Chromium registers 1001 over ws://…/sip; the API lists it with transport ws');
    const alice = await sp.openPhone(browser, `${BASE}/`);
    const ok = await alice.register({ ws: WS_URL, user: '1001', domain: DOMAIN, password: PASSWORD });
    assert.equal(ok.name, 'registered', `1001 registers: ${JSON.stringify(ok)}`);
    assert.deepEqual(await registrations(), [`sip:1001@${DOMAIN} ws`]);

    step('a wrong password fails to register (JsSIP reports an authentication error)');
    const mallory = await sp.openPhone(browser, `${BASE}/`);
    const bad = await mallory.register({ ws: WS_URL, user: '1002', domain: DOMAIN, password: 'wrong' });
    assert.equal(bad.name, 'registrationFailed');
    assert.equal(bad.detail.cause, 'Authentication Error');
    await mallory.page.context().close();
    assert.deepEqual(await registrations(), [`sip:1001@${DOMAIN} ws`]);

    step('a WebSocket without the sip subprotocol is refused with a JSON 400');
    const refused = await rawSocket([]);
    assert.equal(refused.status, 400);
    assert.match(JSON.parse(refused.body).error.message, /subprotocol 'sip'/);

    step('a page of another site may not open /sip (cross-site WebSocket): 403; our own origin may');
    const foreign = await rawSocket(['sip'], { origin: 'https://evil.example' });
    assert.equal(foreign.status, 403);
    assert.match(JSON.parse(foreign.body).error.message, /origin/);
    const own = await rawSocket(['sip'], { origin: `http://127.0.0.1:${HTTP_PORT}` });
    assert.equal(own.ws.protocol, 'sip');
    own.ws.close();

    step('garbage is dropped, an unauthenticated REGISTER gets 401 (MD5 last, received filled)');
    const errorsBefore = await wsCounter('sip_parse_errors');
    const raw = await rawSocket(['sip']);
    assert.equal(raw.ws.protocol, 'sip');
    raw.ws.send(Buffer.from([0x00, 0xff, 0x13, 0x37, 0x80]));
    raw.ws.send('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    raw.ws.send(register('1001'));
    const challenge = await nextMessage(raw);
    assert.equal(status(challenge), 401, challenge);
    const auth = headers(challenge, 'WWW-Authenticate');
    assert.ok(auth.length >= 2, 'both digest algorithms are offered');
    assert.match(auth[0], /algorithm=SHA-256/, 'the configured order otherwise (strongest first)');
    assert.match(auth[auth.length - 1], /algorithm=MD5/, 'JsSIP keeps the last challenge');
    assert.match(headers(challenge, 'Via')[0], /received=127\.0\.0\.1/);
    assert.equal(raw.messages.length, 0, 'the garbage got no answer');

    step('a 100 kB message (over the 64 kB SIP limit) is dropped; the socket keeps serving');
    raw.ws.send(register('1001', `X-Padding: ${'a'.repeat(100 * 1024)}\r\n`));
    raw.ws.send(options());
    assert.equal(status(await nextMessage(raw)), 200);
    assert.ok((await wsCounter('sip_parse_errors')) >= errorsBefore + 3, 'garbage counted (ws)');

    step('repeated garbage closes the socket (1008); the server and 1001 are unharmed');
    const junk = await rawSocket(['sip']);
    for (let i = 0; i < 5; i++) junk.ws.send(`junk ${i}`);
    const closed = await junk.closed;
    assert.equal(closed.code, 1008, `closed with ${JSON.stringify(closed)}`);
    step('a 2 MB message (over the WebSocket limit) closes only its own socket');
    const huge = await rawSocket(['sip']);
    huge.ws.send('x'.repeat(2 * 1024 * 1024));
    await huge.closed;
    raw.ws.send(options());
    assert.equal(status(await nextMessage(raw)), 200);
    assert.equal((await fetch(`${BASE}/healthz`)).status, 200);
    assert.deepEqual(await registrations(), [`sip:1001@${DOMAIN} ws`]);
    raw.ws.close();

    if (process.env.IDLE_SECS) {
      step(`a socket that answers no pings is pinged, then closed as idle (1001) after ${process.env.IDLE_SECS} s`);
      const mute = await rawSocket(['sip'], { autoPong: false });
      const started = Date.now();
      const idle = await mute.closed;
      const secs = (Date.now() - started) / 1000;
      assert.equal(idle.code, 1001, `closed with ${JSON.stringify(idle)}`);
      assert.ok(mute.pings >= 1, 'it was pinged first');
      assert.ok(secs >= Number(process.env.IDLE_SECS) - 0.5, `closed after ${secs} s`);
      assert.deepEqual(await registrations(), [`sip:1001@${DOMAIN} ws`], 'the browser answered its pings');
    }

    if (process.env.SIPP_CANCEL) {
      step('a SIPp caller dials 1001: JsSIP gets the INVITE over its socket (newRTCSession), then the CANCEL');
      const sipp = spawnSync('bash', ['-c', process.env.SIPP_CANCEL], { stdio: 'inherit' });
      assert.equal(sipp.status, 0, 'the caller heard 180, then 487 after its CANCEL');
      const ring = await alice.waitFor('newRTCSession');
      assert.equal(ring.detail.originator, 'remote');
      const failed = await alice.waitFor('failed');
      assert.equal(failed.detail.cause, 'Canceled');
    }

    if (process.env.SCEN) {
      step('a WebRTC offer without a DTLS fingerprint to 1001: 488 at once, the browser never rings');
      const noFingerprint = (t) =>
        t.replace('RTP/AVP 0 101', 'UDP/TLS/RTP/SAVPF 0 101')
          .replace('a=rtpmap:0 PCMU/8000', 'a=ice-ufrag:abcd\n      a=ice-pwd:abcdefghijklmnopqrstuvwx\n      a=rtcp-mux\n      a=rtpmap:0 PCMU/8000');
      assert.equal(await sippExpect('no-fingerprint', 488, noFingerprint), 0, 'the caller got 488');
      const sessions = (await alice.events()).filter((e) => e.name === 'newRTCSession').length;
      assert.equal(sessions, 1, 'the browser was not rung for an offer nobody could take');
    }

    step('a browser killed with SIGKILL: its binding goes with its socket');
    const other = await sp.launchKillable({ wav });
    const bob = await sp.openPhone(other.browser, `${BASE}/`);
    const bobOk = await bob.register({ ws: WS_URL, user: '1002', domain: DOMAIN, password: PASSWORD });
    assert.equal(bobOk.name, 'registered');
    assert.deepEqual(await registrations(), [`sip:1001@${DOMAIN} ws`, `sip:1002@${DOMAIN} ws`]);
    other.kill();
    await registrationsUntil(
      (r) => r.length === 1 && r[0] === `sip:1001@${DOMAIN} ws`,
      "1002's binding removed after its browser was killed",
    );

    step('1001 unregisters (Expires 0 over its socket) and closes its page');
    await alice.unregister();
    assert.deepEqual(await registrations(), []);
    await alice.page.context().close();

    if (process.env.SCEN) {
      step('the only phone of 1001 ringing, its socket closes: the call ends at once (480 to the caller)');
      const carol = await sp.openPhone(browser, `${BASE}/`);
      const carolOk = await carol.register({ ws: WS_URL, user: '1001', domain: DOMAIN, password: PASSWORD });
      assert.equal(carolOk.name, 'registered');
      const gone = sippExpect('closed-480', 480);
      await carol.waitFor('newRTCSession');
      await carol.page.context().close();
      assert.equal(await gone, 0, 'the caller got 480 when the ringing socket closed');
      await registrationsUntil((r) => r.length === 0, "carol's binding removed with her socket");
    }

    step(`wrong digests: 401 until the address is locked out after ${MAX_FAILURES} (403)`);
    const lock = await rawSocket(['sip']);
    lock.ws.send(register('1003'));
    let answer = await nextMessage(lock);
    let attempts = 0;
    while (status(answer) === 401 && attempts <= MAX_FAILURES) {
      attempts += 1;
      const md5 = headers(answer, 'WWW-Authenticate').find((h) => /MD5/.test(h));
      lock.ws.send(register('1003', digest(md5, '1003', 'not-the-password')));
      answer = await nextMessage(lock);
    }
    assert.equal(status(answer), 403, `locked out after ${attempts} wrong answers`);
    const locked = await sp.openPhone(browser, `${BASE}/`);
    const lockedTry = await locked.register({ ws: WS_URL, user: '1003', domain: DOMAIN, password: PASSWORD });
    assert.equal(lockedTry.name, 'registrationFailed', 'even the right password is refused');
    assert.deepEqual(await registrations(), []);
    lock.ws.close();
    console.log('ws_register: all checks passed');
  } finally {
    await browser.close();
  }
}

// Explicit exits: the killed browser's server object keeps handles open.
main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
