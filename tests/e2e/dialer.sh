#!/usr/bin/env bash
# The outbound dialer end to end (issue 10, acceptance 1). A SIPp UAS is the trunk: the
# customers behind it answer (number ending in 1), are busy (2) or never answer (3)
# (tests/e2e/sipp/uas_customer.xml); three agents' SIPp phones register with digest and answer
# (auto-answer) with a 1000 Hz tone for 3 s, then hang up. Campaigns are created, filled from a
# CSV import and started through the API:
# - progressive (alice, bob): two answer, one busy, one no answer. The answered calls are bridged
#   to the agents (the agent's INVITE shows the customer's number, for the screen pop) and
#   recorded (WAV: customer 440 Hz left, agent 1000 Hz right); busy and no answer are filed on
#   the tasks; the no-answer rang at least 15 s (INVITE → CANCEL at the trunk, from tcpdump).
# - preview (alice): the dialer shows alice the customer (GET /dialer/preview), she dials
#   (POST /dialer/preview/dial), the call is bridged to her.
# - predictive (alice, bob, carol; budget seeded with today's earlier live answers so there is
#   room to dial ahead): every customer answers; the answered calls go to agents, and carol's
#   phone now only rings, so a customer connected to her finds nobody within 2 s — it is logged and counted
#   (dialer_abandons, dialer_days, the task's outcome) and its customer hears the recorded
#   message (speech energy in the RTP the customer's side received, from tcpdump).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh

DOMAIN=dialer.switchboard.test
PASSWORD="left-otter-4"
source tests/e2e/lib/sip_server.sh
call_setup 12
cp "$WORK/caller.pcap" "$WORK/customer.pcap"
CHECK="$ROOT/tests/e2e/lib/dialer_check.py"
TRUNK_PORT=$(free_port)
export SWITCHBOARD_TRUNK__HOST="127.0.0.1:$TRUNK_PORT"
export SWITCHBOARD_TRUNK__CALLER_ID='"+8640088888888"'
export SWITCHBOARD_DIALER__RING_TIMEOUT_SECS=15
export SWITCHBOARD_DIALER__WRAP_UP_SECS=1

for who in alice:1001 bob:1002 carol:1003; do
  echo "$PASSWORD" | "$BIN" user add "${who%%:*}" --role agent --extension "${who##*:}" --password-stdin >/dev/null
done
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null
start_server
grep -q "outbound dialer on" "$WORK/serve.log" || fail "the dialer did not start"
login() {
  curl -fs -X POST "127.0.0.1:$HTTP_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$1\",\"password\":\"$PASSWORD\"}" | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])'
}
declare -A TOKEN
for u in boss alice bob carol; do TOKEN[$u]=$(login "$u"); done
# api METHOD PATH [JSON] as USER (default boss): prints the body; API_CODE holds the status.
api() {
  local method=$1 path=$2 body=${3:-} user=${AS:-boss}
  API_CODE=$(curl -s -o "$WORK/api.out" -w '%{http_code}' -X "$method" "127.0.0.1:$HTTP_PORT/api/v1$path" \
    -H "Authorization: Bearer ${TOKEN[$user]}" ${body:+-H 'Content-Type: application/json' -d "$body"})
  [ "${API_CODE:0:1}" = 2 ] || { echo "$method $path as $user -> $API_CODE: $(cat "$WORK/api.out")"; return 1; }
  cat "$WORK/api.out"
}
json() { python3 -c "import sys, json; d = json.load(sys.stdin); print($1)"; }
user_id() { db "SELECT id FROM users WHERE username = '$1'"; }

echo "== the customers' side of the trunk (SIPp UAS) and tcpdump on it"
CUSTOMER_MEDIA=$(free_media_port)
tcpdump -i lo -n -s 2000 -w "$WORK/trunk.pcap" "udp and (port $TRUNK_PORT or dst port $CUSTOMER_MEDIA)" \
  >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
timeout 300 sipp -sf "$SCEN/uas_customer.xml" -m 1000 -nostdin -i 127.0.0.1 -p "$TRUNK_PORT" \
  -mp "$CUSTOMER_MEDIA" -trace_err -error_file "$WORK/sipp-customers.err" >"$WORK/sipp-customers.out" 2>&1 &
CUSTOMERS=$!

echo "== three agents' phones register (digest) and answer dialer calls"
declare -A PHONE PHONE_PORT
for who in alice:1001 bob:1002 carol:1003; do
  name=${who%%:*}; ext=${who##*:}
  port=$(free_port)
  PHONE_PORT[$name]=$port
  LPORT=$port sipp_run "register-$name" register.xml -s "$ext" -au "$ext" -ap "$PASSWORD" -set expires 300 ||
    fail "REGISTER $ext failed"
  (cd "$WORK" && timeout 300 sipp -sf "$SCEN/uas_agent_talk.xml" -m 50 -nostdin -i 127.0.0.1 -p "$port" \
    -mp "$(free_media_port)" -trace_msg -message_file "$WORK/agent-$name.msg" \
    -trace_err -error_file "$WORK/sipp-agent-$name.err" "127.0.0.1:$SIP_PORT" >"$WORK/sipp-agent-$name.out" 2>&1) &
  PHONE[$name]=$!
done
sleep 0.5

# import TAG NUMBER...: customers with these numbers, tagged TAG (CSV import, waited for).
import() {
  local tag=$1; shift
  local csv="name,phones" i=0 id state
  for n in "$@"; do i=$((i + 1)); csv+=$'\n'"Customer $tag $i,$n"; done
  printf '%s\n' "$csv" >"$WORK/$tag.csv"
  id=$(curl -fs -X POST "127.0.0.1:$HTTP_PORT/api/v1/customers/imports?tag=$tag&file_name=$tag.csv" \
    -H "Authorization: Bearer ${TOKEN[boss]}" -H 'Content-Type: text/csv' --data-binary @"$WORK/$tag.csv" | json 'd["id"]') ||
    fail "importing $tag failed"
  poll 100 0.1 import_done "$id" || fail "import $tag is $state"
}
import_done() { state=$(api GET "/customers/imports/$1" | json 'd["state"]'); [ "$state" = done ]; }
# campaign MODE TAG AGENT...: a running campaign of the tagged customers; prints its id.
NOW_MS=$(date +%s%3N)
FROM=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
UNTIL=$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)
campaign() {
  local mode=$1 tag=$2; shift 2
  local agents
  agents=$(for a in "$@"; do printf '"%s",' "$(user_id "$a")"; done)
  api POST /campaigns "{\"type\":\"service_follow_up\",\"name\":\"dialer $mode\",\"dial_mode\":\"$mode\",
    \"starts_at\":\"$FROM\",\"ends_at\":\"$UNTIL\",\"agents\":[${agents%,}],
    \"target\":{\"tags\":[\"$tag\"]},\"max_attempts\":1,\"calling\":{\"rest\":[]}}" | json 'd["id"]'
}
# wait_calls CAMPAIGN N SECONDS: until N of the campaign's calls have ended.
wait_calls() {
  poll $(($3 * 5)) 0.2 db_at_least "SELECT COUNT(*) FROM calls WHERE target = 'dialer:$1' AND state = 'ended'" "$2" &&
    return 0
  db "SELECT callee, state, end_cause FROM calls WHERE target = 'dialer:$1'"
  fail "only $FOUND of $2 calls of campaign $1 ended"
}
# check_recording CALL: the call's WAV has the customer (440 Hz) left and the agent (1000 Hz) right.
check_recording() {
  local rec wav
  rec=$(db "SELECT recording_id FROM calls WHERE id = '$1'")
  [ -n "$rec" ] || fail "call $1 has no recording row"
  poll 50 0.1 db_is "SELECT state FROM recordings WHERE id = '$rec'" complete || fail "recording of $1 is [$FOUND]"
  wav="$WORK/recordings/$(db "SELECT path FROM recordings WHERE id = '$rec'")"
  mapfile -t channels < <(python3 "$RTP_TOOLS" wav-check "$wav")
  echo "   recording of $1: left ${channels[0]}, right ${channels[1]} (rms Hz)"
  read -r left_rms left_hz <<<"${channels[0]}"
  read -r right_rms right_hz <<<"${channels[1]}"
  [ "$left_rms" -gt 500 ] && [ "$left_hz" = 440 ] || fail "left channel is not the customer: ${channels[0]}"
  [ "$right_rms" -gt 500 ] && [ "$right_hz" = 1000 ] || fail "right channel is not the agent: ${channels[1]}"
}

echo "== progressive (alice, bob): two answer, one busy, one never answers"
import prog +8613800000011 +8613800000021 +8613800000032 +8613800000043
PROG=$(campaign progressive prog alice bob) || fail "creating the progressive campaign failed"
api POST "/campaigns/$PROG/start" >/dev/null || fail "starting it failed"
for name in alice bob; do AS=$name api PUT /agents/me/state '{"state":"ready"}' >/dev/null; done
wait_calls "$PROG" 4 60
api POST "/campaigns/$PROG/stop" >/dev/null || fail "stopping it failed"
AS=alice api PUT /agents/me/state '{"state":"not_ready","reason":"away"}' >/dev/null
AS=bob api PUT /agents/me/state '{"state":"not_ready","reason":"away"}' >/dev/null
db "SELECT callee, IFNULL(u.username, '-'), end_cause FROM calls c LEFT JOIN users u ON u.id = c.agent_user_id
    WHERE target = 'dialer:$PROG' ORDER BY callee" | sed 's/^/   /'
for n in +8613800000011 +8613800000021; do
  row=$(db "SELECT c.id, c.direction, c.caller, IFNULL(u.username, '-') FROM calls c LEFT JOIN users u ON u.id = c.agent_user_id
            WHERE target = 'dialer:$PROG' AND callee = '$n' AND answered_at IS NOT NULL")
  IFS='|' read -r call direction caller agent <<<"$row"
  [ -n "$call" ] || fail "the answered customer $n was not bridged"
  [ "$direction" = outbound ] && [ "$caller" = "+8640088888888" ] || fail "call to $n: direction $direction, caller ID $caller"
  case "$agent" in alice | bob) ;; *) fail "call to $n was bridged to [$agent]" ;; esac
  grep -q "From: <sip:$n@" "$WORK/agent-$agent.msg" ||
    fail "$agent's phone was not shown the customer's number $n"
  check_recording "$call"
done
[ "$(db "SELECT end_cause FROM calls WHERE target = 'dialer:$PROG' AND callee = '+8613800000032'")" = busy ] ||
  fail "the busy customer's CDR does not say busy"
[ "$(db "SELECT end_cause FROM calls WHERE target = 'dialer:$PROG' AND callee = '+8613800000043'")" = no-answer ] ||
  fail "the customer who never answered: CDR does not say no-answer"
for r in +8613800000032:busy +8613800000043:no_answer; do
  got=$(db "SELECT result FROM task_attempts WHERE number = '${r%%:*}'")
  [ "$got" = "${r##*:}" ] || fail "task outcome for ${r%%:*}: [$got], want ${r##*:}"
done

echo "== preview (alice): shown the customer, she dials, the call is bridged to her"
import prev +8613800000051
PREV=$(campaign preview prev alice) || fail "creating the preview campaign failed"
api POST "/campaigns/$PREV/start" >/dev/null || fail "starting it failed"
AS=alice api PUT /agents/me/state '{"state":"ready"}' >/dev/null
previewed() {
  AS=alice api GET /dialer/preview >/dev/null || fail "GET /dialer/preview failed"
  shown=$(cat "$WORK/api.out")
  [ "$API_CODE" = 200 ]
}
poll 50 0.2 previewed || fail "nothing was previewed for alice"
echo "   previewed: $shown"
[ "$(echo "$shown" | json 'd["number"]')" = +8613800000051 ] || fail "the wrong customer was previewed"
[ -z "$(db "SELECT id FROM calls WHERE target = 'dialer:$PREV'")" ] || fail "preview dialled before the agent clicked"
AS=alice api POST /dialer/preview/dial >/dev/null || fail "alice could not dial the preview"
wait_calls "$PREV" 1 20
api POST "/campaigns/$PREV/stop" >/dev/null
AS=alice api PUT /agents/me/state '{"state":"not_ready","reason":"away"}' >/dev/null
[ "$(db "SELECT u.username FROM calls c JOIN users u ON u.id = c.agent_user_id WHERE target = 'dialer:$PREV'")" = alice ] ||
  fail "the previewed call was not bridged to alice"

echo "== predictive (alice, bob, carol): every customer answers; carol's phone now only rings"
# A customer connected to carol finds no agent within 2 s (the law's limit): the dialer abandons
# the call and plays the message, whatever its pacing decided (an over-dial is not needed).
stop_bg "${PHONE[carol]}"
(cd "$WORK" && timeout 300 sipp -sf "$SCEN/uas_ring.xml" -m 50 -nostdin -i 127.0.0.1 -p "${PHONE_PORT[carol]}" \
  -trace_err -error_file "$WORK/sipp-agent-carol-ring.err" "127.0.0.1:$SIP_PORT" >"$WORK/sipp-agent-carol-ring.out" 2>&1) &
PHONE[carol]=$!
import pred +8613800000061 +8613800000071 +8613800000081 +8613800000091 +8613800000101 \
  +8613800000111 +8613800000121 +8613800000131 +8613800000141 +8613800000151
PRED=$(campaign predictive pred alice bob carol) || fail "creating the predictive campaign failed"
# Earlier today the campaign had 300 live answers and no abandon (3 % of 300 = 9 may be
# abandoned): room to dial ahead of the agents. The dialer reads this at its first sight of the
# campaign, as after a restart.
DAY=$(( (NOW_MS + 480 * 60000) / 86400000 ))
db "INSERT INTO dialer_days (tenant_id, campaign_id, day, live_answered, abandoned)
    SELECT tenant_id, id, $DAY, 300, 0 FROM campaigns WHERE id = '$PRED'"
api POST "/campaigns/$PRED/start" >/dev/null || fail "starting it failed"
for name in alice bob carol; do AS=$name api PUT /agents/me/state '{"state":"ready"}' >/dev/null; done
wait_calls "$PRED" 10 90
api POST "/campaigns/$PRED/stop" >/dev/null
db "SELECT callee, IFNULL(u.username, '-'), end_cause FROM calls c LEFT JOIN users u ON u.id = c.agent_user_id
    WHERE target = 'dialer:$PRED' ORDER BY started_at" | sed 's/^/   /'
bridged=$(db "SELECT COUNT(*) FROM calls WHERE target = 'dialer:$PRED' AND agent_user_id IS NOT NULL AND end_cause = 'normal-clearing'")
abandoned=$(db "SELECT COUNT(*) FROM dialer_abandons WHERE campaign_id = '$PRED' AND message_played = 1")
echo "   bridged to agents: $bridged, abandoned with the message: $abandoned"
[ "$bridged" -ge 3 ] || fail "predictive bridged only $bridged calls"
[ "$abandoned" -ge 1 ] || fail "no call was abandoned although carol's phone never picks up"
counted=$(db "SELECT (live_answered - 300) || ' ' || abandoned FROM dialer_days WHERE campaign_id = '$PRED' AND day = $DAY")
echo "   budget today: $counted (live answers since the seed, abandoned)"
[ "${counted##* }" = "$abandoned" ] || fail "the budget did not count the abandons: $counted"
[ "${counted%% *}" -ge "$((bridged + abandoned))" ] || fail "the budget missed live answers: $counted"
ab_call=$(db "SELECT call_id FROM dialer_abandons WHERE campaign_id = '$PRED' AND message_played = 1 LIMIT 1")
ab_number=$(db "SELECT number FROM dialer_abandons WHERE call_id = '$ab_call'")
[ "$(db "SELECT end_cause FROM calls WHERE id = '$ab_call'")" = dialer-abandoned ] || fail "the abandoned call's CDR"
[ "$(db "SELECT result FROM task_attempts WHERE number = '$ab_number'")" = abandoned ] ||
  fail "the abandoned call's task outcome is not 'abandoned'"
grep -q "answered call found no agent in time: abandoned" "$WORK/serve.log" || fail "the abandon was not logged"

echo "== what the trunk saw (tcpdump): ring time of the no-answer, the message the abandoned customer heard"
sleep 0.5
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
python3 "$CHECK" calls "$WORK/trunk.pcap" "$TRUNK_PORT" >"$WORK/calls.jsonl"
rang=$(python3 -c "
import json
for l in open('$WORK/calls.jsonl'):
    c = json.loads(l)
    if c['number'] == '+8613800000043':
        print('%.1f' % (c['cancel_at'] - c['invite_at']))")
echo "   the customer who never answered rang ${rang:-?} s (INVITE → CANCEL)"
python3 -c "import sys; sys.exit(0 if float('${rang:-0}') >= 15.0 else 1)" || fail "a no-answer rang less than 15 s"
sip_id=$(db "SELECT sip_call_id_a FROM calls WHERE id = '$ab_call'")
relay_port=$(python3 -c "
import json
for l in open('$WORK/calls.jsonl'):
    c = json.loads(l)
    if c['call_id'] == '$sip_id':
        print(c['rtp_port'])")
[ -n "$relay_port" ] || fail "the abandoned call's INVITE is not in the capture"
read -r pkts rms variation <<<"$(python3 "$CHECK" heard "$WORK/trunk.pcap" "$CUSTOMER_MEDIA" "$relay_port")"
echo "   the abandoned customer received $pkts packets, rms $rms, loudness variation $variation %"
[ "$pkts" -ge 200 ] && [ "$rms" -gt 300 ] && [ "$variation" -gt 50 ] ||
  fail "the abandoned customer did not hear a spoken message"

stop_bg "$CUSTOMERS" "${PHONE[@]}"
stop_server
echo "dialer: all checks passed"
