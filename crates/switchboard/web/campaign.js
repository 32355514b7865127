// The campaign pages of the console (issue 9): the agent's 回访 call-back task panel (next task,
// script, click-to-call, the template's outcome form) and, for supervisors and admins, the
// Campaigns tab (create from a type template, upload the target CSV with its progress and
// per-row error report, launch / pause / stop, live progress). Plain script on top of
// console.js: it uses `window.consoleApp` (state, server, strings, softphone) and redraws on the
// console's `console:render` event, so a language switch redraws it too.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const app = window.consoleApp;
  const { S, api, t } = app;
  const PROGRESS_MS = 3000;
  const IMPORT_POLL_MS = 400;
  const MANAGERS = ['admin', 'supervisor'];

  const C = {
    tab: 'console',
    // Agent panel: none | loading | task | empty | failed | saved
    cb: 'none',
    cbMessage: null, // {key, args}
    task: null, // GET /campaign-tasks/next
    outcome: null, // {result: ok|error, next, lines: [{key, args}]}
    // Supervisor page
    templates: [],
    agents: [],
    campaigns: [],
    progress: {}, // campaign id -> progress
    importView: null,
    importErrors: [],
    importMessage: null,
    formResult: null, // {result, msg}
    actionResult: null,
    timer: null,
    // GET /quotas: my own row (agents) or everyone's (supervisors).
    quota: null,
    quotas: [],
  };

  const tm = (m) => (m ? t(m.key, ...(m.args || [])) : '');
  const isManager = () => Boolean(S.user && MANAGERS.includes(S.user.role));
  const signedIn = () => document.body.dataset.view === 'console';
  const why = (e) => (e && e.field ? `${e.message} (${e.field})` : (e && e.message) || String(e));
  const when = (iso) => (iso ? new Date(iso).toLocaleString(S.lang === 'zh-CN' ? 'zh-CN' : 'en-GB') : '');
  const formField = (key) => (C.task ? C.task.outcome_form.fields.find((f) => f.key === key) : null);
  const label = (key, fallback) => {
    const f = formField(key);
    if (!f) return fallback ? t(fallback) : '';
    return S.lang === 'zh-CN' ? f.label_zh : f.label_en;
  };

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  }

  // --- drawing --------------------------------------------------------------------------

  function render() {
    // Tabs by role: supervisors and admins have the console, Campaigns, Wallboard, Reports and
    // QA (qa.js); QA staff the QA page and the Reports (reports.js); agents only the console.
    const role = signedIn() && S.user ? S.user.role : null;
    const tabs =
      role === 'qa'
        ? ['qa', 'reports']
        : role && isManager()
          ? ['console', 'campaigns', 'wallboard', 'reports', 'qa']
          : ['console'];
    if (!tabs.includes(C.tab)) C.tab = tabs[0];
    $('tabs').hidden = tabs.length < 2;
    document.body.dataset.tab = C.tab;
    document.querySelectorAll('.tab-btn').forEach((b) => {
      b.hidden = !tabs.includes(b.dataset.tab);
      b.classList.toggle('active', b.dataset.tab === C.tab);
    });
    $('campaigns-view').hidden = !(signedIn() && C.tab === 'campaigns');
    $('qa-view').hidden = !(signedIn() && C.tab === 'qa');
    renderTask();
    renderQuota();
    renderCampaignForm();
    renderImport();
    renderCampaigns();
  }

  // The agent's own progress against the quota (service rules: 100 effective calls a day,
  // 15 + 10 visits a month) and the supervisors' table of every agent.
  function renderQuota() {
    const q = C.quota;
    let line = '';
    if (q) {
      const p = q.progress;
      line = t('cb_quota', p.effective_today, p.target_today, p.effective_month, p.target_month_to_date, p.visits_month, p.visits_target);
      if (q.payout) line += t('cb_deductions', q.payout.call_deduction_pct, q.payout.visit_deduction_pct);
    }
    $('cb-quota').textContent = line;
    const name = (id) => (C.agents.find((a) => a.id === id) || {}).display_name || id;
    $('quota-table').tBodies[0].replaceChildren(
      ...C.quotas.map((r) =>
        el('tr', { dataset: { agent: r.agent_id }, 'data-testid': 'quota-row' },
          el('td', { dataset: { col: 'agent' }, text: name(r.agent_id) }),
          el('td', { dataset: { col: 'days' }, text: String(r.days_worked) }),
          el('td', { dataset: { col: 'calls' }, text: String(r.effective_calls) }),
          el('td', { dataset: { col: 'avg' }, text: r.payout ? (r.payout.avg_calls_centi / 100).toFixed(1) : '–' }),
          el('td', { dataset: { col: 'visits' }, text: `${r.callback_visits} + ${r.other_visits}` }),
          el('td', { dataset: { col: 'deductions' }, text: r.payout ? `−${r.payout.call_deduction_pct} % / −${r.payout.visit_deduction_pct} %` : '–' }))),
    );
  }

  async function loadQuota() {
    if (!signedIn()) return;
    try {
      const report = await api('GET', '/quotas');
      C.quotas = isManager() ? report.agents : [];
      C.quota = report.agents.find((a) => a.agent_id === S.user.id) || null;
    } catch (e) {
      // Figures are a help, not a step of the work: keep the last ones.
      return;
    }
    renderQuota();
  }

  // The monthly report as the API writes it (Accept: text/csv), saved as a file.
  async function exportQuotas() {
    const res = await fetch('/api/v1/quotas', { headers: { Authorization: `Bearer ${S.token}`, Accept: 'text/csv' } });
    if (!res.ok) return;
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: `quotas-${new Date().toISOString().slice(0, 7)}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function renderTask() {
    const card = $('cb-card');
    card.dataset.state = C.cb;
    $('btn-cb-next').disabled = C.cb === 'loading';
    $('cb-message').textContent = tm(C.cbMessage);
    $('cb-body').hidden = C.cb !== 'task';
    const out = $('cb-outcome');
    out.dataset.result = C.outcome ? C.outcome.result : '';
    out.dataset.next = C.outcome && C.outcome.next ? C.outcome.next : '';
    out.className = `form-result ${C.outcome ? C.outcome.result : ''}`;
    out.textContent = C.outcome ? C.outcome.lines.map(tm).join(' ') : '';
    if (C.cb !== 'task' || !C.task) return;
    const task = C.task;
    $('cb-campaign').textContent = t('cb_campaign', task.campaign_name, task.task.attempts + 1, task.task.max_attempts);
    $('cb-customer').textContent = task.customer.name || task.dial;
    $('cb-key').hidden = !task.task.key_customer;
    $('cb-number').textContent = task.dial;
    $('cb-local').textContent = t('cb_local', task.customer_local_time, when(task.task.booked_at || task.task.due_at));
    // The script: the common lines, then both satisfaction branches; the branch of the answer
    // picked in the form is highlighted so the agent reads the right one.
    const sc = task.script;
    const picked = (document.querySelector('input[name=satisfaction]:checked') || {}).value;
    const branch = (key, ask, close, on) =>
      el('li', { class: `branch${on ? ' picked' : ''}`, dataset: { branch: key } },
        el('strong', { text: `${t(key === 'satisfied' ? 'cb_if_satisfied' : 'cb_if_not')}: ` }),
        el('span', { text: ask }), el('br'), el('span', { class: 'muted', text: close }));
    $('cb-script').replaceChildren(
      el('li', { text: sc.greeting }),
      el('li', { text: sc.purpose }),
      el('li', { text: sc.satisfaction_question }),
      branch('satisfied', sc.ask_suggestions, sc.closing_satisfied, picked === 'satisfied'),
      branch('other', sc.ask_improvements, sc.closing_not_satisfied, picked && picked !== 'satisfied'),
    );
    // Labels come from the template's outcome form (both languages), the rest from i18n.js.
    $('cb-label-reached').textContent = label('reached');
    $('cb-label-satisfaction').textContent = label('satisfaction');
    $('cb-label-suggestion').textContent = label('suggestion');
    $('cb-label-callback').textContent = label('callback_at');
    $('cb-label-note').textContent = label('note');
    $('cb-label-visit').textContent = label('visit');
    $('cb-label-visit-at').textContent = label('visit_at');
    const result = $('cb-result-kind').value;
    $('cb-reached-fields').hidden = result !== 'answered';
    $('cb-booked-fields').hidden = result !== 'call_back_later';
    $('cb-visit-fields').hidden = !(formField('visit') && result === 'answered');
  }

  function renderCampaignForm() {
    const type = $('camp-type');
    const chosen = type.value;
    type.replaceChildren(
      ...C.templates.map((tp) => el('option', { value: tp.type, text: S.lang === 'zh-CN' ? tp.name_zh : tp.name_en })),
    );
    if (chosen) type.value = chosen;
    const box = $('camp-agents');
    const checked = new Set([...box.querySelectorAll('input:checked')].map((i) => i.value));
    const legend = el('legend', { text: t('camp_agents') });
    const rows = C.agents.map((u) => {
      const input = el('input', { type: 'checkbox', value: u.id, 'data-testid': `agent-${u.username}` });
      input.checked = checked.has(u.id);
      return el('label', { class: 'check' }, input, ` ${u.display_name || u.username} (${u.username})`);
    });
    box.replaceChildren(legend, ...(rows.length ? rows : [el('p', { class: 'muted small-text', text: t('camp_no_agents') })]));
    const r = $('camp-form-result');
    r.className = `form-result ${C.formResult ? C.formResult.result : ''}`;
    r.dataset.result = C.formResult ? C.formResult.result : '';
    r.textContent = C.formResult ? tm(C.formResult.msg) : '';
  }

  function renderImport() {
    const v = C.importView;
    const status = $('imp-status');
    status.dataset.state = v ? v.state : C.importMessage ? 'error' : 'none';
    $('imp-bar').hidden = !v;
    if (v) {
      $('imp-bar').max = Math.max(v.rows_total, 1);
      $('imp-bar').value = v.state === 'running' ? v.rows_processed : Math.max(v.rows_total, 1);
    }
    let text = tm(C.importMessage);
    if (v && v.state === 'running') text = t('imp_running', v.rows_processed, v.rows_total);
    else if (v && v.state === 'done') {
      text = t('imp_done', v.rows_created, v.rows_updated, v.rows_failed);
      if (v.rows_failed) text += ` ${t('imp_errors_below')}`;
    } else if (v && v.state === 'failed') text = t('imp_failed', v.failure || '');
    $('imp-text').textContent = text;
    const table = $('imp-errors');
    table.hidden = C.importErrors.length === 0;
    table.tBodies[0].replaceChildren(
      ...C.importErrors.map((e) =>
        el('tr', { dataset: { row: String(e.row) } },
          el('td', { text: String(e.row) }), el('td', { text: e.column || '' }),
          el('td', { text: e.value || '' }), el('td', { text: e.message }))),
    );
  }

  function renderCampaigns() {
    $('camp-empty').hidden = C.campaigns.length > 0;
    const body = $('camp-table').tBodies[0];
    body.replaceChildren(
      ...C.campaigns.map((c) => {
        const p = C.progress[c.id];
        const cell = (col, text) => el('td', { dataset: { col }, text: p ? String(text) : '–' });
        const key = p ? p.key_customers : null;
        const keyCell = el('td', { dataset: { col: 'key' } });
        if (key) {
          keyCell.append(`${key.done}/${key.total} (${Math.round(key.percent)}%)`);
          if (key.needs_supervisor) keyCell.append(el('br'), el('span', { class: 'badge dnc', text: t('camp_needs_supervisor', key.needs_supervisor) }));
        }
        const btn = (action, text, show) =>
          show ? el('button', { type: 'button', class: 'small', 'data-action': action, 'data-testid': `camp-${action}` }, text) : '';
        const actions = el('td', { class: 'actions' },
          btn('start', t('camp_launch'), c.state === 'draft' || c.state === 'paused'),
          btn('pause', t('camp_pause'), c.state === 'running'),
          btn('stop', t('camp_stop'), c.state === 'running' || c.state === 'paused'));
        actions.querySelectorAll('button').forEach((b) => b.addEventListener('click', () => steer(c, b.dataset.action)));
        return el('tr', { dataset: { id: c.id, name: c.name, state: c.state }, 'data-testid': 'camp-row' },
          el('td', { dataset: { col: 'name' } }, el('strong', { text: c.name }), el('br'), el('span', { class: 'muted small-text', text: typeName(c.type) })),
          el('td', { dataset: { col: 'state' } }, el('span', { class: `badge state-${c.state}`, text: t(`camp_state_${c.state}`) })),
          cell('total', p && p.total), cell('done', p && p.done), cell('open', p && p.open),
          cell('due_today', p && p.due_today), cell('overdue', p && p.overdue), keyCell, actions);
      }),
    );
    const r = $('camp-action-result');
    r.className = `form-result ${C.actionResult ? C.actionResult.result : ''}`;
    r.textContent = C.actionResult ? tm(C.actionResult.msg) : '';
  }

  function typeName(type) {
    const tp = C.templates.find((x) => x.type === type);
    if (!tp) return type;
    return S.lang === 'zh-CN' ? tp.name_zh : tp.name_en;
  }

  // --- the agent's call-back task -------------------------------------------------------

  async function nextTask() {
    C.cb = 'loading';
    C.cbMessage = { key: 'cb_loading' };
    C.outcome = null;
    render();
    try {
      const next = await api('GET', '/campaign-tasks/next');
      C.task = next;
      if (next) {
        C.cb = 'task';
        C.cbMessage = null;
        $('cb-form').reset();
        $('cb-talk').value = '0';
      } else {
        C.cb = 'empty';
        C.cbMessage = { key: 'cb_none' };
      }
    } catch (e) {
      C.cb = 'failed';
      C.cbMessage = { key: 'cb_failed', args: [why(e)] };
    }
    render();
  }

  // The form as the outcome API takes it, or a message naming what is missing.
  function outcomeBody() {
    const result = $('cb-result-kind').value;
    const note = $('cb-note').value.trim();
    const body = { result };
    if (note) body.note = note;
    if (result === 'answered') {
      const sat = document.querySelector('input[name=satisfaction]:checked');
      if (!sat) return { missing: 'cb_need_satisfaction' };
      if (!note) return { missing: 'cb_need_note' };
      body.talk_seconds = Math.max(0, parseInt($('cb-talk').value, 10) || 0);
      body.satisfaction = sat.value;
      const suggestion = $('cb-suggestion').value.trim();
      if (suggestion) body.suggestion = suggestion;
      if (formField('visit')) {
        body.visit = $('cb-visit').value;
        if (body.visit === 'booked') {
          if (!$('cb-visit-at').value) return { missing: 'cb_need_visit_at' };
          body.visit_at = new Date($('cb-visit-at').value).toISOString();
        }
      }
    }
    if (result === 'call_back_later') {
      if (!$('cb-booked').value) return { missing: 'cb_need_booked' };
      body.booked_at = new Date($('cb-booked').value).toISOString();
    }
    return { body };
  }

  async function saveOutcome(ev) {
    ev.preventDefault();
    if (!C.task) return;
    const { body, missing } = outcomeBody();
    if (missing) {
      C.outcome = { result: 'error', lines: [{ key: missing }] };
      render();
      return;
    }
    $('btn-cb-save').disabled = true;
    try {
      const r = await api('POST', `/campaign-tasks/${C.task.task.id}/outcome`, body);
      const n = r.next;
      const lines = [
        n.kind === 'dial_now' ? { key: 'cb_next_dial_now', args: [n.number] }
          : n.kind === 'retry_at' ? { key: 'cb_next_retry_at', args: [when(n.at)] }
          : n.kind === 'booked' ? { key: 'cb_next_booked', args: [when(n.at)] }
          : { key: `cb_next_${n.kind}` },
      ];
      if (n.escalate) lines.push({ key: 'cb_escalated' });
      if (body.result === 'answered') lines.push({ key: r.effective ? 'cb_effective' : 'cb_not_effective' });
      C.outcome = { result: 'ok', next: n.kind, lines };
      C.task = null;
      C.cb = 'saved';
      C.cbMessage = null;
      loadQuota();
    } catch (e) {
      C.outcome = { result: 'error', lines: [{ key: 'cb_save_failed', args: [why(e)] }] };
    }
    $('btn-cb-save').disabled = false;
    render();
  }

  // --- supervisors: campaigns -----------------------------------------------------------

  async function loadSetup() {
    try {
      const [templates, users] = await Promise.all([api('GET', '/campaign-templates'), api('GET', '/users')]);
      C.templates = templates;
      C.agents = users.filter((u) => u.role === 'agent');
    } catch (e) {
      C.formResult = { result: 'error', msg: { key: 'camp_failed', args: [why(e)] } };
    }
    render();
  }

  async function refreshCampaigns() {
    if (!signedIn() || !isManager()) return;
    try {
      C.campaigns = await api('GET', '/campaigns');
      const shown = C.campaigns.filter((c) => c.state !== 'draft');
      const progress = await Promise.all(shown.map((c) => api('GET', `/campaigns/${c.id}/progress`)));
      C.progress = {};
      progress.forEach((p) => (C.progress[p.campaign_id] = p));
    } catch (e) {
      // The console's problem banner already says when the server is gone; keep the last figures.
      return;
    }
    renderCampaigns();
  }

  async function upload() {
    const file = $('camp-file').files[0];
    const tag = $('camp-tag').value.trim();
    C.importView = null;
    C.importErrors = [];
    C.importMessage = !file ? { key: 'imp_no_file' } : !tag ? { key: 'imp_need_tag' } : null;
    if (C.importMessage) return render();
    $('btn-camp-upload').disabled = true;
    try {
      const q = new URLSearchParams({ tag, file_name: file.name });
      const res = await fetch(`/api/v1/customers/imports?${q}`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${S.token}`, 'Content-Type': 'text/csv' },
        body: file,
      });
      const data = await res.json().catch(() => null);
      if (!res.ok) throw Object.assign(new Error((data && data.error && data.error.message) || `HTTP ${res.status}`), { field: data && data.error && data.error.field });
      C.importView = data;
      render();
      while (C.importView.state === 'running') {
        await new Promise((r) => setTimeout(r, IMPORT_POLL_MS));
        C.importView = await api('GET', `/customers/imports/${data.id}`);
        renderImport();
      }
      if (C.importView.rows_failed > 0) {
        const report = await api('GET', `/customers/imports/${data.id}/errors?limit=500`);
        C.importErrors = report.items;
      }
    } catch (e) {
      C.importView = null;
      C.importMessage = { key: 'imp_failed', args: [why(e)] };
    }
    $('btn-camp-upload').disabled = false;
    render();
  }

  // The local day's start (or end) as an instant: the supervisor thinks in their own dates.
  const dayStart = (d) => new Date(`${d}T00:00:00`).toISOString();
  const dayEnd = (d) => new Date(`${d}T23:59:59`).toISOString();

  async function createCampaign(ev) {
    ev.preventDefault();
    const tag = $('camp-tag').value.trim();
    const agents = [...$('camp-agents').querySelectorAll('input:checked')].map((i) => i.value);
    const missing = [];
    if (!$('camp-type').value) missing.push(t('camp_type'));
    if (!$('camp-start').value) missing.push(t('camp_start'));
    if (!$('camp-end').value) missing.push(t('camp_end'));
    if (!tag) missing.push(t('camp_tag'));
    if (!agents.length) missing.push(t('camp_agents'));
    if (missing.length) {
      C.formResult = { result: 'error', msg: { key: 'camp_need', args: [missing.join(', ')] } };
      return render();
    }
    const list = (id) => $(id).value.split(/[,，;]/).map((s) => s.trim()).filter(Boolean);
    const rest = list('camp-rest');
    const holidays = list('camp-holidays');
    const body = {
      type: $('camp-type').value,
      language: S.lang === 'zh-CN' ? 'zh-CN' : 'en',
      starts_at: dayStart($('camp-start').value),
      ends_at: dayEnd($('camp-end').value),
      agents,
      dial_mode: $('camp-dial').value,
      max_attempts: parseInt($('camp-attempts').value, 10) || 0,
      target: { tags: [tag] },
      calling: { rest, holidays },
    };
    const name = $('camp-name').value.trim();
    if (name) body.name = name;
    $('btn-camp-create').disabled = true;
    try {
      const c = await api('POST', '/campaigns', body);
      C.formResult = { result: 'ok', msg: { key: 'camp_created', args: [c.name] } };
      await refreshCampaigns();
    } catch (e) {
      C.formResult = { result: 'error', msg: { key: 'camp_failed', args: [why(e)] } };
    }
    $('btn-camp-create').disabled = false;
    render();
  }

  async function steer(c, action) {
    try {
      const r = await api('POST', `/campaigns/${c.id}/${action}`);
      C.actionResult = r.tasks_created || (r.skipped && r.skipped.length)
        ? { result: 'ok', msg: { key: 'camp_launched', args: [c.name, r.tasks_created, r.skipped.length] } }
        : { result: 'ok', msg: { key: 'camp_changed', args: [c.name, t(`camp_state_${r.campaign.state}`)] } };
    } catch (e) {
      C.actionResult = { result: 'error', msg: { key: 'camp_action_failed', args: [why(e)] } };
    }
    await refreshCampaigns();
    render();
  }

  // --- wiring ---------------------------------------------------------------------------

  function start() {
    C.cb = 'none';
    C.cbMessage = null;
    C.task = null;
    C.outcome = null;
    if (isManager()) {
      const today = new Date();
      const iso = (d) => `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
      $('camp-start').value = iso(today);
      $('camp-end').value = iso(new Date(today.getTime() + 30 * 86400000));
      loadSetup();
      refreshCampaigns();
      C.timer = setInterval(() => {
        refreshCampaigns();
        loadQuota();
      }, PROGRESS_MS);
    }
    loadQuota();
    render();
  }

  function stop() {
    clearInterval(C.timer);
    C.timer = null;
    Object.assign(C, { tab: 'console', task: null, cb: 'none', cbMessage: null, outcome: null, campaigns: [], progress: {}, quota: null, quotas: [] });
    Object.assign(C, { importView: null, importErrors: [], importMessage: null, formResult: null, actionResult: null });
    render();
  }

  function init() {
    document.addEventListener('console:render', render);
    document.addEventListener('console:start', start);
    document.addEventListener('console:stop', stop);
    document.querySelectorAll('.tab-btn').forEach((b) =>
      b.addEventListener('click', () => {
        C.tab = b.dataset.tab;
        if (C.tab === 'campaigns') refreshCampaigns();
        render();
      }));
    $('btn-cb-next').addEventListener('click', nextTask);
    $('btn-cb-call').addEventListener('click', () => C.task && app.call(C.task.dial));
    $('cb-form').addEventListener('submit', saveOutcome);
    // A "fill in X" line belongs to the attempt it was about: changing the form clears it.
    $('cb-form').addEventListener('input', () => {
      if (C.outcome && C.outcome.result === 'error') {
        C.outcome = null;
        renderTask();
      }
    });
    $('cb-result-kind').addEventListener('change', renderTask);
    document.querySelectorAll('input[name=satisfaction]').forEach((r) => r.addEventListener('change', renderTask));
    $('btn-camp-upload').addEventListener('click', upload);
    $('btn-quota-csv').addEventListener('click', exportQuotas);
    $('camp-form').addEventListener('submit', createCampaign);
    render();
  }

  init();
})();
