// The campaign pages of the console against the real server, in headless Chromium (issue 9,
// acceptance 5). Run by tests/e2e/campaigns_ui.sh, which starts the server and passes:
// HTTP_PORT, PASSWORD (every test user's), TOKEN (the supervisor's, for API cross-checks), WORK
// (for the CSV file), SHOTS (where the screenshots go).
'use strict';

const assert = require('assert/strict');
const fs = require('fs');
const path = require('path');
const cs = require('./lib/console');
const { apiClient } = require('./lib/api');

const { HTTP_PORT, PASSWORD, TOKEN, WORK, SHOTS } = process.env;
const BASE = `http://127.0.0.1:${HTTP_PORT}`;
const TAG = 'autumn-2026';
const NAME = '秋季回访 Autumn follow-up';

const step = (s) => console.log(`== ${s}`);

// The whole page (the campaign form and the task panel are taller than the window).
async function shot(page, name) {
  fs.mkdirSync(SHOTS, { recursive: true });
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

const api = apiClient(BASE, TOKEN);

// 3 good rows in four zones (one key customer) and 2 bad ones: row 5 has a phone that is not
// E.164, row 6 has no name. Spreadsheet rows count the header as row 1.
const CSV = [
  'name,phones,time_zone,key_customer,grade',
  '李雷,+8613800000101,Asia/Shanghai,true,A',
  'Emma Brown,+12125550102,America/New_York,false,B',
  'Tom Smith,+447700900103;+61491570104,Europe/London,false,B',
  '王五,12345,Australia/Sydney,false,C',
  ',+8613800000105,Asia/Shanghai,false,C',
  '',
].join('\n');

const cellText = (page, id, col) =>
  page.locator(`[data-testid=camp-row][data-id="${id}"] td[data-col="${col}"]`).innerText();

async function waitCell(page, id, col, want, timeout = 15000) {
  await page.waitForFunction(
    ([i, c, w]) => {
      const td = document.querySelector(`[data-testid=camp-row][data-id="${i}"] td[data-col="${c}"]`);
      return td && td.textContent.trim() === w;
    },
    [id, col, want],
    { timeout, polling: 100 },
  );
}

(async () => {
  const browser = await cs.launch({ wav: cs.toneWav(`${WORK}/mic.wav`, 440, 3) });
  try {
    // --- the supervisor -----------------------------------------------------------------
    step('a supervisor signs in (zh-CN) and opens the Campaigns tab');
    const sup = await cs.openConsole(browser, BASE, { locale: 'zh-CN' });
    await cs.login(sup, { username: 'boss', password: PASSWORD });
    await sup.click('[data-testid=tab-campaigns]');
    await sup.waitForSelector('[data-testid=campaigns-view]:not([hidden])');
    assert.ok(await sup.locator('#console-view').isHidden(), 'the console is hidden behind the tab');
    // The templates and agents arrive from the server.
    await sup.waitForFunction(() => document.querySelectorAll('#camp-type option').length === 10, null, { timeout: 10000 });
    await sup.waitForSelector('[data-testid=agent-agent1]');

    step('the form names what is missing instead of sending it');
    await sup.click('[data-testid=btn-camp-create]');
    await sup.waitForSelector('[data-testid=camp-form-result][data-result=error]');
    const missing = await sup.locator('[data-testid=camp-form-result]').innerText();
    assert.match(missing, /目标标签/, missing);
    assert.match(missing, /坐席/, missing);

    step('upload the target CSV: progress, then the 2 bad rows in the error report');
    await sup.fill('[data-testid=camp-tag]', TAG);
    const csvFile = path.join(WORK, 'targets.csv');
    fs.writeFileSync(csvFile, CSV);
    await sup.setInputFiles('[data-testid=camp-file]', csvFile);
    await sup.click('[data-testid=btn-camp-upload]');
    await sup.waitForSelector('[data-testid=imp-status][data-state=done]', { timeout: 20000 });
    await sup.waitForSelector('[data-testid=imp-errors]:not([hidden])');
    const impText = await sup.locator('[data-testid=imp-text]').innerText();
    assert.match(impText, /新增 3/, impText);
    assert.match(impText, /出错 2 行/, impText);
    const errRows = await sup.$$eval('#imp-errors tbody tr', (trs) =>
      trs.map((tr) => ({ row: tr.dataset.row, cells: [...tr.cells].map((c) => c.textContent) })));
    assert.deepEqual(errRows.map((r) => r.row), ['5', '6'], JSON.stringify(errRows));
    assert.equal(errRows[0].cells[1], 'phones', JSON.stringify(errRows[0]));
    assert.equal(errRows[1].cells[1], 'name', JSON.stringify(errRows[1]));
    assert.ok(errRows.every((r) => r.cells[3].trim() !== ''), 'every error row says what is wrong');
    // The page shows what the server's report says, row for row.
    const imports = await api('GET', '/customers/imports');
    const imp = (imports.items || imports).find((i) => i.tag === TAG);
    assert.ok(imp, `the import with tag ${TAG}`);
    const report = await api('GET', `/customers/imports/${imp.id}/errors`);
    assert.deepEqual(report.items.map((e) => String(e.row)), ['5', '6']);
    assert.deepEqual(report.items.map((e) => e.message), errRows.map((r) => r.cells[3]));

    step('create the campaign: service follow-up, 2 agents, preview, no rest time (any hour)');
    await sup.selectOption('[data-testid=camp-type]', 'service_follow_up');
    await sup.fill('[data-testid=camp-name]', NAME);
    await sup.selectOption('[data-testid=camp-dial]', 'preview');
    await sup.fill('[data-testid=camp-attempts]', '3');
    // An empty rest time: the test does not depend on the hour in any customer's zone.
    await sup.fill('[data-testid=camp-rest]', '');
    // Holidays far from any date the test runs on: the override is stored as typed.
    await sup.fill('[data-testid=camp-holidays]', '2031-01-01, 2031-10-01');
    await sup.check('[data-testid=agent-agent1]');
    await sup.check('[data-testid=agent-agent2]');
    await sup.click('[data-testid=btn-camp-create]');
    await sup.waitForSelector('[data-testid=camp-form-result][data-result=ok]');
    const row = sup.locator(`[data-testid=camp-row][data-name="${NAME}"]`);
    await row.waitFor();
    const id = await row.getAttribute('data-id');
    assert.equal(await row.getAttribute('data-state'), 'draft');
    const created = await api('GET', `/campaigns/${id}`);
    assert.equal(created.dial_mode, 'preview');
    assert.equal(created.max_attempts, 3);
    assert.equal(created.language, 'zh-CN');
    assert.deepEqual(created.target.tags, [TAG]);
    assert.deepEqual(created.calling.rest, []);
    assert.deepEqual(created.calling.holidays, ['2031-01-01', '2031-10-01']);

    // --- the agent, before the launch ----------------------------------------------------
    step('an agent signs in; nothing is due before the launch');
    const agent = await cs.openConsole(browser, BASE, { locale: 'en-US' });
    await cs.login(agent, { username: 'agent1', password: PASSWORD });
    assert.ok(await agent.locator('[data-testid=tab-campaigns]').isHidden(), 'agents get no Campaigns tab');
    await agent.click('[data-testid=btn-cb-next]');
    await agent.waitForSelector('[data-testid=cb-card][data-state=empty]');

    step('the supervisor launches it; the progress shows 3 tasks, none done');
    await row.locator('[data-testid=camp-start]').click();
    await sup.waitForSelector(`[data-testid=camp-row][data-id="${id}"][data-state=running]`);
    await waitCell(sup, id, 'total', '3');
    await waitCell(sup, id, 'done', '0');
    await waitCell(sup, id, 'open', '3');
    assert.match(await cellText(sup, id, 'key'), /^0\/1 \(0%\)/);
    assert.match(await sup.locator('[data-testid=camp-action-result]').innerText(), /3 个任务/);
    await shot(sup, 'campaigns-zh-CN');
    await cs.setLanguage(sup, 'en');
    assert.match(await sup.locator(`[data-testid=camp-row][data-id="${id}"] td[data-col=state]`).innerText(), /Running/);
    await shot(sup, 'campaigns-en');

    // --- the agent ---------------------------------------------------------------------
    step('the agent gets the next task: the key customer first, with the script and the number');
    await agent.click('[data-testid=btn-cb-next]');
    await agent.waitForSelector('[data-testid=cb-card][data-state=task]');
    assert.equal(await agent.locator('[data-testid=cb-customer]').innerText(), '李雷');
    assert.ok(await agent.locator('[data-testid=cb-key]').isVisible(), 'the key-customer badge');
    assert.equal(await agent.locator('[data-testid=cb-number]').innerText(), '+8613800000101');
    const script = await agent.$$eval('#cb-script li', (lis) => lis.map((li) => li.textContent));
    assert.equal(script.length, 5, JSON.stringify(script));
    assert.match(script[0], /李/, 'the greeting names the customer');
    assert.match(script[2], /满意/, 'the satisfaction question (a zh-CN campaign)');
    assert.match(script[3], /^If satisfied: /);
    assert.match(script[4], /^If neutral or not satisfied: /);
    // The labels are the template's outcome form's.
    assert.equal(await agent.locator('#cb-label-satisfaction').innerText(), 'Satisfaction');
    assert.equal(await agent.locator('#cb-label-note').innerText(), 'Call note');

    step('the outcome form: Save without a satisfaction answer is refused in the page');
    await agent.selectOption('[data-testid=cb-result-kind]', 'answered');
    await agent.click('[data-testid=btn-cb-save]');
    await agent.waitForSelector('[data-testid=cb-outcome][data-result=error]');
    assert.match(await agent.locator('[data-testid=cb-outcome]').innerText(), /satisfied/);

    step('the agent fills in the outcome (satisfied: its branch is highlighted)');
    await agent.fill('[data-testid=cb-talk]', '75');
    assert.equal(await agent.locator('[data-testid=cb-outcome]').innerText(), '', 'changing the form clears the refusal');
    await agent.check('#cb-satisfaction input[value=satisfied]');
    await agent.waitForSelector('#cb-script li.branch.picked[data-branch=satisfied]');
    await agent.fill('[data-testid=cb-suggestion]', '周末也能预约');
    await agent.fill('[data-testid=cb-note]', '回访完成，客户满意');
    await shot(agent, 'campaign-task-en');
    await cs.setLanguage(agent, 'zh-CN');
    assert.equal(await agent.locator('#cb-label-satisfaction').innerText(), '满意度');
    assert.equal(await agent.locator('[data-testid=cb-note]').inputValue(), '回访完成，客户满意', 'a language switch keeps the form');
    await shot(agent, 'campaign-task-zh-CN');

    step('Save: the call-back is done and counted as effective');
    await agent.evaluate(() => (document.getElementById('cb-outcome').dataset.result = ''));
    await agent.click('[data-testid=btn-cb-save]');
    await agent.waitForSelector('[data-testid=cb-outcome][data-result=ok]');
    assert.equal(await agent.locator('[data-testid=cb-outcome]').getAttribute('data-next'), 'done');
    const saved = await agent.locator('[data-testid=cb-outcome]').innerText();
    assert.match(saved, /回访完成/, saved);
    assert.match(saved, /计为有效通话/, saved);

    step('the progress shows one done, in the page and through the API');
    await waitCell(sup, id, 'done', '1');
    await waitCell(sup, id, 'open', '2');
    assert.match(await cellText(sup, id, 'key'), /^1\/1 \(100%\)/);
    const progress = await api('GET', `/campaigns/${id}/progress`);
    assert.equal(progress.total, 3);
    assert.equal(progress.done, 1);
    assert.equal(progress.open, 2);
    assert.equal(progress.key_customers.done, 1);
    const tasks = await api('GET', `/campaigns/${id}/tasks?state=done`);
    const done = (tasks.items || tasks)[0];
    assert.equal(done.satisfaction, 'satisfied');
    assert.equal(done.suggestion, '周末也能预约');
    assert.equal(done.talk_seconds, 75);
    assert.equal(done.effective, true);

    step("the quota: the agent's own line and the supervisor's table count the effective call; CSV export");
    const agentId = (await api('GET', '/users')).find((u) => u.username === 'agent1').id;
    await agent.waitForFunction(
      () => / 1\/100 /.test(document.getElementById('cb-quota').textContent),
      null,
      { timeout: 10000 },
    );
    const quotaLine = await agent.locator('[data-testid=cb-quota]').innerText();
    console.log(`   agent sees: ${quotaLine}`);
    assert.match(quotaLine, / 0\/25/, quotaLine);
    const quotaRow = sup.locator(`[data-testid=quota-row][data-agent="${agentId}"]`);
    await quotaRow.waitFor({ timeout: 10000 });
    await sup.waitForFunction(
      (id) => {
        const r = document.querySelector(`[data-testid=quota-row][data-agent="${id}"] [data-col=calls]`);
        return r && r.textContent === '1';
      },
      agentId,
      { timeout: 10000 },
    );
    const quotas = await api('GET', '/quotas');
    const mine = quotas.agents.find((a) => a.agent_id === agentId);
    assert.equal(mine.effective_calls, 1, 'the API counts the same effective call');
    const [download] = await Promise.all([sup.waitForEvent('download'), sup.click('[data-testid=btn-quota-csv]')]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    assert.ok(csv.split('\n').some((l) => l.includes(agentId)), `the CSV has the agent's row: ${csv}`);

    step('pause and stop from the page');
    await sup.locator(`[data-testid=camp-row][data-id="${id}"] [data-testid=camp-pause]`).click();
    await sup.waitForSelector(`[data-testid=camp-row][data-id="${id}"][data-state=paused]`);
    await sup.locator(`[data-testid=camp-row][data-id="${id}"] [data-testid=camp-stop]`).click();
    await sup.waitForSelector(`[data-testid=camp-row][data-id="${id}"][data-state=stopped]`);
    assert.equal((await api('GET', `/campaigns/${id}`)).state, 'stopped');

    assert.deepEqual(sup.errors, [], 'no page errors (supervisor)');
    assert.deepEqual(agent.errors, [], 'no page errors (agent)');
  } finally {
    await browser.close();
  }
  console.log('campaign pages: all checks passed');
})().catch((e) => {
  console.error(e);
  process.exit(1);
});
