// The agent console: sign-in, the JsSIP softphone, agent state, screen pop, call notes, the
// hand-over inbox and the queue wait-alert banner. Plain script, no build step; strings come
// from i18n.js. Every dynamic text is kept as {key, args} and drawn by console-view.js, so switching
// the language redraws everything on screen.
//
// For tests and tools the softphone is reachable as `window.softphone`: its JsSIP UA and
// current session, and an event log (`events`) of what JsSIP reported.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const E164 = /^\+[1-9][0-9]{7,14}$/;
  const POLL_MS = 2000;
  const HANDOVER_POLL_MS = 60000;

  const S = {
    lang: pickLanguage(),
    token: null,
    user: null,
    password: null,
    phoneConfig: null,
    ua: null,
    session: null,
    phone: 'idle', // idle | ringing | outgoing | incall
    callNumber: '',
    callName: '',
    callStart: null,
    held: false,
    muted: false,
    reg: 'none', // none | connecting | registered | unregistered | failed
    agent: { status: 'unknown', reason: null, since: null },
    stateHelp: null,
    stateError: null,
    problems: {}, // kind -> {key, args, retry}
    waitAlerts: [],
    customer: { state: 'none' }, // none | loading | found | unknown | failed | internal
    noteResult: null,
    callInfo: null,
    phoneLast: null,
    handovers: [],
    customerNames: {},
    loginError: null,
    timers: [],
  };

  // The drawing (console-view.js): reads S, writes the page; also the i18n lookups.
  const view = window.ConsoleView(S, { onMarkRead: (id) => markRead(id) });
  const { t, tm, render, renderProblem, renderWaitAlert, renderReg, renderState, renderPhone } = view;
  const { renderTimer, renderCustomer, renderNote, renderHandovers, keypad } = view;

  // --- language -------------------------------------------------------------------------

  function pickLanguage() {
    const saved = localStorage.getItem('lang');
    if (saved && window.I18N[saved]) return saved;
    const nav = (navigator.language || 'en').toLowerCase();
    return nav.startsWith('zh') ? 'zh-CN' : 'en';
  }


  function setLanguage(lang) {
    S.lang = lang;
    localStorage.setItem('lang', lang);
    render();
  }

  // --- the server -----------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `HTTP ${status}`);
      this.status = status;
      this.field = body && body.error ? body.error.field : null;
    }
  }

  async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${S.token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res;
    try {
      res = await fetch(`/api/v1${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      setProblem('server', { key: 'problem_server_gone' });
      throw e;
    }
    clearProblem('server');
    const data = res.status === 204 ? null : await res.json().catch(() => null);
    if (res.status === 401 && S.token) {
      signedOut({ key: 'problem_session_expired' });
    }
    if (!res.ok) throw new ApiError(res.status, data);
    return data;
  }

  // --- sign-in --------------------------------------------------------------------------

  async function login(ev) {
    ev.preventDefault();
    const tenant = $('tenant').value.trim();
    const username = $('username').value.trim();
    const password = $('password').value;
    const missing = [];
    if (!username) missing.push(t('username'));
    if (!password) missing.push(t('password'));
    if (missing.length) {
      S.loginError = { key: 'login_missing', args: [missing.join(', ')] };
      render();
      return;
    }
    S.loginError = null;
    $('login-error').textContent = '';
    $('btn-login').disabled = true;
    $('btn-login').textContent = t('signing_in');
    try {
      const res = await fetch('/api/v1/auth/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ tenant: tenant || undefined, username, password }),
      });
      const body = await res.json().catch(() => null);
      if (res.ok) {
        localStorage.setItem('tenant', tenant);
        localStorage.setItem('username', username);
        S.token = body.token;
        S.user = body.user;
        // Kept in memory only: it is also the SIP password, which the softphone needs.
        S.password = password;
        $('password').value = '';
        startConsole();
      } else if (res.status === 429) {
        S.loginError = { key: 'login_locked', args: [res.headers.get('Retry-After') || '60'] };
      } else {
        S.loginError = { key: 'login_bad' };
      }
    } catch (e) {
      S.loginError = { key: 'login_offline' };
    }
    $('btn-login').disabled = false;
    render();
  }

  function startConsole() {
    document.body.dataset.view = 'console';
    S.phoneLast = null;
    render();
    startPhone();
    checkMicrophone();
    pollLive();
    loadHandovers();
    S.timers.push(setInterval(pollLive, POLL_MS));
    S.timers.push(setInterval(loadHandovers, HANDOVER_POLL_MS));
    document.dispatchEvent(new CustomEvent('console:start'));
  }

  function signedOut(reason) {
    S.timers.forEach(clearInterval);
    S.timers = [];
    if (S.ua) {
      S.ua.removeAllListeners();
      S.ua.stop();
    }
    S.ua = null;
    S.session = null;
    S.token = null;
    S.password = null;
    S.problems = {};
    S.waitAlerts = [];
    S.reg = 'none';
    S.phone = 'idle';
    S.customer = { state: 'none' };
    S.loginError = reason || null;
    document.body.dataset.view = 'login';
    document.dispatchEvent(new CustomEvent('console:stop'));
    render();
  }

  async function logout() {
    const token = S.token;
    // Out of the queues first, so no call is offered to a console that is gone.
    if (S.agent.status !== 'logged_out') {
      await api('PUT', '/agents/me/state', { state: 'logged_out' }).catch(() => {});
    }
    signedOut(null);
    if (token) {
      fetch('/api/v1/auth/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
    }
  }

  // --- problems shown in words ----------------------------------------------------------


  function setProblem(kind, message) {
    S.problems[kind] = message;
    renderProblem();
  }

  function clearProblem(kind) {
    if (S.problems[kind]) {
      delete S.problems[kind];
      renderProblem();
    }
  }

  // --- softphone ------------------------------------------------------------------------

  const softphone = (window.softphone = {
    events: [],
    get ua() {
      return S.ua;
    },
    get session() {
      return S.session;
    },
    get state() {
      return { phone: S.phone, reg: S.reg, held: S.held, muted: S.muted, number: S.callNumber };
    },
    answer: () => answer(),
    hangup: () => hangup(),
    call: (n) => call(n),
  });

  function log(name, detail) {
    softphone.events.push({ name, detail: detail || null, at: Date.now() });
  }

  async function startPhone() {
    let cfg;
    try {
      cfg = await api('GET', '/me/softphone');
    } catch (e) {
      if (e.status === 404 || e.status === 403) {
        S.reg = 'none';
        setProblem('reg', { key: 'problem_no_extension' });
      }
      render();
      return;
    }
    S.phoneConfig = cfg;
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new JsSIP.WebSocketInterface(`${scheme}://${location.host}${cfg.ws_path}`);
    const ua = new JsSIP.UA({
      sockets: [socket],
      uri: cfg.uri,
      password: S.password,
      display_name: S.user.display_name || S.user.username,
      register: true,
      register_expires: 300,
      session_timers: false,
      user_agent: 'Switchboard console',
      // Reconnect quickly after a network blip; JsSIP registers again once connected.
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 30,
    });
    S.ua = ua;
    S.reg = 'connecting';
    ua.on('connecting', () => {
      log('connecting');
      if (S.reg !== 'registered') S.reg = 'connecting';
      renderReg();
    });
    ua.on('connected', () => {
      log('connected');
      clearProblem('ws');
    });
    ua.on('disconnected', () => {
      log('disconnected');
      S.reg = 'unregistered';
      setProblem('ws', { key: 'problem_ws_down' });
      renderReg();
    });
    ua.on('registered', () => {
      log('registered');
      S.reg = 'registered';
      clearProblem('reg');
      clearProblem('ws');
      renderReg();
    });
    ua.on('unregistered', () => {
      log('unregistered');
      S.reg = 'unregistered';
      renderReg();
    });
    ua.on('registrationFailed', (e) => {
      log('registrationFailed', { cause: e.cause });
      S.reg = 'failed';
      // A lost socket is reported as such; this is for the server saying no.
      if (e.cause !== JsSIP.C.causes.CONNECTION_ERROR) {
        const C = JsSIP.C.causes;
        const words = { [C.AUTHENTICATION_ERROR]: 'cause_auth', [C.REJECTED]: 'cause_rejected', [C.REQUEST_TIMEOUT]: 'cause_timeout' }[e.cause];
        setProblem('reg', { key: 'problem_reg_failed', args: [words ? { key: words } : e.cause] });
      }
      renderReg();
    });
    ua.on('newRTCSession', onSession);
    ua.start();
    renderReg();
  }

  function onSession(e) {
    const session = e.session;
    if (S.session && S.session !== session) {
      // One call at a time: a second incoming call is busy here (the ACD offers it elsewhere).
      if (e.originator === 'remote') session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
      return;
    }
    S.session = session;
    S.callNumber = session.remote_identity.uri.user;
    S.callName = session.remote_identity.display_name || '';
    S.held = false;
    S.muted = false;
    S.callInfo = null;
    S.phoneLast = null;
    S.noteResult = null;
    renderNote();
    log('newRTCSession', { originator: e.originator, from: S.callNumber });
    setPhone(e.originator === 'remote' ? 'ringing' : 'outgoing');
    lookupCustomer(S.callNumber);
    if (E164.test(S.callNumber)) {
      $('note-phone').value = S.callNumber;
    }
    // A dialer call: the customer is already on the line and must hear an agent within 2 s, so
    // the console picks up by itself (the ringing panel and the customer file show who it is).
    if (e.originator === 'remote' && e.request && e.request.hasHeader('X-Switchboard-Dialer')) {
      log('dialer call: answering at once');
      setTimeout(answer, 0);
    }

    session.on('peerconnection', (p) => attachAudio(p.peerconnection));
    if (session.connection) attachAudio(session.connection);
    session.on('progress', () => log('progress'));
    session.on('accepted', () => log('accepted'));
    session.on('confirmed', () => {
      log('confirmed');
      S.callStart = Date.now();
      setPhone('incall');
    });
    session.on('hold', () => {
      S.held = true;
      log('hold');
      renderPhone();
    });
    session.on('unhold', () => {
      S.held = false;
      log('unhold');
      renderPhone();
    });
    session.on('muted', () => {
      S.muted = true;
      log('muted');
      renderPhone();
    });
    session.on('unmuted', () => {
      S.muted = false;
      log('unmuted');
      renderPhone();
    });
    const finish = (name) => (x) => {
      log(name, { cause: x.cause, originator: x.originator });
      if (S.session !== session) return;
      S.session = null;
      S.callStart = null;
      S.phoneLast = { key: 'call_ended', args: [endText(x.cause)] };
      if (x.cause === JsSIP.C.causes.USER_DENIED_MEDIA_ACCESS) {
        setProblem('mic', { key: 'problem_mic_denied', retry: true });
      }
      setPhone('idle');
      pollLive();
    };
    session.on('ended', finish('ended'));
    session.on('failed', finish('failed'));
  }

  function attachAudio(pc) {
    if (!pc || pc.__switchboard) return;
    pc.__switchboard = true;
    pc.addEventListener('track', (ev) => {
      const audio = $('remote-audio');
      audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      audio.play().catch(() => {});
    });
  }

  // The words for a JsSIP end cause, as a message (so a language switch redraws it).
  function endText(cause) {
    const C = JsSIP.C.causes;
    const map = {
      [C.BYE]: 'end_normal',
      [C.CANCELED]: 'end_canceled',
      [C.REJECTED]: 'end_rejected',
      [C.BUSY]: 'end_busy',
      [C.UNAVAILABLE]: 'end_unavailable',
      [C.NOT_FOUND]: 'end_not_found',
      [C.NO_ANSWER]: 'end_no_answer',
      [C.INCOMPATIBLE_SDP]: 'end_media',
      [C.RTP_TIMEOUT]: 'end_media',
      [C.USER_DENIED_MEDIA_ACCESS]: 'end_media',
    };
    return map[cause] ? { key: map[cause] } : { key: 'end_other', args: [cause || ''] };
  }

  const mediaOptions = () => ({
    mediaConstraints: { audio: true, video: false },
    // Host candidates only: the server is ICE-lite on the same network path as the page.
    pcConfig: { iceServers: [] },
  });

  function answer() {
    if (!S.session || S.phone !== 'ringing') return;
    S.session.answer(mediaOptions());
  }

  function hangup() {
    if (!S.session) return;
    try {
      S.session.terminate();
    } catch (e) {
      log('terminate-error', { message: e.message });
    }
  }

  function decline() {
    if (!S.session) return;
    S.session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  }

  function target(number) {
    return number.includes('@') ? `sip:${number.replace(/^sip:/, '')}` : `sip:${number}@${S.phoneConfig.domain}`;
  }

  function call(number) {
    const n = (number === undefined ? $('dial-number').value : number).replace(/[\s-]/g, '');
    if (!n) {
      S.phoneLast = { key: 'number_required' };
      renderPhone();
      return;
    }
    if (!S.ua || S.session) return;
    S.ua.call(target(n), mediaOptions());
  }

  function toggleHold() {
    if (!S.session) return;
    if (S.held) S.session.unhold();
    else S.session.hold();
  }

  function toggleMute() {
    if (!S.session) return;
    if (S.muted) S.session.unmute({ audio: true });
    else S.session.mute({ audio: true });
  }

  function sendDigit(d) {
    if (!S.session) return;
    // In the RTP stream (RFC 4733), as the server and trunks expect it.
    S.session.sendDTMF(d, { transportType: JsSIP.C.DTMF_TRANSPORT.RFC2833 });
    log('dtmf', { digit: d });
    S.callInfo = { key: 'dtmf_sent', args: [d] };
    renderPhone();
  }

  function transfer() {
    const n = $('transfer-number').value.replace(/[\s-]/g, '');
    if (!n || !S.session) {
      S.callInfo = { key: 'number_required' };
      renderPhone();
      return;
    }
    S.callInfo = { key: 'transfer_sent', args: [n] };
    log('refer', { to: n });
    S.session.refer(target(n), {
      eventHandlers: {
        requestFailed: () => {
          S.callInfo = { key: 'transfer_failed', args: [n] };
          renderPhone();
        },
        failed: () => {
          S.callInfo = { key: 'transfer_failed', args: [n] };
          renderPhone();
        },
        accepted: () => log('refer-accepted', { to: n }),
      },
    });
    renderPhone();
  }

  function setPhone(phone) {
    S.phone = phone;
    if (phone === 'idle') {
      $('dtmf-pad').hidden = true;
      $('transfer-row').hidden = true;
    }
    renderPhone();
  }

  // --- microphone -----------------------------------------------------------------------

  async function checkMicrophone() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      setProblem('mic', { key: 'problem_mic_denied', retry: true });
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      stream.getTracks().forEach((tr) => tr.stop());
      clearProblem('mic');
      log('microphone', { ok: true });
    } catch (e) {
      log('microphone', { ok: false, name: e.name });
      const missing = e.name === 'NotFoundError' || e.name === 'OverconstrainedError';
      setProblem('mic', { key: missing ? 'problem_mic_missing' : 'problem_mic_denied', retry: true });
    }
  }

  // --- agent state and the floor --------------------------------------------------------

  async function setAgentState(state, reason) {
    S.stateError = null;
    try {
      await api('PUT', '/agents/me/state', reason ? { state, reason } : { state });
      // Shown at once; the next poll confirms it from the call control.
      if (state === 'wrap_up_done') S.agent = { status: 'ready', reason: null, since: Date.now() };
      else S.agent = { status: state, reason: reason || null, since: Date.now() };
    } catch (e) {
      S.stateError = { key: 'state_failed', args: [e.message] };
    }
    renderState();
    pollLive();
  }

  async function pollLive() {
    if (!S.token) return;
    let live;
    try {
      live = await api('GET', '/queues/live');
    } catch (e) {
      return;
    }
    const me = (live.agents || []).find((a) => a.agent === S.user.id);
    if (me && me.status) {
      const reason = me.status.reason;
      // A direct call (not from a queue) keeps the ACD status "ready"; the ACD offers the
      // agent nothing meanwhile (outside_call), and the page says "on a call".
      S.agent = {
        status: me.outside_call && me.status.status === 'ready' ? 'on_call' : me.status.status,
        reason: reason && typeof reason === 'object' ? Object.values(reason)[0] : reason || null,
        since: me.since,
      };
    } else if (live.agents) {
      S.agent = { status: 'logged_out', reason: null, since: null };
    }
    S.waitAlerts = (live.queues || [])
      .filter((q) => q.wait_alert)
      .map((q) => ({
        queue: String(q.queue).split('/').pop(),
        secs: (q.longest_current_wait && q.longest_current_wait.secs) || 0,
      }));
    renderState();
    renderWaitAlert();
  }

  // --- customer file --------------------------------------------------------------------

  async function lookupCustomer(number) {
    if (!E164.test(number)) {
      S.customer = { state: 'internal', number };
      renderCustomer();
      return;
    }
    S.customer = { state: 'loading', number };
    renderCustomer();
    try {
      const r = await api('GET', `/customers/lookup?phone=${encodeURIComponent(number)}`);
      if (S.customer.number !== number) return;
      S.customer = r.matches.length
        ? { state: 'found', number, match: r.matches[0], more: r.matches.length - 1 }
        : { state: 'unknown', number };
    } catch (e) {
      S.customer = { state: 'failed', number };
    }
    renderCustomer();
  }

  // --- after-call note ------------------------------------------------------------------

  async function saveNote(ev) {
    ev.preventDefault();
    const phone = $('note-phone').value.replace(/[\s-]/g, '');
    const text = $('note-text').value.trim();
    if (!E164.test(phone)) {
      S.noteResult = { error: true, key: 'note_bad_phone' };
    } else if (!text) {
      S.noteResult = { error: true, key: 'note_empty' };
    } else {
      $('btn-save-note').disabled = true;
      try {
        const r = await api('POST', '/notes', { phone, text });
        S.noteResult = { error: false, key: r.created_customer ? 'note_saved_new' : 'note_saved' };
        $('note-text').value = '';
        if (S.customer.number === phone) lookupCustomer(phone);
      } catch (e) {
        S.noteResult = { error: true, key: 'note_failed', args: [e.message] };
      }
      $('btn-save-note').disabled = false;
    }
    renderNote();
  }

  // --- hand-over inbox ------------------------------------------------------------------

  async function loadHandovers() {
    if (!S.token) return;
    try {
      S.handovers = await api('GET', '/handovers?unread=true');
    } catch (e) {
      return;
    }
    const ids = new Set(S.handovers.flatMap((h) => h.items.map((i) => i.customer_id)));
    await Promise.all(
      [...ids]
        .filter((id) => !(id in S.customerNames))
        .map((id) =>
          api('GET', `/customers/${encodeURIComponent(id)}`)
            .then((c) => (S.customerNames[id] = c.name))
            .catch(() => (S.customerNames[id] = null)),
        ),
    );
    renderHandovers();
  }

  async function markRead(id) {
    try {
      await api('POST', `/handovers/${encodeURIComponent(id)}/read`);
    } catch (e) {
      return;
    }
    loadHandovers();
  }

  // What the campaign pages (campaign.js) share with the console: the signed-in state, the
  // server, the strings and click-to-call through this softphone.
  window.consoleApp = { S, api, t, call };

  // --- wiring ---------------------------------------------------------------------------

  function init() {
    const audio = document.createElement('audio');
    audio.id = 'remote-audio';
    audio.autoplay = true;
    document.body.append(audio);
    $('tenant').value = localStorage.getItem('tenant') || $('tenant').value;
    $('username').value = localStorage.getItem('username') || '';
    document.querySelectorAll('[data-lang]').forEach((b) => b.addEventListener('click', () => setLanguage(b.dataset.lang)));
    $('login-form').addEventListener('submit', login);
    $('btn-logout').addEventListener('click', logout);
    $('btn-ready').addEventListener('click', () => setAgentState('ready'));
    $('btn-not-ready').addEventListener('click', () => setAgentState('not_ready', $('not-ready-reason').value));
    $('btn-wrap-up-done').addEventListener('click', () => setAgentState('wrap_up_done'));
    keypad($('dial-pad'), (d) => ($('dial-number').value += d));
    keypad($('dtmf-pad'), sendDigit);
    $('btn-backspace').addEventListener('click', () => ($('dial-number').value = $('dial-number').value.slice(0, -1)));
    $('btn-call').addEventListener('click', () => call());
    $('dial-number').addEventListener('keydown', (e) => e.key === 'Enter' && call());
    $('btn-answer').addEventListener('click', answer);
    $('btn-decline').addEventListener('click', () => (S.phone === 'outgoing' ? hangup() : decline()));
    $('btn-hangup').addEventListener('click', hangup);
    $('btn-hold').addEventListener('click', toggleHold);
    $('btn-mute').addEventListener('click', toggleMute);
    $('btn-keypad').addEventListener('click', () => ($('dtmf-pad').hidden = !$('dtmf-pad').hidden));
    $('btn-transfer').addEventListener('click', () => ($('transfer-row').hidden = !$('transfer-row').hidden));
    $('btn-transfer-now').addEventListener('click', transfer);
    $('note-form').addEventListener('submit', saveNote);
    // A result line belongs to the note it was about: typing a new one clears it.
    for (const id of ['note-phone', 'note-text']) {
      $(id).addEventListener('input', () => {
        S.noteResult = null;
        renderNote();
      });
    }
    $('btn-problem-retry').addEventListener('click', checkMicrophone);
    window.addEventListener('beforeunload', () => S.ua && S.ua.stop());
    setInterval(() => S.phone === 'incall' && renderTimer(), 1000);
    render();
  }

  init();
})();
