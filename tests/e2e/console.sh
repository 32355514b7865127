#!/usr/bin/env bash
# The agent console at / (issue 6), in headless Chromium with a fake microphone: sign-in (wrong
# password, lockout), the softphone registers with the agent's extension, the state buttons
# change the agent's state in the call control, a SIPp caller rings the agent and the ringing
# panel shows the caller and their customer file; calls answered, declined or cancelled; a queue
# call through wrap-up; the queue wait alert; click-to-call to a SIPp desk phone (timer, mute,
# DTMF, hang up); Hold/Resume and blind Transfer from the buttons; after-call notes land in the
# customer file (a new number becomes a potential customer); the hand-over inbox; English and
# Chinese; a blocked microphone, no extension, a refused registration, a stopped server and the
# reconnect after it; sign-out. Screenshots of the console (idle, ringing, in call; en and
# zh-CN) go to docs/screenshots/. The checks are in tests/browser/console.js; this script
# starts the server and seeds it.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_browser_tests
# Chinese glyphs for the zh-CN strings and screenshots (without a CJK font Chromium draws boxes).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "installing fonts-wqy-zenhei (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null
fi

DOMAIN=console.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 3
# JsSIP keeps only the last challenge; the WebSocket side puts MD5 last by itself.
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5", "SHA-256"]'
# The lockout scenario expects the third wrong password to lock the address.
export SWITCHBOARD_SIP__AUTH_MAX_FAILURES=3

echo "== set-up: agents 1001 (王小明), 1002 and 1003 (a SIPp desk phone), an agent to lock out, a supervisor"
echo "$PASSWORD" | "$BIN" user add agent1 --role agent --name "王小明" --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add agent2 --role agent --extension 1002 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add desk --role agent --extension 1003 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add locky --role agent --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null
start_server

HTTP_PORT=$HTTP_PORT SIP_PORT=$SIP_PORT DOMAIN=$DOMAIN PASSWORD=$PASSWORD TOKEN=$(token) \
  WORK=$WORK SCEN=$SCEN BIN=$BIN SERVER_PID=$SERVER_PID SHOTS="$ROOT/docs/screenshots" \
  timeout 400 node "$ROOT/tests/browser/console.js" || fail "console checks failed (exit $?)"

# The browser test stopped the first server (a server-gone check) and ran its own since.
SERVER_PID=
echo "== every call to 1001 has a closed CDR"
open=$(db "SELECT count(*) FROM calls WHERE ended_at IS NULL")
[ "$open" = 0 ] || fail "$open call(s) left open"
echo "console: ok"
