// The real peers the browser suites run beside the pages: SIPp phones and callers, tcpdump of
// what they receive, and tests/e2e/lib/rtp_tools.py to read the captured audio.
//
//   const peers = require('./lib/peers')({ SIP_PORT, WORK, SCEN, RTP_TOOLS });
//   const done = peers.sipp('caller', 'uac_talk_until_bye.xml', '1001', { mediaPort });
//   const cap = await peers.capture(`${WORK}/x.pcap`, [mediaPort]);  ...  await cap.stop();
'use strict';

const assert = require('assert/strict');
const fs = require('fs');
const { spawn, spawnSync } = require('child_process');
const sp = require('./softphone');

module.exports = ({ SIP_PORT, WORK, SCEN, RTP_TOOLS }) => {
  // One SIPp call of `scenario` (a file in SCEN) to `service`; resolves with SIPp's exit
  // status. `mediaPort` is where SIPp receives RTP (and plays its pcap from, in WORK).
  async function sipp(name, scenario, service, { mediaPort, args = [], port } = {}) {
    const argv = ['-sf', `${SCEN}/${scenario}`, '-s', service, '-m', '1', '-timeout', '60s', '-nostdin',
      '-i', '127.0.0.1', '-p', `${port || (await sp.freePort())}`, '-mp', `${mediaPort || (await sp.freeMediaPort())}`,
      '-trace_err', '-error_file', `${WORK}/sipp-${name}.err`, ...args, `127.0.0.1:${SIP_PORT}`];
    const child = spawn('sipp', argv, { cwd: WORK, stdio: ['ignore', fs.openSync(`${WORK}/sipp-${name}.out`, 'w'), 'inherit'] });
    return new Promise((resolve) => child.on('exit', (status) => resolve(status)));
  }

  // tcpdump of the UDP datagrams sent to `ports` on loopback; `stop()` resolves once the file
  // is complete.
  async function capture(file, ports) {
    const filter = `udp and (${ports.map((p) => `dst port ${p}`).join(' or ')})`;
    const child = spawn('tcpdump', ['-i', 'lo', '-n', '-s', '300', '-U', '-w', file, filter], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1000)); // tcpdump has no "listening" signal on a file
    return {
      stop: () =>
        new Promise((resolve) => {
          child.on('exit', resolve);
          child.kill('SIGINT');
        }),
    };
  }

  function rtpTool(...args) {
    const r = spawnSync('python3', [RTP_TOOLS, ...args], { encoding: 'utf8' });
    assert.equal(r.status, 0, `rtp_tools ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  }

  // "packets dominant-Hz" of the PCMU audio sent to `port` in `file`.
  function heardAt(file, port) {
    const [packets, hz] = rtpTool('pcap-tone', file, `${port}`).split(' ').map(Number);
    return { packets, hz };
  }

  // The share (0..1) of each of `freqs` in the PCMU audio sent to `port` in `file`, and in
  // `present[f]` the part of the audio's 100 ms blocks in which it is clearly there.
  function levelsAt(file, port, freqs) {
    const [packets, ...pairs] = rtpTool('pcap-levels', file, `${port}`, ...freqs.map(String)).split(' ');
    const parsed = pairs.map((p) => p.split(':').map(Number));
    return {
      packets: Number(packets),
      ...Object.fromEntries(freqs.map((f, i) => [f, parsed[i][0]])),
      present: Object.fromEntries(freqs.map((f, i) => [f, parsed[i][1]])),
    };
  }

  return { sipp, capture, rtpTool, heardAt, levelsAt, freePort: sp.freePort };
};
