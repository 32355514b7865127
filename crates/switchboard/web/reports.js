// The Reports tab (issue 11), for supervisors, admins and QA: per agent (served, converted,
// conversion rate, effective calls against the quota, visits, deduction, QA score), per queue
// (service level, abandons, ASA, AHT), per campaign (the "one avoidance, three guarantees":
// rest-time violations, key-customer coverage, record completeness, within 3 days) and tickets
// (工单: reply and resolution SLA) for a day, week or month; a bar chart drawn here as SVG (no
// library) above the table, and the same report as CSV from the server.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const app = window.consoleApp;
  const { S, api, t } = app;
  const READERS = ['admin', 'supervisor', 'qa'];
  const SVG = 'http://www.w3.org/2000/svg';

  const R = { kind: 'agents', period: 'month', date: null, report: null, error: null, seq: 0 };
  window.reportsPage = R;

  const isReader = () => Boolean(S.user && READERS.includes(S.user.role));
  const active = () => document.body.dataset.view === 'console' && document.body.dataset.tab === 'reports' && isReader();
  const pct = (x) => (x === null || x === undefined ? '—' : `${(x * 100).toFixed(1)}%`);
  const num = (x) => (x === null || x === undefined ? '—' : String(x));
  const secs = (x) => (x === null || x === undefined ? '—' : t('wb_secs', Math.round(x)));
  const money = (minor) => (minor / 100).toFixed(2);
  // Today in the tenant's zone (the reports' days are the tenant's, not the browser's: at
  // 00:30 in Shanghai a browser set to UTC is still on yesterday). en-CA formats as YYYY-MM-DD.
  const todayIn = (zone) => {
    try {
      return new Intl.DateTimeFormat('en-CA', { timeZone: zone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
    } catch (_) {
      return null;
    }
  };

  // Columns of each report: [i18n key, cell text from a row, chart value (0-1 or a count)].
  const COLUMNS = {
    agents: [
      ['rp_c_agent', (r) => r.name || r.agent_id],
      ['rp_c_served', (r) => num(r.served)],
      ['rp_c_converted', (r) => num(r.converted)],
      ['rp_c_conversion', (r) => pct(r.conversion_rate)],
      ['rp_c_effective', (r) => num(r.effective_calls)],
      ['rp_c_quota', (r) => num(r.effective_calls_quota)],
      ['rp_c_visits', (r) => `${r.callback_visits} + ${r.other_visits}`],
      ['rp_c_revenue', (r) => money(r.revenue_minor)],
      ['rp_c_deduction', (r) => (r.deduction_pct === null ? '—' : `−${r.deduction_pct}%`)],
      ['rp_c_qa', (r) => (r.qa_score === null || r.qa_score === undefined ? '—' : Number(r.qa_score).toFixed(1))],
    ],
    queues: [
      ['rp_c_queue', (r) => r.queue],
      ['rp_c_offered', (r) => num(r.offered)],
      ['rp_c_answered', (r) => num(r.answered)],
      ['rp_c_abandoned', (r) => num(r.abandoned)],
      ['rp_c_sl', (r) => `${pct(r.service_level)} (${r.threshold_secs} s)`],
      ['rp_c_abandon_rate', (r) => pct(r.abandon_rate)],
      ['rp_c_asa', (r) => secs(r.asa_secs)],
      ['rp_c_aht', (r) => secs(r.aht_secs)],
    ],
    campaigns: [
      ['rp_c_campaign', (r) => r.name || r.campaign_id],
      ['rp_c_attempts', (r) => num(r.attempts)],
      ['rp_c_rest', (r) => num(r.rest_time_violations)],
      ['rp_c_key', (r) => `${pct(r.key_customer_coverage)} (${r.key_customers_done}/${r.key_customers})`],
      ['rp_c_complete', (r) => `${pct(r.record_completeness)} (${r.complete_records}/${r.answered_attempts})`],
      ['rp_c_3days', (r) => `${pct(r.within_3_days_rate)} (${r.tasks_on_time}/${r.tasks_due})`],
    ],
    tickets: [
      ['rp_c_created', (r) => num(r.created)],
      ['rp_c_reply_sla', (r) => `${pct(r.reply_sla)} (${r.replied_in_time}/${r.replied_in_time + r.reply_late})`],
      ['rp_c_resolution_sla', (r) => `${pct(r.resolution_sla)} (${r.resolved_in_time}/${r.resolved_in_time + r.resolution_late})`],
      ['rp_c_escalated', (r) => num(r.escalated)],
    ],
  };

  // The chart of each report: bars per row (category), one colour per series.
  const CHARTS = {
    agents: {
      label: (r) => r.name || r.agent_id,
      series: [
        ['rp_c_effective', (r) => r.effective_calls],
        ['rp_c_quota', (r) => r.effective_calls_quota],
      ],
    },
    queues: {
      label: (r) => r.queue,
      percent: true,
      series: [
        ['rp_c_sl', (r) => r.service_level],
        ['rp_c_abandon_rate', (r) => r.abandon_rate],
      ],
    },
    campaigns: {
      label: (r) => r.name || r.campaign_id,
      percent: true,
      series: [
        ['rp_c_key', (r) => r.key_customer_coverage],
        ['rp_c_complete', (r) => r.record_completeness],
        ['rp_c_3days', (r) => r.within_3_days_rate],
      ],
    },
    tickets: {
      label: () => t('rp_kind_tickets'),
      percent: true,
      series: [
        ['rp_c_reply_sla', (r) => r.reply_sla],
        ['rp_c_resolution_sla', (r) => r.resolution_sla],
      ],
    },
  };

  function svg(tag, attrs = {}, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function chart(kind, rows) {
    const spec = CHARTS[kind];
    const box = $('rp-chart');
    if (!rows.length) {
      box.replaceChildren();
      return;
    }
    const values = rows.map((r) => spec.series.map(([, f]) => f(r)));
    const max = spec.percent ? 1 : Math.max(1, ...values.flat().filter((v) => v !== null && v !== undefined));
    const W = 760;
    const H = 220;
    const left = 44;
    const bottom = 40;
    const plotH = H - bottom - 24;
    const groupW = (W - left - 10) / rows.length;
    const barW = Math.max(4, Math.min(36, (groupW - 12) / spec.series.length));
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, width: '100%', role: 'img', 'data-testid': 'rp-svg' });
    for (let i = 0; i <= 4; i += 1) {
      const y = 10 + plotH - (plotH * i) / 4;
      root.append(svg('line', { x1: left, x2: W - 6, y1: y, y2: y, class: 'rp-grid' }));
      const v = (max * i) / 4;
      root.append(svg('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'rp-axis' }, spec.percent ? `${Math.round(v * 100)}%` : String(Math.round(v))));
    }
    rows.forEach((r, i) => {
      const x0 = left + i * groupW + (groupW - barW * spec.series.length) / 2;
      values[i].forEach((v, s) => {
        const h = v === null || v === undefined ? 0 : (plotH * v) / max;
        const bar = svg('rect', { x: x0 + s * barW, y: 10 + plotH - h, width: barW - 2, height: Math.max(0, h), class: `rp-bar rp-s${s}` });
        bar.append(svg('title', {}, `${t(spec.series[s][0])}: ${spec.percent ? pct(v) : num(v)}`));
        root.append(bar);
      });
      const label = String(spec.label(r));
      root.append(svg('text', { x: left + i * groupW + groupW / 2, y: H - bottom + 16, 'text-anchor': 'middle', class: 'rp-axis' }, label.length > 14 ? `${label.slice(0, 13)}…` : label));
    });
    spec.series.forEach(([key], s) => {
      const x = left + s * 190;
      root.append(svg('rect', { x, y: H - 14, width: 10, height: 10, class: `rp-bar rp-s${s}` }));
      root.append(svg('text', { x: x + 14, y: H - 5, class: 'rp-axis' }, t(key)));
    });
    box.replaceChildren(root);
  }

  function render() {
    const show = active();
    $('reports-view').hidden = !show;
    const tab = document.querySelector('.tab-btn[data-tab=reports]');
    if (tab) tab.hidden = !isReader();
    if (!show) return;
    $('rp-kind').value = R.kind;
    $('rp-period').value = R.period;
    if (!$('rp-date').value && R.date) $('rp-date').value = R.date;
    $('rp-title').textContent = t(`rp_kind_${R.kind}`);
    const rep = R.report;
    $('rp-range').textContent = rep ? t('rp_range', rep.label, rep.from, rep.to, rep.time_zone) : '';
    $('rp-message').textContent = R.error ? t('rp_failed', R.error) : rep && !rep.rows.length ? t('rp_empty') : '';
    const cols = COLUMNS[R.kind];
    const table = $('rp-table');
    table.tHead.replaceChildren(el('tr', {}, ...cols.map(([key]) => el('th', { text: t(key) }))));
    const shown = rep && rep.kind === R.kind;
    const rows = shown ? rep.rows : [];
    // Which report the table holds (tests wait on it).
    table.dataset.kind = shown ? rep.kind : '';
    table.dataset.period = shown ? rep.period : '';
    table.tBodies[0].replaceChildren(...rows.map((r) => el('tr', {}, ...cols.map(([, f]) => el('td', { text: f(r) })))));
    chart(R.kind, rows);
  }

  function el(tag, attrs = {}, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'text') e.textContent = v;
      else e.setAttribute(k, v);
    }
    e.append(...children);
    return e;
  }

  // Without a date the server reports the period holding the tenant's today.
  const query = () => `period=${R.period}${R.date ? `&date=${encodeURIComponent(R.date)}` : ''}`;

  async function load() {
    if (!active()) return;
    const seq = (R.seq += 1);
    const kind = R.kind;
    try {
      const rep = await api('GET', `/reports/${kind}?${query()}`);
      if (seq !== R.seq) return;
      R.report = { ...rep, kind };
      R.error = null;
      if (!R.date) R.date = todayIn(rep.time_zone);
    } catch (e) {
      if (seq !== R.seq) return;
      R.report = null;
      R.error = e.field ? `${e.message} (${e.field})` : e.message;
    }
    render();
  }

  async function exportCsv() {
    const res = await fetch(`/api/v1/reports/${R.kind}?${query()}&format=csv`, { headers: { Authorization: `Bearer ${S.token}` } });
    if (!res.ok) return;
    const url = URL.createObjectURL(await res.blob());
    const label = R.report ? R.report.label : R.date;
    const a = el('a', { href: url, download: `${R.kind}-report-${label}.csv` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  }

  function init() {
    document.addEventListener('console:render', render);
    document.addEventListener('console:stop', () => {
      Object.assign(R, { report: null, error: null });
      render();
    });
    document.querySelectorAll('.tab-btn').forEach((b) =>
      b.addEventListener('click', () => {
        render();
        if (b.dataset.tab === 'reports') load();
      }));
    $('rp-kind').addEventListener('change', () => {
      R.kind = $('rp-kind').value;
      R.report = null;
      load();
    });
    $('rp-period').addEventListener('change', () => {
      R.period = $('rp-period').value;
      load();
    });
    $('rp-date').addEventListener('change', () => {
      R.date = $('rp-date').value || null;
      load();
    });
    $('btn-rp-csv').addEventListener('click', exportCsv);
    render();
  }

  init();
})();
