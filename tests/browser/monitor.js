// A supervisor stepping into a live call from the browser softphone (issue 11, acceptance 4).
// Run by tests/e2e/monitor.sh, which starts the server and passes HTTP_PORT, SIP_PORT, DOMAIN,
// PASSWORD, TOKEN (the supervisor's), WORK, SCEN, RTP_TOOLS.
//
// The customer (SIPp caller) plays 440 Hz, the agent (SIPp phone 1001) 1000 Hz, the supervisor's
// browser microphone 2000 Hz. Who hears whom is measured by audio energy: in the supervisor's page
// (a Web Audio analyser on the received track) and in tcpdump captures of the RTP each SIPp phone
// receives (rtp_tools.py pcap-levels: the share of each tone in what it heard).
'use strict';

const assert = require('assert/strict');
const sp = require('./lib/softphone');
const cs = require('./lib/console');
const { apiClient } = require('./lib/api');

const { HTTP_PORT, SIP_PORT, DOMAIN, PASSWORD, TOKEN, WORK, SCEN, RTP_TOOLS } = process.env;
const peers = require('./lib/peers')({ SIP_PORT, WORK, SCEN, RTP_TOOLS });
const BASE = `http://127.0.0.1:${HTTP_PORT}`;
const WS_URL = `ws://127.0.0.1:${HTTP_PORT}/sip`;
const CUSTOMER = 440;
const AGENT = 1000;
const SUPERVISOR = 2000;
// A tone is heard when it carries this share of the power a phone receives, or is clearly there
// in most of its 100 ms blocks (a loaded machine delays the browser's frames, leaving gaps in the
// mix); it is not heard when its share stays under the lower bound and it is (almost) never
// there (a lone tone gives ~1, two equal tones ~0.5 each, an absent one ~0).
const HEARD = 0.15;
const HEARD_BLOCKS = 0.5;
const NOT_HEARD = 0.03;
const NOT_HEARD_BLOCKS = 0.05;
const heardIn = (levels, f) => levels[f] > HEARD || levels.present[f] > HEARD_BLOCKS;
const notHeardIn = (levels, f) => levels[f] < NOT_HEARD && levels.present[f] < NOT_HEARD_BLOCKS;
// In the page: dB below the loudest bin of the spectrum.
const PAGE_HEARD = -25;

const step = (s) => console.log(`== ${s}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const api = apiClient(BASE, TOKEN);

// The newest call record with `number`, once `pred` holds (the records writer is asynchronous).
async function callRecord(number, pred, what) {
  const end = Date.now() + 15000;
  let call;
  while (Date.now() < end) {
    const body = await api('GET', `/calls?number=${encodeURIComponent(number)}&limit=1`);
    call = (body.items || body)[0];
    if (call && pred(call)) return call;
    await sleep(200);
  }
  assert.fail(`${what}: newest call of ${number} is ${JSON.stringify(call)}`);
}

async function phoneFor(browser, user) {
  const phone = await sp.openPhone(browser, `${BASE}/healthz`);
  await phone.page.evaluate(() => {
    window.sb.call_raw = (target) =>
      window.sb.ua.call(target, {
        mediaConstraints: {
          audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
          video: false,
        },
      });
  });
  const got = await phone.register({ ws: WS_URL, user, domain: DOMAIN, password: PASSWORD });
  assert.equal(got.name, 'registered', `${user} registers: ${JSON.stringify(got)}`);
  return phone;
}

const hasAudio = (s) => s.received > 20 && s.receivedLevel > 0.01;

// The supervisor dials `code` + 1001 (the `nth` call of the page) and, once audio flows,
// measures for three seconds what the page hears and what each SIPp phone receives.
async function monitorPhase(supervisor, code, nth, ports) {
  // A softphone's voice processing (noise suppression in particular) takes a steady test tone
  // for noise and fades it out; the supervisor's microphone is sent as it is.
  await supervisor.page.evaluate(
    (t) => window.sb.call_raw(t),
    `sip:${code}1001@${DOMAIN}`,
  );
  // (Earlier calls of this page failed on purpose, so a failure cannot end the wait here.)
  await supervisor.waitFor('confirmed', { nth }).catch(async (e) => {
    assert.fail(`${code}1001 is not answered (${e.message}): ${JSON.stringify(await supervisor.events())}`);
  });
  await supervisor.audioUntil(hasAudio, `the supervisor hears the call (${code})`);
  const file = `${WORK}/monitor-${code.slice(1)}.pcap`;
  const cap = await peers.capture(file, [ports.customer, ports.agent]);
  const page = await sp.toneLevels(supervisor.page, 'harness', [CUSTOMER, AGENT, SUPERVISOR], 3000);
  await cap.stop();
  const freqs = [CUSTOMER, AGENT, SUPERVISOR];
  const heard = {
    page,
    customer: peers.levelsAt(file, ports.customer, freqs),
    agent: peers.levelsAt(file, ports.agent, freqs),
  };
  console.log(`   ${code}: ${JSON.stringify(heard)}`);
  assert.ok(heard.customer.packets > 50 && heard.agent.packets > 50, 'both phones keep receiving RTP');
  assert.ok(page[CUSTOMER] > PAGE_HEARD, `the supervisor hears the customer (${code})`);
  assert.ok(page[AGENT] > PAGE_HEARD, `the supervisor hears the agent (${code})`);
  return heard;
}

async function hangUp(phone, nth) {
  await phone.hangup();
  await phone.waitFor('ended', { nth });
}

async function main() {
  const browser = await sp.launch({ wav: sp.toneWav(`${WORK}/supervisor-2000.wav`, SUPERVISOR, 10) });
  try {
    step('set-up: supervisor 1009 and agent 1002 register from browsers; SIPp agent 1001 registers');
    const supervisor = await phoneFor(browser, '1009');
    const otherAgent = await phoneFor(browser, '1002');
    const agentSip = await peers.freePort();
    const reg = await peers.sipp('register-1001', 'register.xml', '1001', {
      port: agentSip, args: ['-au', '1001', '-ap', PASSWORD, '-set', 'expires', '300', '-set', 'domain', DOMAIN],
    });
    assert.equal(reg, 0, 'SIPp registers 1001');

    step('agent 1001 is a member of queue sales, so the wallboard lists them');
    const users = await api('GET', '/users');
    const agent1 = (users.items || users).find((u) => u.username === 'agent1');
    await api('POST', '/queues', { id: 'sales', name: 'Sales', number: '4000' });
    await api('PUT', `/queues/sales/members/${agent1.id}`, {});
    const end = Date.now() + 20000;
    while (!(await api('GET', '/queues/live')).queues.some((q) => q.queue.endsWith('/sales') && q.members === 1)) {
      assert.ok(Date.now() < end, 'the ACD takes up the queue');
      await sleep(250);
    }

    // The agent signs in to the queues (ready), as the console's Ready button does.
    const login = await fetch(`${BASE}/api/v1/auth/login`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ username: 'agent1', password: PASSWORD }),
    });
    assert.equal(login.status, 200, 'agent1 signs in');
    const agentToken = (await login.json()).token;
    const ready = await fetch(`${BASE}/api/v1/agents/me/state`, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${agentToken}` },
      body: JSON.stringify({ state: 'ready' }),
    });
    assert.ok(ready.ok, `agent1 ready: ${ready.status}`);

    step('nobody to listen to yet: *811001 → 404');
    await supervisor.call(`sip:*811001@${DOMAIN}`);
    const none = await supervisor.waitFor('failed', { nth: 1 });
    assert.equal(none.detail.cause, 'Not Found', JSON.stringify(none));

    step('a customer (440 Hz) calls 1001; the SIPp agent answers (1000 Hz)');
    const ports = { customer: await sp.freeMediaPort(), agent: await sp.freeMediaPort() };
    const agentDone = peers.sipp('agent-1001', 'uas_answer.xml', '1001', { port: agentSip, mediaPort: ports.agent });
    const customerDone = peers.sipp('customer', 'uac_talk_until_bye.xml', '1001', { mediaPort: ports.customer });
    const call = await callRecord('1001', (c) => c.answered_at, 'the customer call is answered');

    step('an agent may not listen to another agent: 1002 dials *811001 → 403');
    await otherAgent.call(`sip:*811001@${DOMAIN}`);
    const refused = await otherAgent.waitFor('failed', { nth: 1 });
    assert.equal(refused.detail.cause, 'Rejected', JSON.stringify(refused));

    step('listen (*81): the supervisor hears both; neither party hears the supervisor');
    const listen = await monitorPhase(supervisor, '*81', 1, ports);
    assert.ok(notHeardIn(listen.customer, SUPERVISOR), 'the customer does not hear the supervisor (listen)');
    assert.ok(notHeardIn(listen.agent, SUPERVISOR), 'the agent does not hear the supervisor (listen)');
    assert.ok(heardIn(listen.customer, AGENT), 'the customer still hears the agent');
    assert.ok(heardIn(listen.agent, CUSTOMER), 'the agent still hears the customer');
    await hangUp(supervisor, 1);

    step('whisper (*82): the agent hears the supervisor and the customer; the customer never hears the supervisor');
    const whisper = await monitorPhase(supervisor, '*82', 2, ports);
    assert.ok(heardIn(whisper.agent, SUPERVISOR), 'the agent hears the supervisor (whisper)');
    assert.ok(heardIn(whisper.agent, CUSTOMER), 'the agent still hears the customer (whisper)');
    assert.ok(notHeardIn(whisper.customer, SUPERVISOR), 'the whisper does not reach the customer');
    assert.ok(heardIn(whisper.customer, AGENT), 'the customer still hears the agent (whisper)');
    await hangUp(supervisor, 2);

    step('barge (*83): everyone hears everyone');
    const barge = await monitorPhase(supervisor, '*83', 3, ports);
    assert.ok(heardIn(barge.customer, SUPERVISOR), 'the customer hears the supervisor (barge)');
    assert.ok(heardIn(barge.customer, AGENT), 'the customer hears the agent (barge)');
    assert.ok(heardIn(barge.agent, SUPERVISOR), 'the agent hears the supervisor (barge)');
    assert.ok(heardIn(barge.agent, CUSTOMER), 'the agent hears the customer (barge)');

    await hangUp(supervisor, 3);

    step("the console's Wallboard tab: Listen on the agent's row dials *811001 from the page's phone; a second supervisor gets 486");
    const boss = await cs.openConsole(browser, BASE);
    await cs.login(boss, { username: 'boss', password: PASSWORD });
    await cs.waitRegistered(boss);
    await boss.click('[data-testid=tab-wallboard]');
    const listenButton = 'tr[data-agent] button[data-testid^="wb-listen-"]:not([disabled])';
    await boss.waitForSelector(listenButton, { timeout: 15000 }).catch(async (e) => {
      const rows = await boss.evaluate(() => document.querySelector('#wb-agents').outerHTML);
      const board = await api('GET', '/wallboard');
      const S = await boss.evaluate(() => ({ reg: window.consoleApp.S.reg, session: Boolean(window.consoleApp.S.session), ua: Boolean(window.consoleApp.S.ua) }));
      assert.fail(`no enabled Listen button (${e.message}): rows ${rows}; board agents ${JSON.stringify(board.agents)}; phone ${JSON.stringify(S)}`);
    });
    await boss.click(listenButton);
    // The phone card is on the console tab, hidden behind the wallboard: wait on its state.
    const phoneIs = (state) =>
      boss.waitForSelector(`[data-testid=phone][data-phone="${state}"]`, { state: 'attached', timeout: 15000 });
    await phoneIs('incall');
    await sp.audioUntil(boss, 'console', hasAudio, 'the console hears the call');
    const heard = await sp.toneLevels(boss, 'console', [CUSTOMER, AGENT], 2000);
    console.log(`   console listen: ${JSON.stringify(heard)}`);
    assert.ok(heard[CUSTOMER] > PAGE_HEARD && heard[AGENT] > PAGE_HEARD, 'the console hears both parties');
    await supervisor.call(`sip:*831001@${DOMAIN}`);
    const busy = await supervisor.waitFor('failed', { nth: 2 });
    assert.equal(busy.detail.cause, 'Busy', JSON.stringify(busy));
    assert.deepEqual(boss.errors, [], 'no page errors');

    step('the call ends (hung up through the API): the supervisor on it is hung up too, CDRs written');
    await api('POST', `/calls/${call.id}/hangup`);
    await phoneIs('idle');
    assert.equal(await customerDone, 0, 'the customer got its BYE');
    assert.equal(await agentDone, 0, 'the agent got its BYE');
    const cdr = await callRecord('1001', (c) => c.state === 'ended', 'CDR of the monitored call');
    assert.equal(cdr.id, call.id);
    const monitors = await api('GET', '/calls?limit=20');
    const targets = (monitors.items || monitors).map((c) => c.target);
    for (const mode of ['listen', 'whisper', 'barge']) {
      assert.ok(targets.includes(`monitor:${mode}:1001`), `the ${mode} session has its CDR: ${targets}`);
    }
  } finally {
    await browser.close();
  }
}

main().then(
  () => console.log('monitor checks passed'),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
