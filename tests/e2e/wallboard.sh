#!/usr/bin/env bash
# The supervisors' wallboard and reports (issue 11, acceptance 3 and 6), in headless Chromium
# against the real server: an agent's console and a supervisor's Wallboard tab; the agent goes
# ready → ringing (a SIPp caller in the queue) → on a call, and the wallboard shows each change
# within 1 s of its source (pushed over server-sent events, no polling); a caller waiting past
# the queue's 3 s alert threshold turns the queue row the alert colour; the Reports tab shows
# today's queue figures as the API gives them, with the chart and the CSV. Screenshots
# (wallboard and report, en and zh-CN) go to docs/screenshots/. The checks are in
# tests/browser/wallboard.js; this script starts the server and its users.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_browser_tests
# Chinese glyphs for the zh-CN screenshots (without a CJK font Chromium draws boxes).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "installing fonts-wqy-zenhei (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null
fi

DOMAIN=wallboard.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 3
# JsSIP keeps only the last challenge; the WebSocket side puts MD5 last by itself.
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5", "SHA-256"]'

echo "== set-up: agent 1001 (王小明), a supervisor (张主管), a QA reviewer"
echo "$PASSWORD" | "$BIN" user add agent1 --role agent --name "王小明" --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --name "张主管" --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add qa1 --role qa --name "QA Li" --password-stdin >/dev/null
start_server

HTTP_PORT=$HTTP_PORT SIP_PORT=$SIP_PORT PASSWORD=$PASSWORD TOKEN=$(token) WORK=$WORK SCEN=$SCEN \
  SHOTS="$ROOT/docs/screenshots" timeout 300 node "$ROOT/tests/browser/wallboard.js" ||
  fail "wallboard checks failed (exit $?)"
echo "wallboard: ok"
