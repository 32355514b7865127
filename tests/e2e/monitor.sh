#!/usr/bin/env bash
# A supervisor listening, whispering and barging in on a live call from the browser softphone
# (issue 11, acceptance 4): a SIPp customer (440 Hz) talks to a SIPp agent (1000 Hz); the
# supervisor's browser (fake microphone: 2000 Hz) dials *81 / *82 / *83 + the agent's extension.
# Who hears whom is checked by audio energy: in the supervisor's page (Web Audio analyser on the
# received track) and in tcpdump captures of what each SIPp phone receives.
# The checks are in tests/browser/monitor.js; this script starts the server.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_browser_tests

DOMAIN=monitor.switchboard.test
PASSWORD="quiet-lantern-4"
source tests/e2e/lib/sip_server.sh
# Long enough for the three phases; the test hangs the call up itself.
call_setup 60
# JsSIP keeps only the last challenge: MD5 last, as the WebSocket side sorts them.
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5", "SHA-256"]'

echo "== set-up: SIPp agent 1001, a second agent 1002 (browser), supervisor boss on 1009"
echo "$PASSWORD" | "$BIN" user add agent1 --role agent --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add agent2 --role agent --extension 1002 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --extension 1009 --password-stdin >/dev/null
start_server

HTTP_PORT=$HTTP_PORT SIP_PORT=$SIP_PORT DOMAIN=$DOMAIN PASSWORD=$PASSWORD TOKEN=$(token) \
  WORK=$WORK SCEN=$SCEN RTP_TOOLS=$RTP_TOOLS \
  timeout 300 node "$ROOT/tests/browser/monitor.js" || fail "monitoring checks failed (exit $?)"
echo "monitor: all checks passed"
