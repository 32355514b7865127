// Browser softphone calls against the real server (issue 6, acceptance 1, 2, 3 and the mid-call
// part of 6). Run by tests/e2e/softphone_calls.sh, which starts the server and passes:
// HTTP_PORT, SIP_PORT, DOMAIN, PASSWORD, TOKEN (a supervisor's), WORK, SCEN (SIPp scenarios),
// RTP_TOOLS (tests/e2e/lib/rtp_tools.py). Agents 1001 and 1002 are browsers (their fake
// microphones play 1000 Hz and 440 Hz), 1003 is a SIPp phone; SIPp callers play 440 Hz.
'use strict';

const assert = require('assert/strict');
const fs = require('fs');
const { spawnSync } = require('child_process');
const sp = require('./lib/softphone');
const cs = require('./lib/console');

const { HTTP_PORT, SIP_PORT, DOMAIN, PASSWORD, TOKEN, WORK, SCEN, RTP_TOOLS } = process.env;
const { sipp, capture, rtpTool, heardAt, freePort } = require('./lib/peers')({ SIP_PORT, WORK, SCEN, RTP_TOOLS });
const BASE = `http://127.0.0.1:${HTTP_PORT}`;
const WS_URL = `ws://127.0.0.1:${HTTP_PORT}/sip`;

const step = (s) => console.log(`== ${s}`);

// The RFC 4733 events (event codes) and the silent PCMU packets sent to `port` in `file`.
function eventsAndSilenceAt(file, port) {
  const code = `
import importlib.util, sys
spec = importlib.util.spec_from_file_location("rtp_tools", sys.argv[1])
t = importlib.util.module_from_spec(spec); spec.loader.exec_module(t)
events, silent = set(), 0
for dst, p in t.read_pcap(sys.argv[2]):
    if dst != int(sys.argv[3]) or len(p) < 13:
        continue
    pt = p[1] & 0x7F
    if pt == 101 and len(p) >= 16:
        events.add(p[12])
    elif pt == 0 and all(t.ulaw_decode(b) == 0 or abs(t.ulaw_decode(b)) < 64 for b in p[12:]):
        silent += 1
print(",".join(str(e) for e in sorted(events)), silent)
`;
  const r = spawnSync('python3', ['-c', code, RTP_TOOLS, file, `${port}`], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [events, silent] = r.stdout.trim().split(' ');
  return { events: events ? events.split(',').map(Number) : [], silent: Number(silent) };
}

async function api(path) {
  const r = await fetch(`${BASE}/api/v1${path}`, { headers: { Authorization: `Bearer ${TOKEN}` } });
  assert.equal(r.status, 200, `GET ${path}`);
  return r;
}

// The newest call record with `number` as caller or callee, once `pred` holds (the records
// writer is asynchronous).
async function callRecord(number, pred, what) {
  const end = Date.now() + 10000;
  let call;
  while (Date.now() < end) {
    const body = await (await api(`/calls?number=${encodeURIComponent(number)}&limit=1`)).json();
    call = (body.items || body)[0];
    if (call && pred(call)) return call;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`${what}: newest call of ${number} is ${JSON.stringify(call)}`);
}

// Downloads a call's recording and returns per channel { rms, hz } (left = caller).
async function recordingChannels(call) {
  const end = Date.now() + 10000;
  let rec;
  while (Date.now() < end) {
    rec = await (await api(`/recordings/${call.recording_id}`)).json();
    if (rec.state === undefined || rec.state === 'ready' || rec.sha256) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const file = `${WORK}/${call.id}.wav`;
  fs.writeFileSync(file, Buffer.from(await (await api(`/recordings/${call.recording_id}/audio`)).arrayBuffer()));
  return rtpTool('wav-check', file)
    .split('\n')
    .map((l) => l.split(' ').map(Number))
    .map(([rms, hz]) => ({ rms, hz }));
}

async function phoneFor(browser, user) {
  const phone = await sp.openPhone(browser, `${BASE}/healthz`);
  const got = await phone.register({ ws: WS_URL, user, domain: DOMAIN, password: PASSWORD });
  assert.equal(got.name, 'registered', `${user} registers: ${JSON.stringify(got)}`);
  return phone;
}

const hasAudio = (s) => s.received > 20 && s.receivedLevel > 0.01;

async function main() {
  const browserA = await cs.launch({ wav: sp.toneWav(`${WORK}/a-1000.wav`, 1000, 10) });
  const browserB = await sp.launch({ wav: sp.toneWav(`${WORK}/b-440.wav`, 440, 10) });
  try {
    step('agent1 signs in to the console; a SIPp caller (440 Hz from a pcap) calls 1001; Answer in the page: audio both ways, recorded');
    {
      const page = await cs.openConsole(browserA, BASE);
      await cs.login(page, { username: 'agent1', password: PASSWORD });
      await cs.waitRegistered(page);
      const callerMedia = await sp.freeMediaPort();
      const cap = await capture(`${WORK}/a1.pcap`, [callerMedia]);
      const caller = sipp('answer', 'uac_call.xml', '1001', { mediaPort: callerMedia, args: ['-d', '4000'] });
      const ring = await cs.waitRinging(page);
      assert.equal(ring.number, '+8613800138000', 'the ringing panel shows the caller');
      await cs.answer(page);
      await cs.waitInCall(page);
      const stats = await sp.audioUntil(page, 'console', hasAudio, 'the browser hears the caller');
      console.log(`   browser: ${stats.received} packets received, level ${stats.receivedLevel.toFixed(3)}, ${stats.sent} sent`);
      assert.equal(await caller, 0, 'the SIPp call completes');
      await cs.waitIdle(page);
      await cap.stop();
      const heard = heardAt(`${WORK}/a1.pcap`, callerMedia);
      console.log(`   SIPp caller received ${heard.packets} packets, tone ${heard.hz} Hz`);
      assert.ok(heard.packets > 50, 'SIPp receives RTP from the browser');
      assert.equal(heard.hz, 1000, "SIPp hears the browser's microphone (1000 Hz)");
      const call = await callRecord('1001', (c) => c.state === 'ended' && c.recording_id, 'CDR');
      assert.equal(call.end_cause, 'normal-clearing');
      assert.ok(call.talk_ms > 2000, `talk time ${call.talk_ms} ms`);
      const [left, right] = await recordingChannels(call);
      console.log(`   recording: left ${JSON.stringify(left)}, right ${JSON.stringify(right)}`);
      assert.equal(left.hz, 440, 'left channel: the caller');
      assert.equal(right.hz, 1000, 'right channel: the browser agent');
      assert.deepEqual(page.errors, [], 'no page errors');
      // The console's phone goes with its page; the harness phones take over 1001 below.
      await page.context().close();
      await registrationsUntil((list) => !list.includes(`sip:1001@${DOMAIN}`), 'the console unregistered');
    }

    const alice = await phoneFor(browserA, '1001');
    const bob = await phoneFor(browserB, '1002');

    step('browser 1001 calls browser 1002: audio both ways; 1001 hangs up, both legs end, CDR written');
    {
      await alice.call(`sip:1002@${DOMAIN}`);
      const ring = await bob.waitFor('newRTCSession', { nth: 1 });
      assert.equal(ring.detail.from, '1001', 'the callee sees the caller extension');
      await bob.answer();
      await bob.waitFor('confirmed', { nth: 1, orNames: ['failed'] });
      await alice.waitFor('confirmed', { nth: 1, orNames: ['failed'] });
      const a = await alice.audioUntil(hasAudio, '1001 hears 1002');
      const b = await bob.audioUntil(hasAudio, '1002 hears 1001');
      console.log(`   1001 got ${a.received} packets (level ${a.receivedLevel.toFixed(3)}), 1002 got ${b.received} (level ${b.receivedLevel.toFixed(3)})`);
      await new Promise((r) => setTimeout(r, 1500));
      await alice.hangup();
      const ended = await bob.waitFor('ended', { nth: 1, orNames: ['failed'] });
      assert.equal(ended.name, 'ended', "1002's leg ends when 1001 hangs up");
      const call = await callRecord('1002', (c) => c.state === 'ended', 'CDR of the browser call');
      assert.equal(call.end_cause, 'normal-clearing');
      assert.equal(call.hangup_by, 'caller');
      assert.equal(call.direction, 'internal');
      const [left, right] = await recordingChannels(call);
      console.log(`   recording: left ${JSON.stringify(left)}, right ${JSON.stringify(right)}`);
      assert.equal(left.hz, 1000, 'left channel: 1001');
      assert.equal(right.hz, 440, 'right channel: 1002');
    }

    step('the same the other way: 1002 hangs up the call 1001 placed');
    {
      await alice.call(`sip:1002@${DOMAIN}`);
      await bob.waitFor('newRTCSession', { nth: 2 });
      await bob.answer();
      await alice.waitFor('confirmed', { nth: 2, orNames: ['failed'] });
      await bob.hangup();
      const ended = await alice.waitFor('ended', { nth: 2, orNames: ['failed'] });
      assert.equal(ended.name, 'ended');
      const call = await callRecord('1002', (c) => c.state === 'ended' && c.hangup_by === 'callee', 'CDR');
      assert.equal(call.end_cause, 'normal-clearing');
    }

    step('hold/resume, mute, RFC 4733 DTMF and blind transfer from the page, against SIPp');
    {
      const phone1003 = await freePort();
      const reg = await sipp('register-1003', 'register.xml', '1003', {
        port: phone1003, args: ['-au', '1003', '-ap', PASSWORD, '-set', 'expires', '300', '-set', 'domain', DOMAIN],
      });
      assert.equal(reg, 0, 'SIPp registers 1003');
      const callerMedia = await sp.freeMediaPort();
      const cap = await capture(`${WORK}/a3.pcap`, [callerMedia]);
      const target = sipp('transfer-target', 'uas_answer.xml', '1003', { port: phone1003 });
      const dtmfBefore = await metric('switchboard_dtmf_events_total');
      const caller = sipp('held', 'uac_held.xml', '1001', { mediaPort: callerMedia, args: ['-d', '9000'] });
      await alice.waitFor('newRTCSession', { nth: 3 });
      await alice.answer();
      await alice.waitFor('confirmed', { nth: 3, orNames: ['failed'] });
      await alice.audioUntil(hasAudio, 'the browser hears the caller');

      assert.equal(await alice.hold(), true, 'hold: the re-INVITE (sendonly) succeeds');
      await alice.waitFor('hold', { nth: 1 });
      assert.equal(await alice.unhold(), true, 'resume: the re-INVITE (sendrecv) succeeds');
      await alice.waitFor('unhold', { nth: 1 });

      await alice.mute();
      await alice.waitFor('muted', { nth: 1 });
      await alice.audioUntil((s) => s.micLevel === 0, 'muted: the page sends silence');
      await new Promise((r) => setTimeout(r, 1500));
      await alice.unmute();
      await alice.waitFor('unmuted', { nth: 1 });
      await alice.audioUntil((s) => s.micLevel > 0.01, 'unmuted: the microphone is heard again');

      await alice.dtmf('123');
      await new Promise((r) => setTimeout(r, 1500));
      const referred = await alice.refer(`sip:1003@${DOMAIN}`);
      assert.equal(referred, 'accepted', 'the transfer is accepted (NOTIFY 200)');
      const ended = await alice.waitFor('ended', { nth: 3, orNames: ['failed'] });
      assert.equal(ended.name, 'ended', "the browser's leg ends after the transfer");
      assert.equal(await caller, 0, 'the caller saw sendonly then sendrecv re-INVITEs and hung up normally');
      assert.equal(await target, 0, 'the transfer target 1003 got the call and the BYE');
      await cap.stop();
      const got = eventsAndSilenceAt(`${WORK}/a3.pcap`, callerMedia);
      console.log(`   the caller got DTMF events ${JSON.stringify(got.events)} and ${got.silent} silent packets`);
      assert.deepEqual(got.events, [1, 2, 3], 'the keys 1, 2, 3 reach the SIPp caller as RFC 4733 events');
      assert.ok(got.silent >= 50, 'a second or more of silence reaches the caller while muted');
      const dtmfAfter = await metric('switchboard_dtmf_events_total');
      assert.ok(dtmfAfter - dtmfBefore >= 3, `the server decoded the keys (${dtmfBefore} → ${dtmfAfter})`);
      const call = await callRecord('1001', (c) => c.state === 'ended', 'CDR of the transferred call');
      assert.equal(call.end_cause, 'normal-clearing');
    }

    step('a browser that closes mid-call: the call ends at once (BYE to the caller), no stuck call');
    {
      const caller = sipp('closed', 'uac_wait_bye.xml', '1002', {});
      await bob.waitFor('newRTCSession', { nth: 3 });
      await bob.answer();
      await bob.waitFor('confirmed', { nth: 3, orNames: ['failed'] });
      await bob.page.context().close();
      assert.equal(await caller, 0, 'the caller gets BYE when the agent closes the page');
      const call = await callRecord('1002', (c) => c.state === 'ended', 'CDR of the closed call');
      console.log(`   CDR: ${call.end_cause} by ${call.hangup_by}`);
      assert.equal(call.end_cause, 'transport-closed', "the CDR says the agent's connection went");
      await waitPortsFree();
    }
  } finally {
    await browserA.close();
    await browserB.close();
  }
}

// The AORs registered now (from GET /registrations), once `pred` holds.
async function registrationsUntil(pred, what) {
  const end = Date.now() + 10000;
  let list;
  while (Date.now() < end) {
    list = (await (await api('/registrations')).json()).map((b) => b.aor);
    if (pred(list)) return list;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what}: registrations are ${JSON.stringify(list)}`);
}

async function metric(name) {
  const text = await (await fetch(`${BASE}/metrics`)).text();
  const m = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\d+)`, 'm'));
  return m ? Number(m[1]) : 0;
}

async function waitPortsFree() {
  const end = Date.now() + 15000;
  let inUse;
  while (Date.now() < end) {
    inUse = await metric('switchboard_rtp_port_pairs_in_use');
    if (inUse === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`RTP ports still in use: ${inUse}`);
}

main().then(
  () => console.log('softphone calls: ok'),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
