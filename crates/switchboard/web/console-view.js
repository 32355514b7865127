// The agent console's drawing: every render function reads the console's state `S` (owned by
// console.js) and writes the page; nothing here changes state or talks to the server. Strings
// come from i18n.js through `t`; a message kept as {key, args} is drawn with `tm`, so a language
// switch redraws everything.
'use strict';

window.ConsoleView = (S, { onMarkRead }) => {
  const $ = (id) => document.getElementById(id);

  function t(key, ...args) {
    const table = window.I18N[S.lang] || window.I18N.en;
    const v = key in table ? table[key] : window.I18N.en[key];
    if (v === undefined) return key;
    return typeof v === 'function' ? v(...args) : v;
  }
  // A message is {key, args}; an argument may itself be a message (drawn in the same language).
  const tm = (m) => (m ? t(m.key, ...(m.args || []).map((a) => (a && a.key ? tm(a) : a))) : '');

  // Most urgent first: without the server nothing else matters.
  const PROBLEM_ORDER = ['server', 'ws', 'mic', 'reg'];

  // --- drawing --------------------------------------------------------------------------

  function render() {
    document.documentElement.lang = S.lang;
    document.title = `${t('app_tagline')} · ${t('app_name')}`;
    document.querySelectorAll('[data-i18n]').forEach((el) => (el.textContent = t(el.dataset.i18n)));
    document.querySelectorAll('[data-i18n-placeholder]').forEach((el) => (el.placeholder = t(el.dataset.i18nPlaceholder)));
    document.querySelectorAll('[data-i18n-title]').forEach((el) => (el.title = t(el.dataset.i18nTitle)));
    document.querySelectorAll('[data-lang]').forEach((b) => b.classList.toggle('active', b.dataset.lang === S.lang));
    const inConsole = document.body.dataset.view === 'console';
    $('login-view').hidden = inConsole;
    $('console-view').hidden = !inConsole;
    $('who').hidden = !inConsole;
    $('btn-logout').hidden = !inConsole;
    $('login-error').textContent = tm(S.loginError);
    if (S.user) {
      $('who-name').textContent = S.user.display_name || S.user.username;
      $('who-ext').textContent = S.phoneConfig ? t('extension', S.phoneConfig.extension) : '';
    }
    renderProblem();
    renderWaitAlert();
    renderReg();
    renderState();
    renderPhone();
    renderCustomer();
    renderNote();
    renderHandovers();
    // The campaign pages (campaign.js) draw their own parts on the same redraw.
    document.dispatchEvent(new CustomEvent('console:render'));
  }

  function renderProblem() {
    const kind = PROBLEM_ORDER.find((k) => S.problems[k]);
    const box = $('problem');
    box.hidden = !kind || !S.token;
    box.dataset.kind = kind || '';
    if (!kind) return;
    $('problem-text').textContent = tm(S.problems[kind]);
    $('btn-problem-retry').hidden = !S.problems[kind].retry;
  }

  function renderWaitAlert() {
    const box = $('wait-alert');
    box.hidden = S.waitAlerts.length === 0 || !S.token;
    box.textContent = S.waitAlerts.map((a) => t('wait_alert', a.queue, a.secs)).join(' ');
  }

  function renderReg() {
    const pill = $('reg-status');
    pill.dataset.state = S.reg;
    const key = { none: 'reg_none', connecting: 'reg_connecting', registered: 'reg_registered', unregistered: 'reg_unregistered', failed: 'reg_failed' }[S.reg];
    $('reg-text').textContent = t(key);
    $('btn-call').disabled = S.reg !== 'registered';
    if (S.user) $('who-ext').textContent = S.phoneConfig ? t('extension', S.phoneConfig.extension) : '';
  }

  function stateLabel(a) {
    const key = `state_${a.status}`;
    const label = t(key) === key ? t('state_unknown') : t(key);
    if (a.status === 'not_ready' && a.reason) {
      const rk = `reason_${a.reason}`;
      return `${label} · ${t(rk) === rk ? a.reason : t(rk)}`;
    }
    return label;
  }

  function renderState() {
    const a = S.agent;
    const pill = $('agent-state');
    pill.dataset.state = a.status;
    $('agent-state-text').textContent = stateLabel(a);
    $('state-text').textContent = stateLabel(a);
    $('state-text').dataset.state = a.status;
    $('state-card').dataset.state = a.status;
    const since = a.since ? new Date(a.since) : null;
    $('state-since').textContent = since && !isNaN(since)
      ? t('state_since', since.toLocaleTimeString(S.lang, { hour: '2-digit', minute: '2-digit' }))
      : '';
    const help = { ready: 'state_help_ready', not_ready: 'state_help_not_ready', wrap_up: 'state_help_wrap_up', logged_out: 'state_help_logged_out' }[a.status];
    $('state-help').textContent = help ? t(help) : '';
    const busy = a.status === 'ringing' || a.status === 'on_call';
    $('btn-ready').disabled = busy || a.status === 'ready';
    $('btn-not-ready').disabled = busy;
    $('btn-wrap-up-done').disabled = a.status !== 'wrap_up';
    $('btn-ready').classList.toggle('current', a.status === 'ready');
    $('btn-not-ready').classList.toggle('current', a.status === 'not_ready');
    $('state-error').textContent = tm(S.stateError);
  }

  function renderPhone() {
    const card = $('phone-card');
    card.dataset.phone = S.phone;
    $('phone-idle').hidden = S.phone !== 'idle';
    $('phone-ringing').hidden = S.phone !== 'ringing' && S.phone !== 'outgoing';
    $('phone-incall').hidden = S.phone !== 'incall';
    $('ring-title').textContent = t(S.phone === 'outgoing' ? 'outgoing_title' : 'incoming_title');
    $('btn-answer').hidden = S.phone !== 'ringing';
    $('btn-decline').textContent = t(S.phone === 'outgoing' ? 'btn_cancel_call' : 'btn_decline');
    $('ring-number').textContent = S.callNumber;
    $('ring-name').textContent = S.callName && S.callName !== S.callNumber ? S.callName : '';
    $('call-number').textContent = S.callNumber;
    $('call-name').textContent = $('ring-name').textContent;
    $('btn-hold').textContent = t(S.held ? 'btn_resume' : 'btn_hold');
    $('btn-hold').classList.toggle('on', S.held);
    $('btn-mute').textContent = t(S.muted ? 'btn_unmute' : 'btn_mute');
    $('btn-mute').classList.toggle('on', S.muted);
    $('flag-hold').hidden = !S.held;
    $('flag-mute').hidden = !S.muted;
    $('call-info').textContent = tm(S.callInfo);
    $('phone-last').textContent = tm(S.phoneLast);
    $('btn-call').disabled = S.reg !== 'registered';
    renderTimer();
  }

  function renderTimer() {
    const secs = S.callStart ? Math.floor((Date.now() - S.callStart) / 1000) : 0;
    const mm = String(Math.floor(secs / 60)).padStart(2, '0');
    const ss = String(secs % 60).padStart(2, '0');
    $('call-timer').textContent = `${mm}:${ss}`;
  }

  function renderCustomer() {
    const c = S.customer;
    $('customer-card').dataset.state = c.state;
    const message = {
      none: 'customer_none',
      loading: 'customer_loading',
      unknown: 'customer_unknown',
      failed: 'customer_lookup_failed',
      internal: 'customer_not_phone',
    }[c.state];
    $('customer-message').textContent = message ? t(message) : '';
    $('customer-message').hidden = !message;
    $('customer-body').hidden = c.state !== 'found';
    if (c.state !== 'found') return;
    const m = c.match;
    $('cust-name').textContent = m.name;
    $('cust-key').hidden = !m.key_customer;
    $('cust-dnc').hidden = !m.do_not_call;
    $('cust-grade').textContent = m.grade || '—';
    $('cust-category').textContent = t(`category_${m.category}`);
    $('cust-more').textContent = c.more > 0 ? t('customer_more', c.more) : '';
    const list = $('cust-notes');
    list.replaceChildren();
    if (m.last_notes.length === 0) {
      const li = document.createElement('li');
      li.className = 'muted';
      li.textContent = t('no_notes');
      list.append(li);
    }
    for (const n of m.last_notes) {
      const li = document.createElement('li');
      const meta = document.createElement('span');
      meta.className = 'note-meta';
      const at = new Date(n.at);
      meta.textContent = `${t(`note_kind_${n.kind}`)} · ${isNaN(at) ? n.at : at.toLocaleString(S.lang, { dateStyle: 'short', timeStyle: 'short' })}`;
      const text = document.createElement('span');
      text.className = 'note-text';
      text.textContent = n.text;
      li.append(meta, text);
      list.append(li);
    }
  }

  function renderNote() {
    const r = S.noteResult;
    const box = $('note-result');
    box.textContent = r ? t(r.key, ...(r.args || [])) : '';
    box.className = `form-result ${r ? (r.error ? 'error' : 'ok') : ''}`;
    box.dataset.result = r ? (r.error ? 'error' : r.key) : '';
  }

  function renderHandovers() {
    const list = $('handover-list');
    list.replaceChildren();
    $('handover-empty').hidden = S.handovers.length > 0;
    for (const h of S.handovers) {
      const li = document.createElement('li');
      li.className = 'handover';
      li.dataset.id = h.id;
      const head = document.createElement('div');
      head.className = 'handover-head';
      const shiftKey = `shift_${h.shift}`;
      const shift = t(shiftKey) === shiftKey ? h.shift : t(shiftKey);
      head.textContent = t('handover_from', shift, h.shift_date);
      li.append(head);
      if (h.note) {
        const note = document.createElement('p');
        note.textContent = h.note;
        li.append(note);
      }
      const items = document.createElement('ul');
      for (const i of h.items) {
        const item = document.createElement('li');
        const kind = document.createElement('span');
        kind.className = `badge kind-${i.kind}`;
        kind.textContent = t(`handover_kind_${i.kind}`);
        const who = S.customerNames[i.customer_id];
        item.append(kind, ` ${who ? `${who}: ` : ''}${i.what}`);
        items.append(item);
      }
      li.append(items);
      const read = document.createElement('button');
      read.type = 'button';
      read.className = 'small';
      read.dataset.testid = 'handover-read';
      read.textContent = t('btn_mark_read');
      read.addEventListener('click', () => onMarkRead(h.id));
      li.append(read);
      list.append(li);
    }
  }

  function keypad(container, onDigit) {
    for (const d of ['1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '0', '#']) {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = d;
      b.dataset.digit = d;
      b.addEventListener('click', () => onDigit(d));
      container.append(b);
    }
  }

  return {
    t,
    tm,
    render,
    renderProblem,
    renderWaitAlert,
    renderReg,
    renderState,
    renderPhone,
    renderTimer,
    renderCustomer,
    renderNote,
    renderHandovers,
    keypad,
  };
};
