#!/usr/bin/env bash
# The campaign pages of the console (issue 9, acceptance 5), in headless Chromium against the
# real server: a supervisor creates a call-back (回访) campaign in the Campaigns tab from a CSV
# with 3 good rows and 2 bad ones (the 2 are shown in the page's per-row error report), launches
# it and watches its progress; an agent gets the next task in the console's call-back panel with
# its script and records the outcome; the progress then shows one done (page and API).
# Screenshots (campaign page and task panel, en and zh-CN) go to docs/screenshots/. The checks
# are in tests/browser/campaigns_ui.js; this script starts the server and its users.
#
# Time of day: the campaign is created with an empty rest time and holidays only in 2031 (the page's
# "Rest time" field cleared), so every customer is inside their calling window whatever the
# hour in their zone; the campaign starts at the start of today and ends in 30 days.
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

DOMAIN=campaigns.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
# JsSIP keeps only the last challenge; the WebSocket side puts MD5 last by itself.
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5", "SHA-256"]'

echo "== set-up: agents 1001 (王小明) and 1002, a supervisor"
echo "$PASSWORD" | "$BIN" user add agent1 --role agent --name "王小明" --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add agent2 --role agent --name "Lucy Chen" --extension 1002 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --name "张主管" --password-stdin >/dev/null
start_server

HTTP_PORT=$HTTP_PORT PASSWORD=$PASSWORD TOKEN=$(token) WORK=$WORK SHOTS="$ROOT/docs/screenshots" \
  timeout 300 node "$ROOT/tests/browser/campaigns_ui.js" || fail "campaign page checks failed (exit $?)"
echo "campaigns_ui: ok"
