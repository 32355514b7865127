#!/usr/bin/env bash
# The QA page (issue 11, acceptance 1 and 6) in headless Chromium against the real server, on a
# real recording: a SIPp caller (440 Hz) calls extension 1001, the agent's SIPp phone answers
# (1000 Hz), the recording is paused for a moment mid-call (a card number) through the API.
# Then a QA user searches, plays the recording, seeks to the middle (the server's 206 and its
# Content-Range are read from the browser's network events), switches channel and speed, pins
# a comment, scores the call; the score shows in GET /stats/agents (qa_score); the agent's own
# token gets 403 on the audio; every playback and the download are in the audit log.
# Screenshots docs/screenshots/qa-player-en.png and qa-player-zh-CN.png. The checks are in
# tests/browser/qa.js; this script makes the call and starts the server and users.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_browser_tests
# Chinese glyphs for the zh-CN screenshot (without a CJK font Chromium draws boxes).
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
  echo "installing fonts-wqy-zenhei (apt)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-zenhei >/dev/null
fi

DOMAIN=qa.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 8
PHONE_PORT=$(free_port)

echo "$PASSWORD" | "$BIN" user add agent1 --role agent --name "王小明" --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add inspector --role qa --name "李质检" --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --name "张主管" --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add auditor --role admin --name "Audit" --password-stdin >/dev/null
start_server
TOKEN=$(token)
login() { # login USER: a bearer token
  curl -fs -X POST "127.0.0.1:$HTTP_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$2\"}" | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])'
}
ADMIN_TOKEN=$(login auditor "$PASSWORD")
AGENT_TOKEN=$(login agent1 "$PASSWORD")

# The caller is on file as a customer, so the search shows a name.
curl -fs -o /dev/null -X POST "127.0.0.1:$HTTP_PORT/api/v1/customers" -H "Authorization: Bearer $TOKEN" \
  -H 'Content-Type: application/json' -d '{"name":"陈女士","phones":[{"phone":"+8613800138000"}]}' ||
  fail "creating the customer failed"

echo "== a recorded call: caller 440 Hz ↔ agent 1001 1000 Hz, 8 s, paused about 1.5 s mid-call"
LPORT=$PHONE_PORT sipp_run register register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1001 failed"
LPORT=$PHONE_PORT sipp_run answer uas_answer.xml -mp "$(free_media_port)" &
UAS_PID=$!
sleep 0.5
sipp_run call uac_call.xml -s 1001 -d 8000 -mp "$(free_media_port)" &
CALLER_PID=$!
poll 100 0.1 db_found "SELECT id FROM calls WHERE state = 'answered' LIMIT 1" || fail "the call was not answered"
call_id=$FOUND
api_post() {
  local code
  code=$(curl -s -o "$WORK/api.out" -w '%{http_code}' -X POST "127.0.0.1:$HTTP_PORT/api/v1$1" -H "Authorization: Bearer $TOKEN")
  [ "$code" = 204 ] || fail "POST $1 -> $code $(cat "$WORK/api.out")"
}
sleep 2.5
api_post "/calls/$call_id/recording/pause"
sleep 1.5
api_post "/calls/$call_id/recording/resume"
wait "$CALLER_PID" || fail "the call did not complete (SIPp UAC)"
wait "$UAS_PID" || fail "the agent's phone did not see the call through"
poll 100 0.1 db_found "SELECT id FROM recordings WHERE call_id = '$call_id' AND state = 'complete'" ||
  fail "the recording was not completed"
recording_id=$FOUND
agent_id=$(db "SELECT agent_user_id FROM calls WHERE id = '$call_id'")
echo "   call $call_id, recording $recording_id, agent $agent_id"

HTTP_PORT=$HTTP_PORT PASSWORD=$PASSWORD TOKEN=$TOKEN ADMIN_TOKEN=$ADMIN_TOKEN AGENT_TOKEN=$AGENT_TOKEN \
  RECORDING=$recording_id AGENT_ID=$agent_id WAV="$WORK/recordings/$(db "SELECT path FROM recordings WHERE id = '$recording_id'")" \
  SHOTS="$ROOT/docs/screenshots" timeout 300 node "$ROOT/tests/browser/qa.js" || fail "QA page checks failed (exit $?)"
echo "qa: ok"
