#!/usr/bin/env bash
# SIP over WebSocket (issue 6, part 1): JsSIP in headless Chromium registers at ws://…/sip and
# the registrations API lists it with transport ws; a wrong password fails; a raw WebSocket's
# garbage is dropped and counted, its unauthenticated REGISTER gets 401 and repeated garbage
# closes it, while the server keeps serving; a SIPp caller's INVITE to the browser's extension
# reaches JsSIP over its socket and is cancelled cleanly; a killed browser's binding goes with
# its socket; a WebRTC offer without a DTLS fingerprint gets 488 before the browser rings; an
# unregister removes it; wrong digests end in a lockout (403).
# The checks are in tests/browser/ws_register.js; this script starts the server.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_browser_tests

DOMAIN=ws.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 1
# MD5 first (as SIPp needs, and as some sites configure): JsSIP keeps only the last challenge,
# so the WebSocket side must put MD5 last by itself.
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5", "SHA-256"]'
export SWITCHBOARD_SIP__AUTH_MAX_FAILURES=3
# Short keep-alive so the idle check takes seconds: the browsers answer the pings and stay.
export SWITCHBOARD_SIP__WS_PING_INTERVAL_SECS=1
export SWITCHBOARD_SIP__WS_IDLE_TIMEOUT_SECS=3

echo "== set-up: agents 1001, 1002, 1003 and a supervisor to read the registrations"
for n in 1 2 3; do
  echo "$PASSWORD" | "$BIN" user add "agent$n" --role agent --extension "100$n" --password-stdin >/dev/null
done
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null
start_server

SIPP_CANCEL="timeout 60 sipp -sf $SCEN/uac_cancel.xml -s 1001 -m 1 -timeout 30s -nostdin \
  -i 127.0.0.1 -p $(free_port) -mp $(free_media_port) -trace_err -error_file $WORK/sipp-cancel.err \
  127.0.0.1:$SIP_PORT >$WORK/sipp-cancel.out 2>&1"

HTTP_PORT=$HTTP_PORT SIP_PORT=$SIP_PORT DOMAIN=$DOMAIN PASSWORD=$PASSWORD TOKEN=$(token) \
  MAX_FAILURES=3 WORK=$WORK SIPP_CANCEL=$SIPP_CANCEL SCEN=$SCEN IDLE_SECS=3 \
  timeout 300 node "$ROOT/tests/browser/ws_register.js" || fail "browser checks failed (exit $?)"

echo "== the calls' CDRs are closed: cancelled, refused for its media, ended with its socket"
cdrs() {
  db \
    "SELECT end_cause FROM calls WHERE callee = '1001' ORDER BY started_at" | tr '\n' ' '
}
want="caller-cancel media-negotiation-failed unavailable "
cdrs_as_wanted() { [ "$(cdrs)" = "$want" ]; }
poll 50 0.1 cdrs_as_wanted || fail "CDRs of the calls to 1001: [$(cdrs)], want [$want]"
open=$(db "SELECT count(*) FROM calls WHERE ended_at IS NULL")
[ "$open" = 0 ] || fail "$open call(s) left open"
stop_server
echo "ws_register: ok"
