#!/usr/bin/env bash
# Browser softphone calls (issue 6, acceptance 1, 2, 3 and the mid-call part of 6): an agent
# answers a SIPp caller in the agent console, then JsSIP pages in headless Chromium (fake
# microphones playing tones) place, hold, mute, send DTMF and transfer calls through the
# server's WebRTC legs, against SIPp with RTP from a pcap.
# The checks are in tests/browser/softphone_calls.js; this script starts the server.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_browser_tests

DOMAIN=calls.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 3
# JsSIP keeps only the last challenge: MD5 last, as the WebSocket side sorts them.
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5", "SHA-256"]'

echo "== set-up: browser agents 1001 and 1002, SIPp phone 1003, a supervisor to read calls"
for n in 1 2 3; do
  echo "$PASSWORD" | "$BIN" user add "agent$n" --role agent --extension "100$n" --password-stdin >/dev/null
done
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null
start_server

HTTP_PORT=$HTTP_PORT SIP_PORT=$SIP_PORT DOMAIN=$DOMAIN PASSWORD=$PASSWORD TOKEN=$(token) \
  WORK=$WORK SCEN=$SCEN RTP_TOOLS=$RTP_TOOLS \
  timeout 400 node "$ROOT/tests/browser/softphone_calls.js" || fail "browser call checks failed (exit $?)"
echo "softphone calls: all checks passed"
