// The browser-softphone test harness: headless Debian Chromium driven by playwright-core, with
// JsSIP loaded into the page. Suites (ws_register, later the console tests) build on it:
//
//   const sp = require('./lib/softphone');
//   const browser = await sp.launch({ wav: sp.toneWav('/tmp/t.wav', 440, 5) });
//   const phone = await sp.openPhone(browser, 'http://127.0.0.1:8080/');
//   await phone.register({ ws: 'ws://127.0.0.1:8080/sip', user: '1001', domain, password });
//   await phone.waitFor('newRTCSession');  await phone.answer();  await phone.hangup();
//
// Every helper waits on JsSIP's own events (recorded in the page as `window.sb.events`), never
// on a fixed delay.
'use strict';

const fs = require('fs');
const path = require('path');
const net = require('net');
const { chromium } = require('playwright-core');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

// JsSIP as published on npm (lib/, CommonJS; no browser bundle since 3.11) bundled for the page
// once per run with esbuild, exposing the usual `JsSIP` global.
let jssipBundle = null;
function jssip() {
  if (!jssipBundle) {
    const out = require('esbuild').buildSync({
      entryPoints: [require.resolve('jssip')],
      bundle: true,
      format: 'iife',
      globalName: 'JsSIP',
      platform: 'browser',
      write: false,
      logLevel: 'warning',
    });
    jssipBundle = out.outputFiles[0].text;
  }
  return jssipBundle;
}

// Flags that work on this machine (no GPU, no sandbox, no network chatter); the fake devices
// stand in for a microphone fed from a WAV, and media permission prompts are granted.
function chromiumArgs(wav) {
  const args = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--use-fake-ui-for-media-stream',
    '--use-fake-device-for-media-stream',
    '--autoplay-policy=no-user-gesture-required',
  ];
  if (wav) args.push(`--use-file-for-fake-audio-capture=${wav}`);
  return args;
}

// A free TCP/UDP port on 127.0.0.1 for SIPp's signalling (-p).
function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// A base port for SIPp's -mp: SIPp binds it and the next three, so all four must be free. Taken
// from 20000-29999, below the kernel's ephemeral range (Chromium's ICE sockets land there) and
// apart from the server's RTP range under test (30000 and up); never the same base twice in a run.
const mediaBases = new Set();
async function freeMediaPort() {
  const dgram = require('dgram');
  const bindable = (port) =>
    new Promise((resolve) => {
      const sock = dgram.createSocket('udp4');
      sock.once('error', () => resolve(false));
      sock.bind(port, '127.0.0.1', () => sock.close(() => resolve(true)));
    });
  for (let i = 0; i < 500; i++) {
    const base = 20000 + 4 * Math.floor(Math.random() * 2499);
    if (mediaBases.has(base)) continue;
    let free = true;
    for (let p = base; p < base + 4 && free; p++) free = await bindable(p);
    if (free) {
      mediaBases.add(base);
      return base;
    }
  }
  throw new Error('no free media port block in 20000-29999');
}

// Writes a mono 16-bit 8 kHz WAV with a sine of `hz` for `seconds`; returns its path.
function toneWav(file, hz, seconds) {
  const rate = 8000;
  const n = Math.round(rate * seconds);
  const buf = Buffer.alloc(44 + n * 2);
  buf.write('RIFF', 0);
  buf.writeUInt32LE(36 + n * 2, 4);
  buf.write('WAVEfmt ', 8);
  buf.writeUInt32LE(16, 16);
  buf.writeUInt16LE(1, 20);
  buf.writeUInt16LE(1, 22);
  buf.writeUInt32LE(rate, 24);
  buf.writeUInt32LE(rate * 2, 28);
  buf.writeUInt16LE(2, 32);
  buf.writeUInt16LE(16, 34);
  buf.write('data', 36);
  buf.writeUInt32LE(n * 2, 40);
  for (let i = 0; i < n; i++) {
    buf.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)), 44 + i * 2);
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, buf);
  return file;
}

// Launches Chromium headless. Playwright gives every launch a fresh temporary
// --user-data-dir of its own.
async function launch({ wav } = {}) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(wav),
  });
}

// Like `launch`, with a way to kill Chromium like a crash or a closed laptop would (SIGKILL:
// no unregister, no WebSocket close frame). Returns { browser, kill }.
async function launchKillable({ wav } = {}) {
  const server = await chromium.launchServer({
    executablePath: CHROMIUM,
    headless: true,
    args: chromiumArgs(wav),
  });
  const browser = await chromium.connect(server.wsEndpoint());
  return { browser, kill: () => server.process().kill('SIGKILL') };
}

// The page side: a small wrapper around JsSIP that records every event it cares about.
function pageHelpers() {
  const sb = (window.sb = { events: [], ua: null, session: null });
  const log = (name, detail) => sb.events.push({ name, detail: detail || null, at: Date.now() });
  sb.register = ({ ws, user, domain, password, expires }) => {
    const socket = new JsSIP.WebSocketInterface(ws);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: `sip:${user}@${domain}`,
      password,
      register: true,
      register_expires: expires || 600,
      session_timers: false,
      connection_recovery_min_interval: 60,
      connection_recovery_max_interval: 120,
    });
    sb.ua = ua;
    ua.on('connected', () => log('connected'));
    ua.on('disconnected', () => log('disconnected'));
    ua.on('registered', () => log('registered'));
    ua.on('unregistered', () => log('unregistered'));
    ua.on('registrationFailed', (e) =>
      log('registrationFailed', { cause: e.cause, status: e.response ? e.response.status_code : null }),
    );
    ua.on('newRTCSession', (e) => {
      sb.session = e.session;
      log('newRTCSession', { originator: e.originator, from: e.request.from.uri.user });
      for (const name of ['progress', 'accepted', 'confirmed', 'hold', 'unhold', 'muted', 'unmuted']) {
        e.session.on(name, () => log(name));
      }
      // The far end's audio is played (as a softphone does), so Chromium decodes it and
      // reports its level in the receiver's stats.
      e.session.on('confirmed', () => {
        const tracks = e.session.connection.getReceivers().map((r) => r.track).filter(Boolean);
        const audio = document.createElement('audio');
        audio.autoplay = true;
        audio.srcObject = new MediaStream(tracks);
        document.body.appendChild(audio);
        audio.play().catch((err) => log('playFailed', { message: `${err}` }));
      });
      for (const name of ['failed', 'ended']) {
        e.session.on(name, (x) => log(name, { cause: x.cause, originator: x.originator }));
      }
    });
    ua.start();
  };
  sb.unregister = () => sb.ua.unregister({ all: false });
  sb.stop = () => sb.ua.stop();
  sb.answer = () => sb.session.answer({ mediaConstraints: { audio: true, video: false } });
  sb.hangup = () => sb.session.terminate();
  sb.call = (target) =>
    sb.ua.call(target, { mediaConstraints: { audio: true, video: false } });
  // Holding and resuming wait for the re-INVITE's outcome (JsSIP ends the call if it fails).
  // JsSIP ends the call when the re-INVITE fails: that resolves false.
  const renegotiate = (what) =>
    new Promise((ok) => {
      sb.session.once('ended', () => ok(false));
      sb.session.once('failed', () => ok(false));
      if (!sb.session[what]({}, () => ok(true))) ok(false);
    });
  sb.hold = () => renegotiate('hold');
  sb.unhold = () => renegotiate('unhold');
  sb.mute = () => sb.session.mute({ audio: true });
  sb.unmute = () => sb.session.unmute({ audio: true });
  sb.dtmf = (tones) =>
    sb.session.sendDTMF(tones, { transportType: 'RFC2833', duration: 160, interToneGap: 120 });
  sb.refer = (target) =>
    new Promise((ok) => {
      const sub = sb.session.refer(target);
      sub.on('requestSucceeded', () => log('referAccepted'));
      sub.on('accepted', () => ok('accepted'));
      sub.on('failed', (x) => ok(`failed ${x && x.status_line ? x.status_line.status_code : ''}`));
    });
}

// The audio a page's call receives and sends: packets and the highest level (0..1) of each,
// from WebRTC stats. `which` names the session: 'harness' (this file's page helpers) or
// 'console' (the agent console's `window.softphone`).
async function audioStats(page, which = 'harness') {
  return page.evaluate(async (w) => {
    const session = w === 'console' ? window.softphone.session : window.sb.session;
    const out = { received: 0, receivedLevel: 0, sent: 0, micLevel: 0 };
    const report = await session.connection.getStats();
    report.forEach((r) => {
      if (r.kind !== 'audio') return;
      if (r.type === 'inbound-rtp') {
        out.received += r.packetsReceived || 0;
        out.receivedLevel = Math.max(out.receivedLevel, r.audioLevel || 0);
      } else if (r.type === 'outbound-rtp') {
        out.sent += r.packetsSent || 0;
      } else if (r.type === 'media-source') {
        out.micLevel = Math.max(out.micLevel, r.audioLevel || 0);
      }
    });
    return out;
  }, which);
}

// Which of `freqs` (Hz) the page's call is hearing: the remote audio track through a Web Audio
// analyser, sampled every 50 ms for `ms`. Returns { [freq]: dB relative to the loudest bin of the
// spectrum }, the best reading of the bins next to each frequency: 0 for the loudest tone, a few
// dB below for another tone as loud, -50 dB or lower for a tone that is not there (G.711
// quantisation noise).
async function toneLevels(page, which, freqs, ms = 2000) {
  return page.evaluate(
    async ([w, fs, dur]) => {
      const session = w === 'console' ? window.softphone.session : window.sb.session;
      const receiver = session.connection.getReceivers().find((r) => r.track && r.track.kind === 'audio');
      const stream = new MediaStream([receiver.track]);
      // Chromium pulls a remote WebRTC track into Web Audio only while a media element plays it.
      const el = new Audio();
      el.muted = true;
      el.srcObject = stream;
      await el.play().catch(() => {});
      const ctx = new AudioContext();
      const analyser = ctx.createAnalyser();
      analyser.fftSize = 8192;
      analyser.smoothingTimeConstant = 0;
      ctx.createMediaStreamSource(stream).connect(analyser);
      const bins = new Float32Array(analyser.frequencyBinCount);
      const hzPerBin = ctx.sampleRate / analyser.fftSize;
      const best = Object.fromEntries(fs.map((f) => [f, -Infinity]));
      const end = Date.now() + dur;
      while (Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
        analyser.getFloatFrequencyData(bins);
        const loudest = Math.max(...Array.from(bins).filter(Number.isFinite));
        if (!Number.isFinite(loudest)) continue;
        for (const f of fs) {
          const i = Math.round(f / hzPerBin);
          const peak = Math.max(bins[i - 1], bins[i], bins[i + 1]);
          if (Number.isFinite(peak)) best[f] = Math.max(best[f], peak - loudest);
        }
      }
      await ctx.close();
      el.srcObject = null;
      return best;
    },
    [which, freqs, ms],
  );
}

// Polls `audioStats` until `pred` holds; fails with the last stats after `ms`.
async function audioUntil(page, which, pred, what, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await audioStats(page, which);
    if (pred(last)) return last;
    await page.waitForTimeout(200);
  }
  throw new Error(`${what}: audio stats ${JSON.stringify(last)}`);
}

class Phone {
  constructor(page) {
    this.page = page;
  }

  // The events so far, oldest first.
  async events() {
    return this.page.evaluate(() => window.sb.events);
  }

  // Waits for the `nth` (1-based, counting from the start) event called `name`, or for any of
  // `orNames` (a failure), whichever comes first. Returns the event.
  async waitFor(name, { orNames = [], nth = 1, timeoutMs = 15000 } = {}) {
    const handle = await this.page.waitForFunction(
      ([want, others, n]) => {
        const seen = window.sb.events.filter((e) => e.name === want);
        if (seen.length >= n) return seen[n - 1];
        return window.sb.events.find((e) => others.includes(e.name)) || null;
      },
      [name, orNames, nth],
      { timeout: timeoutMs, polling: 50 },
    );
    return handle.jsonValue();
  }

  // Registers and resolves with 'registered' or the registrationFailed event.
  async register(opts) {
    await this.page.evaluate((o) => window.sb.register(o), opts);
    return this.waitFor('registered', { orNames: ['registrationFailed'] });
  }

  async unregister() {
    await this.page.evaluate(() => window.sb.unregister());
    return this.waitFor('unregistered');
  }

  async answer() {
    await this.page.evaluate(() => window.sb.answer());
  }

  async hangup() {
    await this.page.evaluate(() => window.sb.hangup());
  }

  async call(target) {
    await this.page.evaluate((t) => window.sb.call(t), target);
  }

  async hold() {
    return this.page.evaluate(() => window.sb.hold());
  }

  async unhold() {
    return this.page.evaluate(() => window.sb.unhold());
  }

  async mute() {
    await this.page.evaluate(() => window.sb.mute());
  }

  async unmute() {
    await this.page.evaluate(() => window.sb.unmute());
  }

  async dtmf(tones) {
    await this.page.evaluate((t) => window.sb.dtmf(t), tones);
  }

  // Blind transfer of the current call; resolves with 'accepted' (NOTIFY 200) or 'failed …'.
  async refer(target) {
    return this.page.evaluate((t) => window.sb.refer(t), target);
  }

  async audioStats() {
    return audioStats(this.page);
  }

  async audioUntil(pred, what, ms = 10000) {
    return audioUntil(this.page, 'harness', pred, what, ms);
  }
}

// Opens a page on `url` (an http://127.0.0.1 page is a secure context, which getUserMedia
// needs), loads JsSIP from node_modules and the helpers above.
async function openPhone(browser, url) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`page error: ${e.message}`));
  // PAGE_DEBUG=1 shows JsSIP's own log (SIP messages, SDP) on the test's output.
  if (process.env.PAGE_DEBUG) page.on('console', (m) => console.log(`page: ${m.text()}`));
  await page.goto(url);
  await page.addScriptTag({ content: jssip() });
  await page.evaluate(pageHelpers);
  if (process.env.PAGE_DEBUG) await page.evaluate(() => JsSIP.debug.enable('JsSIP:*'));
  return new Phone(page);
}

module.exports = {
  launch, launchKillable, openPhone, toneWav, chromiumArgs, audioStats, audioUntil, toneLevels, freeMediaPort, freePort,
  Phone,
};
