// The QA page of the console (issue 11), for QA staff, supervisors and admins: search the
// recordings (agent, queue, campaign, customer's number, date, duration, outcome, score), play
// one, score it on the tenant's scorecard.
//
// The player fetches the WAV itself with `Range` requests (the API wants a bearer token, which
// an <audio src> cannot send): from the playing position it asks for WINDOW_S seconds at a
// time (`bytes=a-b`, answered 206), decodes the 16-bit PCM and plays it through Web Audio, so a
// seek is one Range request from the new position. Channels: a ChannelSplitter feeds four
// gains into a ChannelMerger — both (customer left, agent right), only the customer, only the
// agent (each then in both ears). Speed is the sources' playbackRate. The waveform is drawn
// from `/peaks`, with the paused spans (card numbers) shaded and comment markers that seek.
// Plain script on top of console.js (`window.consoleApp`), redrawn on `console:render`.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const app = window.consoleApp;
  const { S, api, t } = app;
  const WINDOW_S = 8;
  const PAGE = 25;

  const Q = {
    loaded: false,
    items: [],
    next: null,
    searchMsg: null, // {key, args, error}
    queues: [],
    campaigns: [],
    agents: {}, // id -> name, from what the results show
    rec: null, // the row picked (search item)
    meta: null, // GET /recordings/{id}
    peaks: null,
    comments: [],
    card: null,
    score: null,
    scoreMsg: null,
    playerMsg: null,
  };

  // --- the player -----------------------------------------------------------------------

  const P = {
    ctx: null,
    gains: null, // {cl, cr, al, ar}
    output: null,
    recId: null,
    wav: null, // {dataStart, dataBytes, total, rate, channels, frames}
    playing: false,
    startedAt: 0, // ctx time the current chain started
    startedPos: 0, // seconds into the recording at that moment
    position: 0, // while paused
    rate: 1,
    channel: 'both',
    sources: [],
    chain: 0, // bumps on every (re)start so late fetches of an old chain are dropped
    lastRange: null, // {requested, status, contentRange}
    seekedTo: null,
  };
  window.qaPlayer = P;

  const duration = () => (P.wav ? P.wav.frames / P.wav.rate : 0);
  const position = () => (P.playing && P.ctx ? Math.min(duration(), P.startedPos + (P.ctx.currentTime - P.startedAt) * P.rate) : P.position);
  P.currentTime = position;
  // The loudest frequency being played now, in Hz (null before anything played).
  P.peakHz = () => {
    if (!P.analyser) return null;
    const bins = new Float32Array(P.analyser.frequencyBinCount);
    P.analyser.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    return bins[best] < -90 ? null : (best * P.ctx.sampleRate) / P.analyser.fftSize;
  };

  function audioGraph() {
    if (P.ctx) return;
    const ctx = new AudioContext();
    const splitter = ctx.createChannelSplitter(2);
    const merger = ctx.createChannelMerger(2);
    const gain = () => ctx.createGain();
    const g = { cl: gain(), cr: gain(), al: gain(), ar: gain() };
    splitter.connect(g.cl, 0);
    splitter.connect(g.cr, 0);
    splitter.connect(g.al, 1);
    splitter.connect(g.ar, 1);
    g.cl.connect(merger, 0, 0);
    g.cr.connect(merger, 0, 1);
    g.al.connect(merger, 0, 0);
    g.ar.connect(merger, 0, 1);
    merger.connect(ctx.destination);
    // What is heard, for the loudest frequency (tests check channels and speed by pitch).
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;
    merger.connect(analyser);
    Object.assign(P, { ctx, gains: g, output: splitter, analyser });
    setChannel(P.channel);
  }

  function setChannel(ch) {
    P.channel = ch;
    if (!P.gains) return;
    const on = { both: [1, 0, 0, 1], customer: [1, 1, 0, 0], agent: [0, 0, 1, 1] }[ch] || [1, 0, 0, 1];
    ['cl', 'cr', 'al', 'ar'].forEach((k, i) => (P.gains[k].gain.value = on[i]));
  }

  async function authFetch(path, headers = {}) {
    // no-store: the browser's cache would answer a range from an earlier window and ask the
    // server for the rest only, and a recording should not be kept on the QA machine anyway.
    return fetch(`/api/v1${path}`, { cache: 'no-store', headers: { Authorization: `Bearer ${S.token}`, ...headers } });
  }

  // The WAV's layout from its first bytes: where the samples start and how they are packed.
  async function loadWavHeader(id) {
    const res = await authFetch(`/recordings/${encodeURIComponent(id)}/audio`, { Range: 'bytes=0-4095' });
    if (res.status !== 206) throw new Error(`HTTP ${res.status}`);
    const total = Number((res.headers.get('Content-Range') || '').split('/')[1]);
    const view = new DataView(await res.arrayBuffer());
    const tag = (o) => String.fromCharCode(view.getUint8(o), view.getUint8(o + 1), view.getUint8(o + 2), view.getUint8(o + 3));
    if (tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a WAV file');
    let o = 12;
    let fmt = null;
    while (o + 8 <= view.byteLength) {
      const id4 = tag(o);
      const size = view.getUint32(o + 4, true);
      if (id4 === 'fmt ') {
        fmt = { channels: view.getUint16(o + 10, true), rate: view.getUint32(o + 12, true), bits: view.getUint16(o + 22, true) };
      } else if (id4 === 'data' && fmt) {
        const dataStart = o + 8;
        // A file still being written says 0 (or too much): trust the file's length instead.
        const dataBytes = Math.min(size || Infinity, total - dataStart);
        const block = fmt.channels * 2;
        return { dataStart, dataBytes, total, rate: fmt.rate, channels: fmt.channels, block, frames: Math.floor(dataBytes / block) };
      }
      o += 8 + size + (size % 2);
    }
    throw new Error('no data chunk in the first 4 KiB');
  }

  // One window of PCM from `fromS` seconds as an AudioBuffer, by a Range request.
  async function fetchWindow(fromS) {
    const w = P.wav;
    const first = Math.floor(fromS * w.rate);
    const frames = Math.min(Math.ceil(WINDOW_S * w.rate), w.frames - first);
    if (frames <= 0) return null;
    const a = w.dataStart + first * w.block;
    const b = a + frames * w.block - 1;
    const requested = `bytes=${a}-${b}`;
    const res = await authFetch(`/recordings/${encodeURIComponent(P.recId)}/audio`, { Range: requested });
    P.lastRange = { requested, status: res.status, contentRange: res.headers.get('Content-Range') };
    if (res.status !== 206) throw new Error(`HTTP ${res.status}`);
    const bytes = new DataView(await res.arrayBuffer());
    const n = Math.floor(bytes.byteLength / w.block);
    const buf = P.ctx.createBuffer(2, Math.max(1, n), w.rate);
    const left = buf.getChannelData(0);
    const right = buf.getChannelData(1);
    for (let i = 0; i < n; i++) {
      left[i] = bytes.getInt16(i * w.block, true) / 32768;
      right[i] = w.channels > 1 ? bytes.getInt16(i * w.block + 2, true) / 32768 : left[i];
    }
    return { buf, fromS: first / w.rate, lenS: n / w.rate };
  }

  function stopSources() {
    P.sources.forEach((s) => {
      try {
        s.onended = null;
        s.stop();
      } catch (e) {
        /* already stopped */
      }
    });
    P.sources = [];
  }

  // Plays from `fromS`: window after window, each fetched while the one before plays.
  async function playFrom(fromS) {
    audioGraph();
    await P.ctx.resume();
    stopSources();
    const chain = ++P.chain;
    P.position = fromS;
    let win;
    try {
      win = await fetchWindow(fromS);
    } catch (e) {
      Q.playerMsg = { key: 'qa_play_failed', args: [e.message], error: true };
      P.playing = false;
      renderPlayer();
      return;
    }
    if (chain !== P.chain || !win) return;
    P.playing = true;
    P.startedAt = P.ctx.currentTime + 0.05;
    P.startedPos = win.fromS;
    let at = P.startedAt;
    for (;;) {
      const src = P.ctx.createBufferSource();
      src.buffer = win.buf;
      src.playbackRate.value = P.rate;
      src.connect(P.output);
      src.start(at);
      P.sources.push(src);
      at += win.lenS / P.rate;
      const nextFrom = win.fromS + win.lenS;
      if (nextFrom >= duration() - 1 / P.wav.rate) {
        src.onended = () => {
          if (chain !== P.chain) return;
          P.playing = false;
          P.position = duration();
          renderPlayer();
        };
        break;
      }
      try {
        win = await fetchWindow(nextFrom);
      } catch (e) {
        break;
      }
      if (chain !== P.chain || !win) return;
      // Keep at most the playing window and the next one scheduled.
      while (P.ctx.currentTime < at - 2 * (WINDOW_S / P.rate) && chain === P.chain) {
        await new Promise((r) => setTimeout(r, 200));
      }
      if (chain !== P.chain) return;
    }
  }

  function pause() {
    P.position = position();
    P.chain++;
    P.playing = false;
    stopSources();
  }

  function seek(toS) {
    const to = Math.max(0, Math.min(duration(), toS));
    P.seekedTo = to;
    if (P.playing) playFrom(to);
    else P.position = to;
    renderPlayer();
  }

  function setRate(rate) {
    const playing = P.playing;
    const at = position();
    P.rate = rate;
    if (playing) playFrom(at);
  }

  // --- drawing --------------------------------------------------------------------------

  const fmt = (s) => {
    const v = Math.max(0, Math.floor(s));
    const h = Math.floor(v / 3600);
    const mm = String(Math.floor((v % 3600) / 60)).padStart(2, '0');
    const ss = String(v % 60).padStart(2, '0');
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  };
  const tm = (m) => (m ? t(m.key, ...(m.args || [])) : '');
  const when = (iso) => (iso ? new Date(iso).toLocaleString(S.lang === 'zh-CN' ? 'zh-CN' : 'en-GB') : '');
  const onPage = () => document.body.dataset.view === 'console' && document.body.dataset.tab === 'qa';

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'dataset') Object.assign(e.dataset, v);
      else if (k === 'text') e.textContent = v;
      else if (k === 'on') Object.entries(v).forEach(([ev, f]) => e.addEventListener(ev, f));
      else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  }

  function option(value, text, selected) {
    const o = el('option', { value, text });
    o.selected = selected;
    return o;
  }

  function outcomeText(r) {
    if (!r.outcome) return r.answered ? t('qa_out_answered') : '';
    const key = { 'normal-clearing': 'qa_out_answered', busy: 'qa_out_busy', 'no-answer': 'qa_out_no_answer' }[r.outcome];
    if (r.outcome === 'normal-clearing' && !r.answered) return t('qa_out_unanswered');
    return key ? t(key) : r.outcome;
  }

  function renderSearch() {
    const keep = (id) => $(id).value;
    const agent = keep('qa-f-agent');
    $('qa-f-agent').replaceChildren(
      option('', t('qa_any'), agent === ''),
      ...Object.entries(Q.agents).map(([id, name]) => option(id, name, agent === id)),
    );
    const queue = keep('qa-f-queue');
    $('qa-f-queue').replaceChildren(option('', t('qa_any'), queue === ''), ...Q.queues.map((q) => option(q.id, q.name, queue === q.id)));
    const camp = keep('qa-f-campaign');
    $('qa-f-campaign').replaceChildren(option('', t('qa_any'), camp === ''), ...Q.campaigns.map((c) => option(c.id, c.name, camp === c.id)));
    const res = $('qa-search-result');
    res.textContent = tm(Q.searchMsg);
    res.className = `form-result${Q.searchMsg && Q.searchMsg.error ? ' error' : ''}`;
    const body = $('qa-results').tBodies[0];
    body.replaceChildren(
      ...Q.items.map((r) =>
        el(
          'tr',
          {
            dataset: { id: r.id, testid: 'qa-row' },
            class: Q.rec && Q.rec.id === r.id ? 'picked' : '',
            on: { click: () => openRecording(r) },
          },
          el('td', { text: when(r.started_at) }),
          el('td', { text: r.agent_name || '—' }),
          el('td', { text: r.customer_name || (r.direction === 'outbound' ? r.callee : r.caller) }),
          el('td', { text: r.queue || '—' }),
          el('td', { class: 'num', text: fmt(r.duration_ms / 1000) }),
          el('td', { text: r.deleted ? t('qa_expired') : outcomeText(r) }),
          el('td', { class: 'num', dataset: { testid: 'qa-row-score' }, text: r.score == null ? '—' : r.score.toFixed(1) }),
        ),
      ),
    );
    $('qa-empty').hidden = Q.items.length > 0;
    $('btn-qa-more').hidden = !Q.next;
  }

  function drawWave() {
    const c = $('qa-wave');
    const w = c.clientWidth || c.width;
    if (c.width !== w) c.width = w;
    const h = c.height;
    const g = c.getContext('2d');
    g.clearRect(0, 0, w, h);
    const d = duration() || (Q.meta ? Q.meta.duration_ms / 1000 : 0);
    if (!d) return;
    const x = (s) => (s / d) * w;
    // Paused spans (card numbers): hatched, so nobody mistakes the silence for a fault.
    for (const p of (Q.meta && Q.meta.paused_segments) || []) {
      const x0 = x(p.start_ms / 1000);
      const x1 = Math.max(x0 + 2, x(p.end_ms / 1000));
      g.fillStyle = '#fff4e0';
      g.fillRect(x0, 0, x1 - x0, h);
      g.strokeStyle = '#e2b46b';
      for (let i = x0 - h; i < x1; i += 6) {
        g.beginPath();
        g.moveTo(Math.max(i, x0), i < x0 ? h - (x0 - i) : h);
        g.lineTo(Math.min(i + h, x1), i + h > x1 ? h - (x1 - i) : 0);
        g.stroke();
      }
    }
    // Customer (left) on the upper lane, agent (right) on the lower one.
    const lanes = [
      { ch: 0, mid: h * 0.27, color: '#2563eb', dim: P.channel === 'agent' },
      { ch: 1, mid: h * 0.73, color: '#15803d', dim: P.channel === 'customer' },
    ];
    if (Q.peaks) {
      for (const lane of lanes) {
        const peaks = Q.peaks.channels[lane.ch];
        if (!peaks) continue;
        const n = peaks.min.length;
        g.fillStyle = lane.color;
        g.globalAlpha = lane.dim ? 0.25 : 0.9;
        for (let i = 0; i < n; i++) {
          const px = (i / n) * w;
          const top = lane.mid - (peaks.max[i] / 32768) * h * 0.25;
          const bot = lane.mid - (peaks.min[i] / 32768) * h * 0.25;
          g.fillRect(px, top, Math.max(1, w / n), Math.max(1, bot - top));
        }
        g.globalAlpha = 1;
      }
    }
    // Comment markers.
    g.fillStyle = '#b91c1c';
    for (const m of Q.comments) {
      const px = x(m.at_ms / 1000);
      g.fillRect(px - 1, 0, 2, h);
      g.beginPath();
      g.moveTo(px - 6, 0);
      g.lineTo(px + 6, 0);
      g.lineTo(px, 9);
      g.fill();
    }
    // Playhead.
    g.fillStyle = '#1c2733';
    g.fillRect(x(position()) - 1, 0, 2, h);
  }

  function renderPlayer() {
    const has = Boolean(Q.rec);
    $('qa-pick').hidden = has;
    $('qa-player-body').hidden = !has;
    $('qa-player').dataset.state = !has ? 'none' : P.playing ? 'playing' : 'paused';
    if (!has) return;
    const r = Q.rec;
    const who = r.customer_name || (r.direction === 'outbound' ? r.callee : r.caller);
    $('qa-call').textContent = t('qa_call_line', when(r.started_at), r.agent_name || '—', who, r.queue || '—');
    $('btn-qa-play').textContent = t(P.playing ? 'qa_pause' : 'qa_play');
    $('btn-qa-play').disabled = !P.wav;
    $('btn-qa-download').disabled = !P.wav;
    $('qa-time').textContent = `${fmt(position())} / ${fmt(duration() || r.duration_ms / 1000)}`;
    $('qa-channel').value = P.channel;
    $('qa-speed').value = String(P.rate);
    const paused = (Q.meta && Q.meta.paused_segments) || [];
    $('qa-paused-note').hidden = paused.length === 0;
    $('qa-paused-note').textContent = t('qa_paused_note', paused.map((p) => `${fmt(p.start_ms / 1000)}–${fmt(p.end_ms / 1000)}`).join(', '));
    const msg = $('qa-player-msg');
    msg.textContent = tm(Q.playerMsg);
    msg.className = `form-result${Q.playerMsg && Q.playerMsg.error ? ' error' : Q.playerMsg ? ' ok' : ''}`;
    $('qa-comments').replaceChildren(
      ...Q.comments.map((m) =>
        el(
          'li',
          { dataset: { testid: 'qa-comment' } },
          el('button', { type: 'button', class: 'small', text: fmt(m.at_ms / 1000), on: { click: () => seek(m.at_ms / 1000) } }),
          el('strong', { text: `${m.author_name || ''}: ` }),
          document.createTextNode(m.text),
        ),
      ),
    );
    drawWave();
  }

  function renderScore() {
    const form = $('qa-score-form');
    form.hidden = !(Q.rec && Q.card);
    if (form.hidden) return;
    $('qa-card-name').textContent = Q.card.name;
    const values = (Q.score && Q.score.values) || {};
    // What the QA person typed survives redraws; a new recording or a score loaded or saved
    // fills the form afresh.
    const formKey = `${Q.rec.id}|${Q.score ? Q.score.scored_at : ''}`;
    const fresh = Q.formKey !== formKey;
    Q.formKey = formKey;
    const input = (key) => {
      const existing = fresh ? null : $(`qa-v-${key}`);
      const value = existing ? existing.value : values[key] != null ? String(values[key]) : '';
      return el('input', { id: `qa-v-${key}`, type: 'number', min: '0', max: '100', step: '1', value, dataset: { key, testid: `qa-v-${key}` } });
    };
    const name = (o) => (S.lang === 'zh-CN' ? o.name_zh : o.name_en);
    $('qa-criteria').replaceChildren(
      ...Q.card.criteria.map((c) =>
        el(
          'fieldset',
          {},
          el('legend', { text: `${name(c)} · ${c.weight} %` }),
          ...(c.items.length ? c.items : [c]).map((i) =>
            el('label', { class: 'qa-item', for: `qa-v-${i.key}` }, el('span', { text: `${name(i)} (${i.weight} %)` }), input(i.key)),
          ),
        ),
      ),
    );
    const heard = new Set(fresh ? (Q.score && Q.score.banned) || [] : [...document.querySelectorAll('#qa-banned input:checked')].map((b) => b.value));
    $('qa-banned').replaceChildren(
      el('legend', { text: t('qa_banned', Q.card.banned_phrase_penalty) }),
      ...Q.card.banned_phrases.map((p) => {
        const box = el('input', { type: 'checkbox', value: p.phrase, dataset: { testid: 'qa-banned-phrase' } });
        box.checked = heard.has(p.phrase);
        const kind = t(p.kind === 'vague' ? 'qa_vague' : 'qa_negative');
        const meaning = S.lang === 'zh-CN' ? '' : ` (${p.meaning_en})`;
        return el('label', {}, box, el('span', { text: `${p.phrase}${meaning} — ${kind}` }));
      }),
    );
    if (fresh) $('qa-note').value = (Q.score && Q.score.note) || '';
    const res = $('qa-score-result');
    res.replaceChildren();
    // The total just saved, or the recording's score as loaded.
    const total = Q.scoreMsg ? Q.scoreMsg.total : Q.score && Q.score.total;
    if (total != null) {
      res.className = 'form-result ok';
      res.append(el('span', { text: `${t('qa_total')}: ` }), el('span', { class: 'qa-total', dataset: { testid: 'qa-total' }, text: total.toFixed(1) }), el('span', { text: ' / 100' }));
    } else if (Q.scoreMsg) {
      res.className = 'form-result error';
      res.textContent = tm(Q.scoreMsg);
    }
  }

  function render() {
    if (!onPage()) return;
    renderSearch();
    renderPlayer();
    renderScore();
  }

  // --- the server -----------------------------------------------------------------------

  function query() {
    const q = new URLSearchParams();
    const put = (k, v) => v !== '' && v != null && q.set(k, v);
    put('agent', $('qa-f-agent').value);
    put('queue', $('qa-f-queue').value);
    put('campaign', $('qa-f-campaign').value);
    put('number', $('qa-f-number').value.trim());
    // Dates are the browser's local days.
    if ($('qa-f-from').value) put('from', new Date(`${$('qa-f-from').value}T00:00:00`).toISOString());
    if ($('qa-f-to').value) put('to', new Date(new Date(`${$('qa-f-to').value}T00:00:00`).getTime() + 86400000).toISOString());
    put('min_duration', $('qa-f-min-dur').value);
    put('max_duration', $('qa-f-max-dur').value);
    put('outcome', $('qa-f-outcome').value);
    put('scored', $('qa-f-scored').value);
    put('min_score', $('qa-f-min-score').value);
    put('max_score', $('qa-f-max-score').value);
    q.set('limit', PAGE);
    return q;
  }

  async function search(ev, more) {
    if (ev) ev.preventDefault();
    const q = query();
    if (more && Q.next) q.set('cursor', Q.next);
    try {
      const page = await api('GET', `/qa/recordings?${q}`);
      Q.items = more ? Q.items.concat(page.items) : page.items;
      Q.next = page.next_cursor;
      for (const r of page.items) if (r.agent_id) Q.agents[r.agent_id] = r.agent_name || r.agent_id;
      Q.searchMsg = { key: 'qa_found', args: [Q.items.length] };
    } catch (e) {
      Q.searchMsg = { key: 'qa_search_failed', args: [e.field ? `${e.message} (${e.field})` : e.message], error: true };
    }
    render();
  }

  async function loadSetup() {
    const [queues, campaigns, card] = await Promise.all([
      api('GET', '/queues').catch(() => []),
      api('GET', '/campaigns?limit=200').catch(() => []),
      api('GET', '/qa/scorecard').catch(() => null),
    ]);
    Q.queues = Array.isArray(queues) ? queues : queues.items || [];
    Q.campaigns = Array.isArray(campaigns) ? campaigns : campaigns.items || [];
    Q.card = card;
    render();
  }

  async function openRecording(r) {
    pause();
    Object.assign(Q, { rec: r, meta: null, peaks: null, comments: [], score: null, scoreMsg: null, playerMsg: null });
    Object.assign(P, { recId: r.id, wav: null, position: 0, seekedTo: null });
    Q.formKey = null;
    render();
    if (r.deleted) {
      Q.playerMsg = { key: 'qa_expired_msg', error: true };
      render();
      return;
    }
    const id = encodeURIComponent(r.id);
    try {
      const width = Math.max(200, $('qa-wave').clientWidth || 760);
      const [meta, peaks, comments, wav] = await Promise.all([
        api('GET', `/recordings/${id}`),
        api('GET', `/recordings/${id}/peaks?buckets=${width}`),
        api('GET', `/recordings/${id}/comments`),
        loadWavHeader(r.id),
      ]);
      if (!Q.rec || Q.rec.id !== r.id) return;
      Object.assign(Q, { meta, peaks, comments });
      P.wav = wav;
    } catch (e) {
      Q.playerMsg = { key: 'qa_play_failed', args: [e.message], error: true };
    }
    try {
      Q.score = await api('GET', `/recordings/${id}/score`);
    } catch (e) {
      Q.score = null;
    }
    render();
  }

  async function addComment() {
    const text = $('qa-comment-text').value.trim();
    if (!Q.rec || !text) return;
    const at = Math.round(position() * 1000);
    try {
      const c = await api('POST', `/recordings/${encodeURIComponent(Q.rec.id)}/comments`, { at_ms: at, text });
      Q.comments = Q.comments.concat([c]).sort((a, b) => a.at_ms - b.at_ms);
      $('qa-comment-text').value = '';
      Q.playerMsg = { key: 'qa_comment_saved', args: [fmt(at / 1000)] };
    } catch (e) {
      Q.playerMsg = { key: 'qa_comment_failed', args: [e.message], error: true };
    }
    renderPlayer();
  }

  async function download() {
    if (!Q.rec) return;
    const res = await authFetch(`/recordings/${encodeURIComponent(Q.rec.id)}/audio?download=1`);
    if (!res.ok) {
      Q.playerMsg = { key: 'qa_play_failed', args: [`HTTP ${res.status}`], error: true };
      renderPlayer();
      return;
    }
    const name = (/filename="([^"]+)"/.exec(res.headers.get('Content-Disposition') || '') || [])[1] || 'recording.wav';
    const url = URL.createObjectURL(await res.blob());
    const a = el('a', { href: url, download: name });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  async function saveScore(ev) {
    ev.preventDefault();
    if (!Q.rec || !Q.card) return;
    const values = {};
    const missing = [];
    document.querySelectorAll('#qa-criteria input').forEach((i) => {
      if (i.value === '') missing.push(i.closest('label').firstChild.textContent);
      else values[i.dataset.key] = Number(i.value);
    });
    if (missing.length) {
      Q.scoreMsg = { key: 'qa_score_missing', args: [missing.join(', ')] };
      renderScore();
      return;
    }
    const banned = [...document.querySelectorAll('#qa-banned input:checked')].map((b) => b.value);
    try {
      Q.score = await api('PUT', `/recordings/${encodeURIComponent(Q.rec.id)}/score`, { values, banned, note: $('qa-note').value });
      Q.scoreMsg = { total: Q.score.total };
      Q.rec.score = Q.score.total;
      const row = Q.items.find((r) => r.id === Q.rec.id);
      if (row) row.score = Q.score.total;
    } catch (e) {
      Q.scoreMsg = { key: 'qa_score_failed', args: [e.field ? `${e.message} (${e.field})` : e.message] };
    }
    render();
  }

  // --- wiring ---------------------------------------------------------------------------

  function enter() {
    if (!onPage()) return;
    if (!Q.loaded) {
      Q.loaded = true;
      loadSetup();
      search();
    }
    render();
  }

  function stop() {
    pause();
    Object.assign(Q, { formKey: null, loaded: false, items: [], next: null, searchMsg: null, rec: null, meta: null, peaks: null, comments: [], card: null, score: null, scoreMsg: null, playerMsg: null, agents: {} });
    Object.assign(P, { recId: null, wav: null, position: 0 });
  }

  function init() {
    document.addEventListener('console:render', enter);
    document.addEventListener('console:start', () => setTimeout(enter, 0));
    document.addEventListener('console:stop', stop);
    document.querySelectorAll('.tab-btn').forEach((b) => b.addEventListener('click', enter));
    $('qa-search').addEventListener('submit', (ev) => search(ev, false));
    $('btn-qa-more').addEventListener('click', () => search(null, true));
    $('btn-qa-play').addEventListener('click', () => {
      if (P.playing) pause();
      else playFrom(position() >= duration() ? 0 : position());
      renderPlayer();
    });
    $('qa-channel').addEventListener('change', (e) => {
      setChannel(e.target.value);
      renderPlayer();
    });
    $('qa-speed').addEventListener('change', (e) => setRate(Number(e.target.value)));
    $('qa-wave').addEventListener('click', (e) => {
      const c = e.currentTarget;
      const rect = c.getBoundingClientRect();
      const d = duration();
      if (!d) return;
      const s = ((e.clientX - rect.left) / rect.width) * d;
      // A click on a comment marker jumps exactly to its moment.
      const near = Q.comments.find((m) => Math.abs((m.at_ms / 1000 / d) * rect.width - (e.clientX - rect.left)) <= 5);
      seek(near ? near.at_ms / 1000 : s);
    });
    $('btn-qa-comment').addEventListener('click', addComment);
    $('btn-qa-download').addEventListener('click', download);
    $('qa-score-form').addEventListener('submit', saveScore);
    window.addEventListener('resize', () => onPage() && drawWave());
    setInterval(() => {
      if (onPage() && P.playing) {
        $('qa-time').textContent = `${fmt(position())} / ${fmt(duration())}`;
        drawWave();
      }
    }, 250);
  }

  init();
})();
