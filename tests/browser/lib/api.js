// What the browser suites share besides the page: the server's REST API with a token, polling
// until something holds, and SIPp phones started beside the browser.
//
//   const { apiClient, until, sippRunner } = require('./lib/api');
//   const api = apiClient(BASE, TOKEN);           // await api('GET', '/calls?limit=1')
//   const sipp = sippRunner({ WORK, SIP_PORT });  // await sipp('name', scenario, { to: '1001' })
//   await until(async () => (await api('GET', '/queues/live')).agents.length, 'agents listed');
'use strict';

const assert = require('assert/strict');
const { spawn } = require('child_process');
const sp = require('./softphone');

// `api(method, path, body)` against `${base}/api/v1` with `token`: the parsed JSON body (null
// for 204); a status other than 2xx fails the test with the server's answer.
function apiClient(base, token) {
  return async function api(method, path, body) {
    const headers = { Authorization: `Bearer ${token}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const r = await fetch(`${base}/api/v1${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
    return r.status === 204 || text === '' ? null : JSON.parse(text);
  };
}

// Polls `fn` every 100 ms until it returns a truthy value (returned); fails with `what` and
// the last value after `ms`.
async function until(fn, what, ms = 10000) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`${what} (last: ${JSON.stringify(last)})`);
}

// `sipp(name, scenario, { to, extra, port })`: one SIPp phone running `scenario` against the
// server at SIP_PORT, dialling `to` (default `defaultTo`), in WORK (where the scenarios' pcap
// files are), errors in WORK/sipp-<name>.err; resolves with SIPp's exit status (0 = the
// scenario went as written). `port` pins SIPp's own port (a registered phone's contact).
function sippRunner({ WORK, SIP_PORT, defaultTo }) {
  return async function sipp(name, scenario, { to = defaultTo, extra = [], port } = {}) {
    assert.ok(to, `sipp ${name}: no number to dial`);
    const args = ['-sf', scenario, '-s', to, '-m', '1', '-timeout', '60s', '-nostdin', ...extra,
      '-i', '127.0.0.1', '-p', `${port || (await sp.freePort())}`, '-mp', `${await sp.freeMediaPort()}`,
      '-trace_err', '-error_file', `${WORK}/sipp-${name}.err`, `127.0.0.1:${SIP_PORT}`];
    const child = spawn('sipp', args, { stdio: 'ignore', cwd: WORK });
    return new Promise((resolve) => child.on('exit', (status) => resolve(status)));
  };
}

module.exports = { apiClient, until, sippRunner };
