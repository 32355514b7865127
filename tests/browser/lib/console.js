// Helpers for tests of the agent console (the page at `/`), driving it as an agent would:
// through its buttons and fields (stable ids and data-testid), waiting on what the page shows,
// never on a fixed delay. The page's JsSIP softphone is `window.softphone` (ua, session and an
// event log) for checks the screen cannot show, e.g. WebRTC stats.
//
//   const cs = require('./lib/console');
//   const browser = await cs.launch({ wav });
//   const page = await cs.openConsole(browser, BASE, { locale: 'en-US' });
//   await cs.login(page, { username: 'agent1', password });
//   await cs.waitRegistered(page);
//   await cs.setState(page, 'not_ready', 'lunch');
//   const ring = await cs.waitRinging(page);          // { number, name, grade, key, notes }
//   await cs.decline(page);  // or cs.answer(page); cs.waitInCall(page); cs.hangup(page)
'use strict';

const fs = require('fs');
const path = require('path');
const { chromium } = require('playwright-core');
const sp = require('./softphone');

const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const VIEWPORT = { width: 1366, height: 860 };

// Chromium with a fake microphone fed from `wav`. `micPrompt: 'deny'` leaves out the flag that
// accepts media permission prompts, so getUserMedia fails with NotAllowedError as it does for
// an agent who clicked "Block".
async function launch({ wav, micPrompt = 'accept' } = {}) {
  let args = sp.chromiumArgs(wav);
  if (micPrompt === 'deny') args = args.filter((a) => a !== '--use-fake-ui-for-media-stream');
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args });
}

// A fresh context (own storage, language from `locale`) with the console open at `base`.
// Page errors are collected in `page.errors` (a test fails on any).
async function openConsole(browser, base, { locale = 'en-US', permissions } = {}) {
  const context = await browser.newContext({ locale, viewport: VIEWPORT, permissions });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => {
    page.errors.push(e.message);
    console.error(`page error: ${e.message}`);
  });
  await page.goto(`${base}/`);
  await page.waitForSelector('#login-form');
  return page;
}

const text = (page, selector) => page.locator(selector).innerText();

// Fills the sign-in form and submits it; resolves once the console or an error shows.
async function submitLogin(page, { tenant, username, password }) {
  if (tenant !== undefined) await page.fill('#tenant', tenant);
  await page.fill('#username', username);
  await page.fill('#password', password);
  // A previous attempt's words must not pass for this attempt's answer.
  await page.evaluate(() => (document.getElementById('login-error').textContent = ''));
  await page.click('[data-testid=login-submit]');
  await page.waitForFunction(
    () =>
      document.body.dataset.view === 'console' ||
      document.getElementById('login-error').textContent.trim() !== '',
    null,
    { timeout: 15000, polling: 50 },
  );
  return page.evaluate(() => ({
    view: document.body.dataset.view,
    error: document.getElementById('login-error').textContent,
  }));
}

async function login(page, creds) {
  const r = await submitLogin(page, creds);
  if (r.view !== 'console') throw new Error(`login of ${creds.username} failed: ${r.error}`);
  return r;
}

// Waits until the registration pill says `state` (registered, failed, …); returns its text.
async function waitReg(page, state, timeout = 15000) {
  await page.waitForSelector(`[data-testid=reg-status][data-state="${state}"]`, { timeout });
  return text(page, '#reg-status');
}
const waitRegistered = (page) => waitReg(page, 'registered');

// Clicks the state buttons: 'ready', 'not_ready' (with a reason) or 'wrap_up_done'.
async function setState(page, state, reason) {
  if (state === 'ready') await page.click('[data-testid=btn-ready]');
  else if (state === 'not_ready') {
    await page.selectOption('[data-testid=not-ready-reason]', reason);
    await page.click('[data-testid=btn-not-ready]');
  } else if (state === 'wrap_up_done') await page.click('[data-testid=btn-wrap-up-done]');
  else throw new Error(`no button for state ${state}`);
}

// Waits until the page shows agent state `status` (as the call control reports it).
async function waitState(page, status, timeout = 10000) {
  await page.waitForSelector(`[data-testid=agent-state][data-state="${status}"]`, { timeout });
  return text(page, '#state-text');
}

// Waits for the ringing panel and the customer card to settle; returns what the agent sees.
async function waitRinging(page, timeout = 20000) {
  await page.waitForSelector('[data-testid=phone][data-phone="ringing"]', { timeout });
  await page.waitForFunction(
    () => !['none', 'loading'].includes(document.getElementById('customer-card').dataset.state),
    null,
    { timeout, polling: 50 },
  );
  return page.evaluate(() => {
    const v = (id) => document.getElementById(id).innerText.trim();
    return {
      number: v('ring-number'),
      customer: document.getElementById('customer-card').dataset.state,
      message: v('customer-message'),
      name: v('cust-name'),
      grade: v('cust-grade'),
      category: v('cust-category'),
      key: !document.getElementById('cust-key').hidden,
      notes: [...document.querySelectorAll('#cust-notes .note-text')].map((n) => n.textContent),
    };
  });
}

async function answer(page) {
  await page.click('[data-testid=btn-answer]');
}

async function decline(page) {
  await page.click('[data-testid=btn-decline]');
}

async function hangup(page) {
  await page.click('[data-testid=btn-hangup]');
}

async function waitInCall(page, timeout = 15000) {
  await page.waitForSelector('[data-testid=phone][data-phone="incall"]', { timeout });
}

// Waits until the phone is idle again; returns the "call ended: …" line.
async function waitIdle(page, timeout = 15000) {
  await page.waitForSelector('[data-testid=phone][data-phone="idle"]', { timeout });
  return text(page, '[data-testid=phone-last]');
}

// Saves an after-call note through the form; returns {result, text} of the page's answer.
async function saveNote(page, { phone, text: note }) {
  if (phone !== undefined) await page.fill('[data-testid=note-phone]', phone);
  await page.fill('[data-testid=note-text]', note);
  await page.evaluate(() => (document.getElementById('note-result').dataset.result = ''));
  await page.click('[data-testid=btn-save-note]');
  await page.waitForFunction(() => document.getElementById('note-result').dataset.result !== '', null, {
    timeout: 10000,
    polling: 50,
  });
  return page.evaluate(() => ({
    result: document.getElementById('note-result').dataset.result,
    text: document.getElementById('note-result').textContent,
  }));
}

async function setLanguage(page, lang) {
  await page.click(`[data-lang="${lang}"]`);
  await page.waitForFunction((l) => document.documentElement.lang === l, lang);
}

// Waits for the problem banner of `kind` (server, ws, mic, reg); returns its words.
async function waitProblem(page, kinds, timeout = 15000) {
  const list = Array.isArray(kinds) ? kinds : [kinds];
  await page.waitForFunction(
    (ks) => {
      const p = document.getElementById('problem');
      return !p.hidden && ks.includes(p.dataset.kind);
    },
    list,
    { timeout, polling: 100 },
  );
  return text(page, '#problem-text');
}

async function waitNoProblem(page, timeout = 30000) {
  await page.waitForFunction(() => document.getElementById('problem').hidden, null, { timeout, polling: 100 });
}

// A PNG of the whole window into `dir/name.png`.
async function screenshot(page, dir, name) {
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

// Every string key of `lang` that the page shows right now: [text, …] of elements with data-i18n.
async function visibleStrings(page) {
  return page.evaluate(() =>
    [...document.querySelectorAll('[data-i18n]')]
      .filter((el) => el.offsetParent !== null)
      .map((el) => el.textContent.trim()),
  );
}

module.exports = {
  launch,
  openConsole,
  submitLogin,
  login,
  waitReg,
  waitRegistered,
  setState,
  waitState,
  waitRinging,
  answer,
  decline,
  hangup,
  waitInCall,
  waitIdle,
  saveNote,
  setLanguage,
  waitProblem,
  waitNoProblem,
  screenshot,
  visibleStrings,
  toneWav: sp.toneWav,
};
