// The QA page against the real server, in headless Chromium (issue 11, acceptance 1 and 6).
// Run by tests/e2e/qa.sh, which makes a real recorded call and passes: HTTP_PORT, PASSWORD,
// TOKEN (a supervisor's), ADMIN_TOKEN, AGENT_TOKEN (the agent who took the call), RECORDING,
// AGENT_ID, WAV (the recording's file on disk), SHOTS (where the screenshots go).
'use strict';

const assert = require('assert/strict');
const fs = require('fs');
const path = require('path');
const cs = require('./lib/console');

const { HTTP_PORT, PASSWORD, TOKEN, ADMIN_TOKEN, AGENT_TOKEN, RECORDING, AGENT_ID, WAV, SHOTS } = process.env;
const BASE = `http://127.0.0.1:${HTTP_PORT}`;
const step = (s) => console.log(`== ${s}`);

async function api(token, method, p, body) {
  const r = await fetch(`${BASE}/api/v1${p}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let data = null;
  try {
    data = JSON.parse(text);
  } catch (e) {
    data = text;
  }
  return { status: r.status, data };
}

// Where the samples start and end in the WAV on disk, read by this test (not by the page).
function dataStart(file) {
  const b = fs.readFileSync(file);
  assert.equal(b.toString('ascii', 0, 4), 'RIFF');
  let o = 12;
  while (o + 8 <= b.length) {
    const id = b.toString('ascii', o, o + 4);
    const size = b.readUInt32LE(o + 4);
    if (id === 'data') return { start: o + 8, end: Math.min(o + 8 + size, b.length), total: b.length };
    o += 8 + size + (size % 2);
  }
  throw new Error('no data chunk');
}

async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const position = (page) => page.evaluate(() => window.qaPlayer.currentTime());

(async () => {
  const browser = await cs.launch({});
  const page = await cs.openConsole(browser, BASE, { locale: 'en-US' });
  // Every audio response the page gets: the request's Range and the answer.
  const audio = [];
  page.on('response', async (res) => {
    if (!res.url().includes(`/recordings/${RECORDING}/audio`)) return;
    const req = res.request();
    audio.push({
      url: res.url(),
      range: (await req.allHeaders()).range || null,
      status: res.status(),
      contentRange: (await res.allHeaders())['content-range'] || null,
      length: Number((await res.allHeaders())['content-length']),
    });
  });
  const meta = (await api(TOKEN, 'GET', `/recordings/${RECORDING}`)).data;
  const duration = meta.duration_ms / 1000;
  const wav = dataStart(WAV);
  assert.ok(duration > 5, `the recording lasts ${duration} s`);
  assert.ok(meta.paused_segments.length >= 1, 'the paused span is in the metadata');

  step('a QA user signs in: the QA page, and a search finds the call');
  await cs.login(page, { username: 'inspector', password: PASSWORD });
  await page.waitForSelector('[data-testid=qa-view]:not([hidden])');
  await page.fill('[data-testid=qa-f-number]', '+8613800138000');
  await page.selectOption('[data-testid=qa-f-outcome]', 'answered');
  await page.selectOption('[data-testid=qa-f-scored]', 'false');
  await page.click('[data-testid=btn-qa-search]');
  const row = page.locator(`[data-testid=qa-row][data-id="${RECORDING}"]`);
  await row.waitFor({ timeout: 10000 });
  const rowText = await row.innerText();
  assert.match(rowText, /王小明/);
  assert.match(rowText, /陈女士/);

  step('open it: waveform, paused span marked');
  await row.click();
  await page.waitForFunction(() => window.qaPlayer.wav && !document.getElementById('btn-qa-play').disabled, null, { timeout: 10000 });
  const note = await page.locator('[data-testid=qa-paused-note]').innerText();
  assert.match(note, /card number/);

  step('play, then seek to the middle: a 206 with the bytes of that moment');
  await page.click('[data-testid=btn-qa-play]');
  await page.waitForFunction(() => window.qaPlayer.playing && window.qaPlayer.currentTime() > 0.3, null, { timeout: 10000 });
  const box = await page.locator('[data-testid=qa-wave]').boundingBox();
  const before = audio.length;
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  await page.waitForFunction((n) => window.qaPlayer.lastRange && window.qaPlayer.seekedTo != null, before, { timeout: 10000 });
  const seekedTo = await page.evaluate(() => window.qaPlayer.seekedTo);
  console.log(`   file: data ${wav.start}-${wav.end} of ${wav.total}; page: ${JSON.stringify(await page.evaluate(() => window.qaPlayer.wav))}`);
  assert.ok(Math.abs(seekedTo - duration / 2) < duration * 0.03, `seeked to ${seekedTo} s of ${duration}`);
  const first = wav.start + Math.floor(seekedTo * 8000) * 4;
  // An 8 s window, or up to the end of the samples (chunks may follow them).
  const last = Math.min(first + 8 * 8000 * 4, wav.end) - 1;
  const want = `bytes ${first}-${last}/${wav.total}`;
  for (let i = 0; i < 100 && !audio.slice(before).some((a) => a.contentRange === want); i++) await page.waitForTimeout(100);
  const seek = audio.slice(before).find((a) => a.contentRange === want);
  assert.ok(seek, `a response with Content-Range ${want}; got ${JSON.stringify(audio.slice(before))}`);
  assert.equal(seek.status, 206);
  assert.equal(seek.range, `bytes=${first}-${last}`);
  assert.equal(seek.length, last - first + 1);
  await page.waitForFunction((s) => window.qaPlayer.currentTime() > s + 0.3, seekedTo, { timeout: 10000 });
  console.log(`   seek to ${seekedTo.toFixed(2)} s of ${duration.toFixed(2)} s: ${seek.status} ${seek.contentRange}`);

  step('switch channel and speed: what is heard changes (the loudest frequency of the output)');
  // From 0.8 s, before the paused span: the customer's tone is 440 Hz, the agent's 1000 Hz,
  // and 1.5x speed raises the agent's to 1500 Hz.
  assert.ok(meta.paused_segments[0].start_ms > 1800, JSON.stringify(meta.paused_segments));
  await page.mouse.click(box.x + (box.width * 0.8) / duration, box.y + box.height / 2);
  await page.waitForFunction(() => window.qaPlayer.playing && window.qaPlayer.currentTime() > 0.9, null, { timeout: 10000 });
  const hears = async (want) => {
    await page.waitForFunction((w) => Math.abs((window.qaPlayer.peakHz() || 0) - w) < w * 0.04, want, { timeout: 5000, polling: 50 }).catch(async () => {
      assert.fail(`want ${want} Hz, hear ${await page.evaluate(() => window.qaPlayer.peakHz())} Hz at ${await position(page)} s`);
    });
  };
  await page.selectOption('[data-testid=qa-channel]', 'customer');
  let gains = await page.evaluate(() => ['cl', 'cr', 'al', 'ar'].map((k) => window.qaPlayer.gains[k].gain.value));
  assert.deepEqual(gains, [1, 1, 0, 0]);
  await hears(440);
  await page.selectOption('[data-testid=qa-channel]', 'agent');
  gains = await page.evaluate(() => ['cl', 'cr', 'al', 'ar'].map((k) => window.qaPlayer.gains[k].gain.value));
  assert.deepEqual(gains, [0, 0, 1, 1]);
  await hears(1000);
  await page.selectOption('[data-testid=qa-speed]', '1.5');
  assert.equal(await page.evaluate(() => window.qaPlayer.rate), 1.5);
  await hears(1500);
  console.log(`   customer 440 Hz, agent 1000 Hz, agent at 1.5x 1500 Hz (at ${(await position(page)).toFixed(2)} s)`);
  await page.selectOption('[data-testid=qa-channel]', 'both');

  step('pin a comment at the current moment');
  await page.click('[data-testid=btn-qa-play]'); // pause
  const at = await position(page);
  await page.fill('[data-testid=qa-comment-text]', 'Agent said 差不多 here');
  await page.click('[data-testid=btn-qa-comment]');
  await page.locator('[data-testid=qa-comment]').first().waitFor();
  const comments = (await api(TOKEN, 'GET', `/recordings/${RECORDING}/comments`)).data;
  assert.equal(comments.length, 1);
  assert.ok(Math.abs(comments[0].at_ms / 1000 - at) < 0.5, `comment at ${comments[0].at_ms} ms, player at ${at} s`);

  step('score the call: every item 90, skills 80, one banned phrase → 83');
  const inputs = page.locator('#qa-criteria input');
  const n = await inputs.count();
  assert.equal(n, 15);
  for (let i = 0; i < n; i++) {
    const input = inputs.nth(i);
    await input.fill((await input.getAttribute('data-key')) === 'skills' ? '80' : '90');
  }
  await page.locator('[data-testid=qa-banned-phrase][value="差不多"]').check();
  await page.fill('[data-testid=qa-note]', 'Friendly, but vague once.');
  await page.click('[data-testid=btn-qa-score]');
  await page.waitForSelector('[data-testid=qa-total]');
  assert.equal(await page.locator('[data-testid=qa-total]').innerText(), '83.0');
  const score = (await api(TOKEN, 'GET', `/recordings/${RECORDING}/score`)).data;
  assert.equal(score.total, 83);
  assert.deepEqual(score.banned, ['差不多']);

  step("the score shows in the agent's report");
  const report = (await api(TOKEN, 'GET', `/stats/agents?agent=${AGENT_ID}`)).data;
  const rows = report.rows.filter((r) => r.agent_id === AGENT_ID && r.qa_score != null);
  assert.equal(rows.length, 1, JSON.stringify(report));
  assert.equal(rows[0].qa_score, 83);

  step('download as WAV');
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=btn-qa-download]')]);
  const saved = path.join(path.dirname(WAV), 'downloaded.wav');
  await dl.saveAs(saved);
  assert.match(dl.suggestedFilename(), /^recording-.*\.wav$/);
  assert.ok(fs.readFileSync(saved).equals(fs.readFileSync(WAV)), 'the download is the recording');

  step('screenshots, en and zh-CN');
  await page.evaluate(() => window.scrollTo(0, 0));
  await shot(page, 'qa-player-en');
  await page.click('[data-testid=lang-zh]');
  await page.waitForFunction(() => document.querySelector('[data-testid=tab-qa]') && document.getElementById('btn-qa-search').textContent === '查询');
  await shot(page, 'qa-player-zh-CN');

  step('opening the scored call again fills the form with its score');
  await row.click();
  await page.waitForFunction(
    () => window.qaPlayer.wav && document.getElementById('qa-v-skills') && document.getElementById('qa-v-skills').value === '80',
    null,
    { timeout: 10000 },
  );
  assert.equal(await page.inputValue('#qa-v-visits'), '90');
  assert.ok(await page.locator('[data-testid=qa-banned-phrase][value="差不多"]').isChecked());
  assert.ok(!(await page.locator('[data-testid=qa-banned-phrase][value="但是"]').isChecked()));
  assert.equal(await page.inputValue('[data-testid=qa-note]'), 'Friendly, but vague once.');
  assert.equal(await page.locator('[data-testid=qa-total]').innerText(), '83.0');

  step('the agent who took the call gets 403 on its audio; the audit log has every listen');
  for (const p of [`/recordings/${RECORDING}/audio`, `/recordings/${RECORDING}/peaks`]) {
    const r = await api(AGENT_TOKEN, 'GET', p);
    assert.equal(r.status, 403, `${p}: ${JSON.stringify(r.data)}`);
  }
  const log = (await api(ADMIN_TOKEN, 'GET', '/audit?limit=1000')).data;
  const me = (await api(TOKEN, 'GET', '/users')).data.find((u) => u.username === 'inspector');
  const mine = log.filter((e) => e.target === RECORDING && e.actor === me.id);
  const plays = mine.filter((e) => e.action === 'recording.play');
  const downloads = mine.filter((e) => e.action === 'recording.download');
  const audioRequests = audio.filter((a) => !a.url.includes('download=1'));
  assert.equal(plays.length, audioRequests.length, `${plays.length} play rows for ${audioRequests.length} requests`);
  assert.ok(plays.some((e) => e.detail.range === seek.range && e.detail.status === 206), 'the seek is audited');
  assert.equal(downloads.length, 1);

  assert.deepEqual(page.errors, []);
  await browser.close();
  console.log('qa page: ok');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
