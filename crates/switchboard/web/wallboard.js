// The supervisors' Wallboard tab (issue 11): agents with their state and time in state, queues
// with waiting callers, the longest wait (alert colour past the queue's threshold), today's
// service level, ASA, AHT and abandon rate, running campaigns against their targets and each
// agent's effective calls against the daily quota, overdue tickets (工单).
//
// Pushed, not polled: the page reads `GET /api/v1/wallboard/events` (server-sent events) with
// fetch(), which can send the bearer token in a header (EventSource cannot), and redraws on each
// `board` event; times in state and waits are counted here from the board's instants, once a
// second. A dropped stream reconnects by itself after a short pause.
//
// Stable elements for other features (listen / whisper / barge buttons): one row per agent,
// `tr[data-agent=<user id>]`, kept across updates, with `data-status` and `data-call` (the call
// id while on one) and an empty `td.wb-actions`; one row per queue, `tr[data-queue=<id>]`
// (class `alert` past the wait threshold).
//
// For tests: `window.wallboard.log` lists every agent state change and queue alert change the
// page received, with the page's own receipt time (`Date.now()`).
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const app = window.consoleApp;
  const { S, t } = app;
  const WATCHERS = ['admin', 'supervisor'];
  const RECONNECT_MS = 2000;

  const W = {
    board: null,
    receivedAt: 0,
    link: 'idle', // idle | connecting | live | lost
    abort: null,
    ticker: null,
    retry: null,
    log: [],
  };
  window.wallboard = W;

  const isWatcher = () => Boolean(S.user && WATCHERS.includes(S.user.role));
  const active = () => document.body.dataset.view === 'console' && document.body.dataset.tab === 'wallboard' && isWatcher();

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

  const pct = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
  const secs = (x) => (x === null || x === undefined ? '—' : t('wb_secs', Math.round(x)));
  function clock(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(2, '0');
    const ss = String(s % 60).padStart(2, '0');
    return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }
  // The server's instants, moved onto this browser's clock (the board says when it was made).
  const skew = () => (W.board ? W.receivedAt - W.board.at : 0);
  const elapsed = (since) => Date.now() - (since + skew());

  // --- the stream -----------------------------------------------------------------------

  async function connect() {
    if (W.abort || !active()) return;
    const abort = new AbortController();
    W.abort = abort;
    W.link = 'connecting';
    renderLink();
    try {
      const res = await fetch('/api/v1/wallboard/events', {
        headers: { Authorization: `Bearer ${S.token}`, Accept: 'text/event-stream' },
        signal: abort.signal,
      });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let cut;
        while ((cut = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          onBlock(block);
        }
      }
      throw new Error('stream ended');
    } catch (e) {
      if (W.abort !== abort) return; // stopped on purpose
      W.abort = null;
      W.link = 'lost';
      renderLink();
      clearTimeout(W.retry);
      W.retry = setTimeout(connect, RECONNECT_MS);
    }
  }

  function disconnect() {
    clearTimeout(W.retry);
    W.retry = null;
    const a = W.abort;
    W.abort = null;
    if (a) a.abort();
    W.link = 'idle';
  }

  function onBlock(block) {
    let event = 'message';
    const data = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue; // keep-alive comment
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
    }
    if (event !== 'board' || !data.length) return;
    const board = JSON.parse(data.join('\n'));
    const at = Date.now();
    noteChanges(W.board, board, at);
    W.board = board;
    W.receivedAt = at;
    W.link = 'live';
    render();
  }

  // What changed since the last board, with the time it reached the page.
  function noteChanges(before, after, at) {
    const prev = new Map(((before && before.agents) || []).map((a) => [a.agent, a]));
    for (const a of after.agents) {
      const p = prev.get(a.agent);
      if (!p || p.status !== a.status || p.since !== a.since) W.log.push({ kind: 'agent', agent: a.agent, status: a.status, at });
    }
    const prevQ = new Map(((before && before.queues) || []).map((q) => [q.queue, q]));
    for (const q of after.queues) {
      const p = prevQ.get(q.queue);
      if (!p || p.waiting !== q.waiting || p.wait_alert !== q.wait_alert) {
        W.log.push({ kind: 'queue', queue: q.queue, waiting: q.waiting, alert: q.wait_alert, at });
      }
    }
    if (W.log.length > 2000) W.log.splice(0, W.log.length - 2000);
  }

  // --- drawing --------------------------------------------------------------------------

  function renderLink() {
    const pill = $('wb-link');
    pill.dataset.state = W.link === 'live' ? 'ready' : W.link === 'lost' ? 'failed' : 'connecting';
    $('wb-link-text').textContent = t(`wb_link_${W.link}`);
  }

  // Rows keyed by id: an existing row is updated in place (other features' buttons in it
  // survive), new ones are appended in board order, gone ones removed.
  function keyedRows(tbody, key, items, make, update) {
    const existing = new Map([...tbody.rows].map((r) => [r.dataset[key], r]));
    const keep = new Set();
    items.forEach((item, i) => {
      const id = item[key];
      keep.add(id);
      let row = existing.get(id);
      if (!row) row = make(item);
      update(row, item);
      if (tbody.rows[i] !== row) tbody.insertBefore(row, tbody.rows[i] || null);
    });
    for (const [id, row] of existing) if (!keep.has(id)) row.remove();
  }

  function stateText(a) {
    const base = t(`state_${a.status}`);
    if (a.status === 'not_ready' && a.reason) {
      const known = `reason_${a.reason}` in window.I18N.en;
      return `${base} · ${known ? t(`reason_${a.reason}`) : a.reason}`;
    }
    return base;
  }

  // Listen / Whisper / Barge on an agent's call: this page's softphone dials the dial codes
  // (*81 / *82 / *83 + the agent's extension, see the README) — the supervisor hears the call
  // in the browser. Shown while the agent is on a call and this page's phone can call.
  const MONITOR_CODES = [['listen', '*81'], ['whisper', '*82'], ['barge', '*83']];

  function renderMonitor(cell, a) {
    const onCall = a.status === 'on_call' || Boolean(a.outside_call);
    const canCall = Boolean(S.ua && !S.session && S.reg === 'registered');
    const want = onCall && a.extension ? MONITOR_CODES : [];
    const key = want.length ? `${a.extension}:${canCall}:${S.lang}` : '';
    if (cell.dataset.key === key) return;
    cell.dataset.key = key;
    cell.replaceChildren(
      ...want.map(([mode, code]) => {
        const b = el('button', { type: 'button', class: 'small', text: t(`wb_${mode}`), 'data-testid': `wb-${mode}-${a.agent}` });
        b.disabled = !canCall;
        b.title = canCall ? `${code}${a.extension}` : t('wb_monitor_needs_phone');
        b.addEventListener('click', () => app.call(`${code}${a.extension}`));
        return b;
      }),
    );
  }

  function renderAgents() {
    const agents = W.board ? W.board.agents : [];
    $('wb-agents-empty').hidden = agents.length > 0;
    keyedRows(
      $('wb-agents').tBodies[0],
      'agent',
      agents,
      (a) =>
        el('tr', { dataset: { agent: a.agent }, 'data-testid': `wb-agent-${a.agent}` },
          el('td', { class: 'wb-name' }),
          el('td', {}, el('span', { class: 'pill wb-state' }, el('span', { class: 'dot' }), el('span', { class: 'wb-state-text' }))),
          el('td', { class: 'wb-since timer' }),
          el('td', { class: 'wb-quota' }),
          el('td', { class: 'wb-actions', dataset: { agent: a.agent } })),
      (row, a) => {
        row.dataset.status = a.status;
        row.dataset.since = String(a.since);
        if (a.call) row.dataset.call = a.call;
        else delete row.dataset.call;
        row.querySelector('.wb-name').textContent = a.name;
        const pill = row.querySelector('.wb-state');
        pill.dataset.state = a.status;
        row.querySelector('.wb-state-text').textContent = stateText(a);
        const quota = row.querySelector('.wb-quota');
        const share = a.effective_calls_quota > 0 ? Math.min(1, a.effective_calls_today / a.effective_calls_quota) : 0;
        quota.replaceChildren(
          el('span', { class: 'wb-bar' }, el('span', { class: 'wb-bar-fill', style: `width:${(share * 100).toFixed(0)}%` })),
          ` ${a.effective_calls_today} / ${a.effective_calls_quota}`,
        );
        renderMonitor(row.querySelector('.wb-actions'), a);
      },
    );
  }

  function renderQueues() {
    const queues = W.board ? W.board.queues : [];
    $('wb-queues-empty').hidden = queues.length > 0;
    keyedRows(
      $('wb-queues').tBodies[0],
      'queue',
      queues,
      (q) =>
        el('tr', { dataset: { queue: q.queue }, 'data-testid': `wb-queue-${q.queue}` },
          el('td', { class: 'wb-name' }), el('td', { class: 'wb-waiting' }), el('td', { class: 'wb-longest timer' }),
          el('td', { class: 'wb-agents' }), el('td', { class: 'wb-sl' }), el('td', { class: 'wb-asa' }),
          el('td', { class: 'wb-aht' }), el('td', { class: 'wb-abandon' })),
      (row, q) => {
        row.dataset.waiting = String(q.waiting);
        if (q.longest_wait_since !== null) row.dataset.since = String(q.longest_wait_since);
        else delete row.dataset.since;
        row.dataset.threshold = String(q.wait_alert_secs);
        row.querySelector('.wb-name').textContent = q.name;
        row.querySelector('.wb-waiting').textContent = String(q.waiting);
        row.querySelector('.wb-agents').textContent = t('wb_ready_of', q.agents_ready, q.agents_logged_in);
        const d = q.today || {};
        row.querySelector('.wb-sl').textContent = pct(d.service_level);
        row.querySelector('.wb-asa').textContent = secs(d.asa_secs);
        row.querySelector('.wb-aht').textContent = secs(d.aht_secs);
        row.querySelector('.wb-abandon').textContent = pct(d.abandon_rate);
      },
    );
  }

  function renderCampaigns() {
    const list = W.board ? W.board.campaigns : [];
    $('wb-campaigns-empty').hidden = list.length > 0;
    $('wb-campaigns').replaceChildren(
      ...list.map((c) => {
        const share = c.total > 0 ? c.done / c.total : 0;
        return el('li', { dataset: { campaign: c.id } },
          el('span', { class: 'wb-camp-name', text: c.name }),
          el('span', { class: 'wb-bar' }, el('span', { class: 'wb-bar-fill', style: `width:${(share * 100).toFixed(0)}%` })),
          el('span', { class: 'small-text', text: t('wb_camp_line', c.done, c.total, c.key_done, c.key_total, c.overdue) }));
      }),
    );
  }

  // Once a second: times in state, waits, and the alert colour as a wait crosses its threshold
  // (the server's flag covers the instant of the board; the page keeps it current between).
  function tick() {
    for (const row of $('wb-agents').tBodies[0].rows) {
      row.querySelector('.wb-since').textContent = clock(elapsed(Number(row.dataset.since)));
    }
    for (const row of $('wb-queues').tBodies[0].rows) {
      const cell = row.querySelector('.wb-longest');
      if (row.dataset.since === undefined) {
        cell.textContent = '—';
        row.classList.remove('alert');
        continue;
      }
      const waited = elapsed(Number(row.dataset.since));
      cell.textContent = clock(waited);
      row.classList.toggle('alert', waited >= Number(row.dataset.threshold) * 1000);
    }
    if (W.board) $('wb-updated').textContent = t('wb_updated', new Date(W.receivedAt).toLocaleTimeString(S.lang === 'zh-CN' ? 'zh-CN' : 'en-GB'));
  }

  function render() {
    const show = active();
    $('wallboard-view').hidden = !show;
    const tab = document.querySelector('.tab-btn[data-tab=wallboard]');
    if (tab) tab.hidden = !isWatcher();
    const camp = document.querySelector('.tab-btn[data-tab=campaigns]');
    if (camp && S.user && S.user.role === 'qa') camp.hidden = true;
    if (!show) {
      if (W.abort || W.retry) disconnect();
      return;
    }
    if (!W.abort && !W.retry) connect();
    renderLink();
    renderQueues();
    renderAgents();
    renderCampaigns();
    const overdue = W.board ? W.board.overdue_tickets : 0;
    $('wb-tickets-number').textContent = String(overdue);
    $('wb-tickets').dataset.state = overdue > 0 ? 'alert' : 'ok';
    tick();
  }

  function stop() {
    disconnect();
    W.board = null;
    W.log = [];
    render();
  }

  function init() {
    document.addEventListener('console:render', render);
    document.addEventListener('console:stop', stop);
    // After campaign.js's own handler (loaded first), which sets the tab.
    document.querySelectorAll('.tab-btn').forEach((b) => b.addEventListener('click', render));
    W.ticker = setInterval(() => active() && tick(), 1000);
    render();
  }

  init();
})();
