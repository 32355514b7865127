// The agent console at / against the real server, in headless Chromium (issue 6: the console,
// acceptance 4 and 5). Run by tests/e2e/console.sh, which starts the server and passes:
// HTTP_PORT, SIP_PORT, DOMAIN, PASSWORD (every test user's), TOKEN (a supervisor's), WORK (the
// server's working directory), SCEN (the SIPp scenarios), BIN and SERVER_PID (to stop the server
// and start another), SHOTS (where the screenshots go).
'use strict';

const assert = require('assert/strict');
const dgram = require('dgram');
const fs = require('fs');
const { spawn } = require('child_process');
const cs = require('./lib/console');
const sp = require('./lib/softphone');
const { apiClient, until, sippRunner } = require('./lib/api');

const { HTTP_PORT, SIP_PORT, PASSWORD, TOKEN, WORK, SCEN, SHOTS } = process.env;
const BASE = `http://127.0.0.1:${HTTP_PORT}`;
const CALLER = '+8613800138000'; // the caller number of the SIPp scenarios
const NEW_NUMBER = '+8613900002468';

const step = (s) => console.log(`== ${s}`);

const api = apiClient(BASE, TOKEN);
// SIPp callers dial extension 1001 unless told otherwise.
const sipp = sippRunner({ WORK, SIP_PORT, defaultTo: '1001' });

// A caller that must end with final response `code` (after ringing as long as it takes).
function expecting(code) {
  const file = `${WORK}/uac_expect_${code}.xml`;
  fs.writeFileSync(file, fs.readFileSync(`${SCEN}/uac_expect.xml.in`, 'utf8').replaceAll('@CODE@', `${code}`));
  return file;
}

// A caller who hangs up (CANCEL) after ringing `ms`.
function cancellingAfter(ms) {
  const file = `${WORK}/uac_cancel_${ms}.xml`;
  const text = fs.readFileSync(`${SCEN}/uac_cancel.xml`, 'utf8');
  assert.match(text, /<pause milliseconds="300"\/>/);
  fs.writeFileSync(file, text.replace('<pause milliseconds="300"/>', `<pause milliseconds="${ms}"/>`));
  return file;
}

// agent1's state as the call control reports it (the supervisor's live view).
async function liveState(userId) {
  const live = await api('GET', '/queues/live');
  const me = live.agents.find((a) => a.agent === userId);
  return me ? me.status : null;
}

// Resolves once something (a SIPp phone starting up) listens on UDP `port`.
async function udpBound(port, ms = 10000) {
  const end = Date.now() + ms;
  for (;;) {
    const taken = await new Promise((resolve) => {
      const probe = dgram.createSocket('udp4');
      probe.once('error', () => resolve(true));
      probe.bind(port, '127.0.0.1', () => probe.close(() => resolve(false)));
    });
    if (taken) return;
    assert.ok(Date.now() < end, `nothing listens on UDP ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function startServer() {
  const log = fs.openSync(`${WORK}/serve.log`, 'a');
  const child = spawn(process.env.BIN, ['serve'], { cwd: WORK, stdio: ['ignore', log, log] });
  return child;
}

async function main() {
  const wav = cs.toneWav(`${WORK}/console-mic.wav`, 440, 5);
  const browser = await cs.launch({ wav });
  let restarted = null;
  try {
    step('seed: a key customer with a note for the SIPp caller number');
    const customer = await api('POST', '/customers', {
      name: '张伟',
      phones: [{ phone: CALLER }],
      grade: 'A',
      key_customer: true,
      category: 'customer',
    });
    await api('POST', `/customers/${customer.id}/notes`, { text: 'Asked for the spring catalogue; 回访 on Friday' });
    const agent1 = (await api('GET', '/users')).find((u) => u.username === 'agent1');
    assert.ok(agent1, 'agent1 exists');
    step('seed: a hand-over (交接班) from the last shift naming that customer');
    // The shift is named: left out, the server takes the shift ending now, and with the default
    // shifts (08:00-24:00 Asia/Shanghai) none is between 03:00 and 08:00 there (19:00-24:00 UTC).
    const handover = await api('POST', '/handovers', {
      shift: 'night',
      note: 'Busy morning; two things for the next shift.',
      items: [
        { customer_id: customer.id, kind: 'urgent', what: 'Call back about the delayed delivery before noon' },
        { customer_id: customer.id, kind: 'prospect', what: 'Interested in the annual plan' },
      ],
    });

    step('the page is served with its assets (no build step): JsSIP loads, strings in English for en-US');
    const page = await cs.openConsole(browser, BASE, { locale: 'en-US' });
    assert.equal(await page.evaluate(() => typeof JsSIP.UA), 'function');
    assert.equal(await page.locator('#login-form h1').innerText(), 'Sign in to your console');

    step('a wrong password is refused in words; five failures lock the account out (429 shown)');
    let r = await cs.submitLogin(page, { username: 'locky', password: 'wrong-horse' });
    assert.equal(r.view, 'login');
    assert.match(r.error, /Wrong organisation, username or password/);
    for (let i = 0; i < 6 && !/Too many/.test(r.error); i++) {
      r = await cs.submitLogin(page, { username: 'locky', password: 'wrong-horse' });
    }
    assert.match(r.error, /Too many failed attempts\. Wait \d+ seconds/);

    step('agent1 signs in: the softphone registers as extension 1001');
    await cs.login(page, { username: 'agent1', password: PASSWORD });
    assert.equal(await cs.waitRegistered(page), 'Ready to take calls');
    assert.equal(await page.locator('[data-testid=who-ext]').innerText(), 'Ext. 1001');
    assert.equal(await page.locator('[data-testid=who-name]').innerText(), '王小明');
    assert.equal(await page.locator('[data-testid=btn-call]').isDisabled(), false, 'Call works once registered');
    const regs = await api('GET', '/registrations');
    assert.deepEqual(regs.map((b) => `${b.aor} ${b.source.split(':')[0]}`), [`sip:1001@${process.env.DOMAIN} ws`]);

    step('state buttons: ready, then not ready (lunch) — the call control has each');
    await cs.setState(page, 'ready');
    await until(async () => (await liveState(agent1.id))?.status === 'ready', 'agent1 ready in the call control');
    assert.equal(await cs.waitState(page, 'ready'), 'Ready');
    await cs.setState(page, 'not_ready', 'lunch');
    await until(async () => {
      const s = await liveState(agent1.id);
      return s && s.status === 'not_ready' && s.reason === 'lunch';
    }, 'agent1 not ready (lunch) in the call control');
    assert.equal(await cs.waitState(page, 'not_ready'), 'Not ready · Lunch');
    assert.equal(await page.locator('[data-testid=btn-wrap-up-done]').isDisabled(), true, 'no wrap-up to end');
    await cs.setState(page, 'ready');
    await cs.waitState(page, 'ready');

    step('the hand-over inbox lists what the last shift passed on, with the customer’s name');
    await page.waitForSelector(`[data-testid=handover-list] li.handover[data-id="${handover.id}"]`);
    const inbox = await page.locator('[data-testid=handover-list]').innerText();
    assert.match(inbox, /Urgent\s+张伟: Call back about the delayed delivery before noon/);
    assert.match(inbox, /Prospect\s+张伟: Interested in the annual plan/);
    await cs.screenshot(page, SHOTS, 'console-idle-en');

    step('a SIPp caller rings 1001: caller number and customer file (name, grade, key flag, last note)');
    let caller = sipp('decline-en', expecting(486));
    let ring = await cs.waitRinging(page);
    assert.equal(ring.number, CALLER);
    assert.equal(ring.customer, 'found');
    assert.equal(ring.name, '张伟');
    assert.equal(ring.grade, 'A');
    assert.equal(ring.key, true, 'key-customer badge shown');
    assert.equal(ring.category, 'Customer');
    assert.deepEqual(ring.notes, ['Asked for the spring catalogue; 回访 on Friday']);
    await cs.screenshot(page, SHOTS, 'console-ringing-en');

    step('Decline: the caller gets 486, the page is idle again and says so');
    await cs.decline(page);
    assert.equal(await caller, 0, 'the caller got 486 Busy Here');
    assert.match(await cs.waitIdle(page), /^Call ended: /);

    step('a caller who hangs up while it rings: the page goes idle ("the caller hung up")');
    caller = sipp('cancel', cancellingAfter(1500));
    await cs.waitRinging(page);
    assert.equal(await caller, 0, 'the caller heard 180, then 487 after its CANCEL');
    assert.equal(await cs.waitIdle(page), 'Call ended: the caller hung up');

    step('Answer in the page: the call connects, the customer file stays, audio arrives (WebRTC stats)');
    caller = sipp('answer', `${SCEN}/uac_talk_until_bye.xml`);
    ring = await cs.waitRinging(page);
    assert.equal(ring.name, '张伟');
    await cs.answer(page);
    await cs.waitInCall(page);
    assert.equal(await page.locator('[data-testid=call-number]').innerText(), CALLER);
    assert.equal(await page.locator('[data-testid=call-name]').innerText(), 'Caller', "the caller's display name");
    assert.equal(await page.locator('[data-testid=cust-name]').innerText(), '张伟', 'the file stays on screen');
    const inbound = await until(
      () =>
        page.evaluate(async () => {
          const stats = await window.softphone.session.connection.getStats();
          const rtp = [...stats.values()].find((r) => r.type === 'inbound-rtp' && r.kind === 'audio');
          return rtp && rtp.packetsReceived > 0 ? rtp.packetsReceived : null;
        }),
      'the browser receives the caller’s audio',
    );
    assert.ok(inbound > 0);
    await page.waitForFunction(() => document.getElementById('call-timer').textContent !== '00:00', null, {
      timeout: 5000,
    });
    await cs.screenshot(page, SHOTS, 'console-incall-en');
    await cs.setLanguage(page, 'zh-CN');
    assert.equal(await page.locator('[data-testid=btn-hangup]').innerText(), '挂断');
    assert.equal(await page.locator('[data-testid=btn-hold]').innerText(), '保持');
    await cs.screenshot(page, SHOTS, 'console-incall-zh-CN');
    await cs.setLanguage(page, 'en');
    await cs.hangup(page);
    assert.equal(await caller, 0, 'the caller got our BYE');
    assert.equal(await cs.waitIdle(page), 'Call ended: hung up');

    step('queue wait alert: a caller waits in sales (alert after 1 s) while agent1 is on a break');
    await api('POST', '/queues', { id: 'sales', name: 'Sales', number: '4000', config: { wait_alert: 1 } });
    await api('PUT', `/queues/sales/members/${agent1.id}`, {});
    await until(async () => {
      const live = await api('GET', '/queues/live');
      return live.queues.some((q) => q.queue.endsWith('/sales') && q.members === 1);
    }, 'the call control picked up queue sales', 15000);
    await cs.setState(page, 'not_ready', 'break');
    await cs.waitState(page, 'not_ready');
    assert.equal(await page.locator('[data-testid=wait-alert]').isVisible(), false);
    caller = sipp('queue-wait', `${SCEN}/uac_call.xml`, { to: '4000', extra: ['-d', '6000'] });
    await page.waitForSelector('[data-testid=wait-alert]:not([hidden])', { timeout: 10000 });
    assert.match(
      await page.locator('[data-testid=wait-alert]').innerText(),
      /^Callers are waiting too long in sales \(\d+ s\)\. Take a call as soon as you can\.$/,
    );
    assert.equal(await caller, 0, 'the waiting caller hung up after 6 s');
    await page.waitForSelector('[data-testid=wait-alert]', { state: 'hidden', timeout: 10000 });
    await cs.setState(page, 'ready');
    await cs.waitState(page, 'ready');

    step('a queue call: offered to agent1 (ringing), answered (on a call), hung up: wrap-up, End wrap-up → ready');
    caller = sipp('queue-call', `${SCEN}/uac_talk_until_bye.xml`, { to: '4000' });
    await cs.waitRinging(page);
    await cs.waitState(page, 'ringing');
    await cs.answer(page);
    await cs.waitInCall(page);
    await until(async () => (await liveState(agent1.id))?.status === 'on_call', 'agent1 on a call');
    await cs.hangup(page);
    assert.equal(await caller, 0, 'the queue caller got our BYE');
    await cs.waitIdle(page);
    assert.equal(await cs.waitState(page, 'wrap_up'), 'Wrap-up');
    assert.equal(await page.locator('#state-help').innerText(), 'Finish your call note, then press End wrap-up.');
    assert.equal(await page.locator('[data-testid=btn-wrap-up-done]').isDisabled(), false);
    await cs.setState(page, 'wrap_up_done');
    await until(async () => (await liveState(agent1.id))?.status === 'ready', 'agent1 ready after ending wrap-up');
    await cs.waitState(page, 'ready');

    step('click-to-call: agent1 dials 1003 (a SIPp desk phone) from the dial pad; the call connects');
    const deskPort = await sp.freePort();
    assert.equal(
      await sipp('desk-register', `${SCEN}/register.xml`, {
        to: '1003',
        extra: ['-au', '1003', '-ap', PASSWORD, '-set', 'expires', '300', '-set', 'domain', process.env.DOMAIN],
        port: deskPort,
      }),
      0,
      'the desk phone 1003 registers',
    );
    const desk = sipp('desk-answer', `${SCEN}/uas_answer.xml`, { to: '1003', port: deskPort });
    await udpBound(deskPort);
    await page.click('[data-testid=dial-pad] [data-digit="1"]');
    await page.fill('[data-testid=dial-number]', '1003');
    await page.click('[data-testid=btn-call]');
    await cs.waitInCall(page);
    assert.equal(await page.locator('[data-testid=call-number]').innerText(), '1003');
    await page.waitForFunction(() => document.getElementById('call-timer').textContent !== '00:00', null, {
      timeout: 5000,
    });
    assert.match(await page.locator('[data-testid=call-timer]').innerText(), /^00:0[1-9]$/);

    step('in call: mute and unmute (JsSIP agrees), a DTMF key from the keypad');
    await page.click('[data-testid=btn-mute]');
    await page.waitForSelector('#flag-mute:not([hidden])');
    assert.equal(await page.evaluate(() => window.softphone.session.isMuted().audio), true);
    assert.equal(await page.locator('[data-testid=btn-mute]').innerText(), 'Unmute');
    await page.click('[data-testid=btn-mute]');
    await page.waitForSelector('#flag-mute', { state: 'hidden' });
    await page.click('[data-testid=btn-keypad]');
    await page.click('[data-testid=dtmf-pad] [data-digit="5"]');
    assert.equal(await page.locator('[data-testid=call-info]').innerText(), 'Sent 5');
    await page.click('[data-testid=btn-keypad]');

    step('Hang up: the desk phone gets BYE, the page is idle');
    await cs.hangup(page);
    assert.equal(await desk, 0, 'the desk phone answered and got our BYE');
    assert.equal(await cs.waitIdle(page), 'Call ended: hung up');

    step('Hold / Resume and blind Transfer from the page buttons (a held caller, transferred to 1003)');
    const target = sipp('transfer-target', `${SCEN}/uas_answer.xml`, { to: '1003', port: deskPort });
    await udpBound(deskPort);
    caller = sipp('held', `${SCEN}/uac_held.xml`, { extra: ['-d', '8000'] });
    await cs.waitRinging(page);
    await cs.answer(page);
    await cs.waitInCall(page);
    await page.click('[data-testid=btn-hold]');
    await page.waitForSelector('#flag-hold:not([hidden])');
    assert.equal(await page.locator('[data-testid=btn-hold]').innerText(), 'Resume');
    assert.equal(await page.evaluate(() => window.softphone.session.isOnHold().local), true);
    await page.click('[data-testid=btn-hold]');
    await page.waitForSelector('#flag-hold', { state: 'hidden' });
    assert.equal(await page.evaluate(() => window.softphone.session.isOnHold().local), false);
    await page.click('[data-testid=btn-transfer]');
    await page.fill('[data-testid=transfer-number]', '1003');
    await page.click('[data-testid=btn-transfer-now]');
    assert.equal(await page.locator('[data-testid=call-info]').innerText(), 'Transferring to 1003…');
    await cs.waitIdle(page);
    assert.equal(await caller, 0, 'the caller saw sendonly then sendrecv re-INVITEs and hung up normally');
    assert.equal(await target, 0, '1003 took the transferred call and got its BYE');

    step('after-call note: prefilled with the caller number, saved into the customer file (acceptance 4)');
    assert.equal(await page.locator('[data-testid=note-phone]').inputValue(), CALLER);
    const note = 'Wants the catalogue by post; 回访 next Tuesday';
    let saved = await cs.saveNote(page, { text: note });
    assert.equal(saved.result, 'note_saved', saved.text);
    assert.equal(saved.text, 'Saved to the customer’s file.');
    const record = await api('GET', `/customers/lookup?phone=${encodeURIComponent(CALLER)}`);
    assert.equal(record.matches.length, 1);
    assert.equal(record.matches[0].last_notes[0].text, note, 'the note is the newest on the file');
    assert.equal(record.matches[0].last_notes[0].agent_id, agent1.id, 'written by agent1');

    step('a note for a new number creates a potential customer');
    saved = await cs.saveNote(page, { phone: NEW_NUMBER, text: 'Asked about prices, no purchase yet' });
    assert.equal(saved.result, 'note_saved_new', saved.text);
    const fresh = await api('GET', `/customers/lookup?phone=${encodeURIComponent(NEW_NUMBER)}`);
    assert.equal(fresh.matches.length, 1);
    assert.equal(fresh.matches[0].category, 'potential');
    assert.equal(fresh.matches[0].last_notes[0].text, 'Asked about prices, no purchase yet');
    saved = await cs.saveNote(page, { phone: '13900002468', text: 'x' });
    assert.equal(saved.result, 'error', 'a number without country code is refused before sending');
    assert.match(saved.text, /international form/);
    await page.fill('[data-testid=note-phone]', '');
    await page.fill('[data-testid=note-text]', '');

    step('language switch: every visible string changes to Chinese, kept across a reload');
    // The transferred call ended a moment ago: the page shows Ready at its next poll of the call
    // control (every 2 s), which the note steps above can outrun.
    await cs.waitState(page, 'ready');
    const [enKeys, zhKeys] = await page.evaluate(() => [Object.keys(I18N.en).sort(), Object.keys(I18N['zh-CN']).sort()]);
    assert.deepEqual(zhKeys, enKeys, 'both languages have every string');
    const english = await cs.visibleStrings(page);
    await cs.setLanguage(page, 'zh-CN');
    assert.equal(await page.locator('[data-testid=btn-ready]').innerText(), '就绪');
    assert.equal(await page.locator('#reg-text').innerText(), '可以接听电话');
    assert.equal(await page.locator('#state-text').innerText(), '就绪');
    assert.equal(await page.locator('#handover-card h2').innerText(), '交接班收件箱');
    assert.equal(await page.locator('[data-testid=phone-last]').innerText(), '通话结束：已挂断', 'the last call line too');
    const chinese = await cs.visibleStrings(page);
    const same = english.filter((s, i) => s && s === chinese[i] && !/^[\dA-Z#*]+$|^Switchboard$/.test(s));
    assert.deepEqual(same, [], 'no visible string left untranslated');
    await cs.screenshot(page, SHOTS, 'console-idle-zh-CN');

    step('zh-CN ringing screenshot, then decline');
    caller = sipp('decline-zh', expecting(486));
    ring = await cs.waitRinging(page);
    assert.equal(ring.category, '客户');
    assert.equal(await page.locator('[data-testid=btn-answer]').innerText(), '接听');
    await cs.screenshot(page, SHOTS, 'console-ringing-zh-CN');
    await cs.decline(page);
    assert.equal(await caller, 0);
    await cs.waitIdle(page);

    step('Mark as read empties the inbox, for the server too');
    await page.click(`li.handover[data-id="${handover.id}"] [data-testid=handover-read]`);
    await page.waitForSelector('#handover-empty:not([hidden])');
    const agentLogin = await (await fetch(`${BASE}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'agent1', password: PASSWORD }),
    })).json();
    const unread = await (await fetch(`${BASE}/api/v1/handovers?unread=true`, {
      headers: { Authorization: `Bearer ${agentLogin.token}` },
    })).json();
    assert.deepEqual(unread, [], "agent1's inbox is empty on the server");

    step('the language choice survives a reload (localStorage); sign in again');
    await page.reload();
    await page.waitForSelector('#login-form');
    assert.equal(await page.locator('#login-form h1').innerText(), '登录坐席工作台');
    await cs.login(page, { username: 'agent1', password: PASSWORD });
    await cs.waitRegistered(page);
    await cs.setLanguage(page, 'en');

    step('a blocked microphone is explained with what to do');
    const blocked = await cs.launch({ wav, micPrompt: 'deny' });
    try {
      const other = await cs.openConsole(blocked, BASE, { locale: 'zh-CN' });
      assert.equal(await other.locator('#login-form h1').innerText(), '登录坐席工作台', 'zh-CN from the browser language');
      await cs.login(other, { username: 'agent2', password: PASSWORD });
      const words = await cs.waitProblem(other, 'mic');
      assert.match(words, /浏览器阻止了麦克风.*允许使用麦克风/);
      await cs.setLanguage(other, 'en');
      assert.match(await other.locator('#problem-text').innerText(), /blocked your microphone.*allow the microphone/);
      assert.equal(await other.locator('#btn-problem-retry').isVisible(), true, 'a Retry button');
    } finally {
      await blocked.close();
    }

    step('an account without an extension is told so, with whom to ask');
    const noPhone = await cs.openConsole(browser, BASE, { locale: 'en-GB' });
    await cs.login(noPhone, { username: 'boss', password: PASSWORD });
    assert.match(await cs.waitProblem(noPhone, 'reg'), /no phone extension.*Ask your supervisor/);
    assert.equal(await noPhone.locator('[data-testid=reg-status]').getAttribute('data-state'), 'none');
    assert.equal(await noPhone.locator('[data-testid=btn-call]').isDisabled(), true);
    await noPhone.context().close();

    step('the server goes away: the page says so in words; a new server and the page recovers');
    process.kill(Number(process.env.SERVER_PID), 'SIGTERM');
    const gone = await cs.waitProblem(page, ['server', 'ws'], 20000);
    assert.match(gone, /Lost the connection to the phone server|Cannot reach the server/);
    assert.notEqual(await page.locator('[data-testid=reg-status]').getAttribute('data-state'), 'registered');
    restarted = startServer();
    await cs.waitRegistered(page);
    await cs.waitNoProblem(page);

    step('the server refuses the phone (this address locked out after wrong passwords): said in words');
    const lockout = await sipp('lockout', `${SCEN}/register_lockout.xml`, {
      to: '1002',
      extra: ['-au', '1002', '-ap', 'not-the-password', '-set', 'expires', '300', '-set', 'domain', process.env.DOMAIN],
    });
    assert.equal(lockout, 0, 'three wrong passwords, then 403');
    const refused = await cs.openConsole(browser, BASE, { locale: 'en-US' });
    await cs.login(refused, { username: 'agent2', password: PASSWORD });
    await cs.waitReg(refused, 'failed');
    assert.match(
      await cs.waitProblem(refused, 'reg'),
      /^Your phone could not sign in \(refused by the server, e\.g\. locked for a while after wrong passwords\)\. Sign out and in again/,
    );

    step('Sign out: agent1 leaves the queues (logged out in the call control) and the phone unregisters');
    await page.click('[data-testid=logout]');
    await page.waitForSelector('#login-form');
    await until(async () => (await liveState(agent1.id))?.status === 'logged_out', 'agent1 logged out');
    await until(async () => {
      const regs = await api('GET', '/registrations');
      return !regs.some((b) => b.aor.startsWith('sip:1001@'));
    }, "1001's registration removed");

    assert.deepEqual(page.errors, [], 'no script errors on the page');
    console.log('console: all checks passed');
  } finally {
    await browser.close();
    if (restarted) {
      restarted.kill('SIGTERM');
      await new Promise((r) => restarted.on('exit', r));
    }
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
