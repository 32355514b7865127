#!/usr/bin/env bash
# SIPp calls through the B2BUA (issue 5, acceptance 2 and 3):
# - a caller (SIPp UAC, a trusted trunk address) calls extension 1001 (SIPp UAS registered with
#   digest auth); each side plays its own tone (caller 440 Hz, agent 1000 Hz) from a pcap.
#   Checked: the call completes; tcpdump shows each party receiving the OTHER party's tone from
#   our relay; the CDR says answered/normal-clearing; the recording is a stereo WAV whose left
#   channel carries the caller's tone and the right channel the agent's.
# - CANCEL before answer (487), busy (486), no answer (480 at the ring timeout), BYE from the
#   callee, and an unknown number (404): right codes, a CDR with the cause, RTP ports freed.
# - Hold/resume by re-INVITE (sendonly → recvonly, then sendrecv) relayed to the other leg, and
#   an RFC 4733 key press from the caller reaching the agent and decoded by the server
#   (acceptance 4).
# - Blind transfer (REFER) from the agent to another extension.
# - Through the API: the recording paused and resumed mid-call (a silent, listed span in the
#   WAV), and a supervisor hanging up a call.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh

DOMAIN=e2e.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 3
export SWITCHBOARD_CALLS__RING_TIMEOUT_SECS=3
PHONE_PORT=$(free_port)

echo "$PASSWORD" | "$BIN" user add alice --role agent --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add bob --role agent --extension 1002 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add hooks --role admin --password-stdin >/dev/null
start_server

TOKEN=$(token)

# A webhook receiver (issue 8): every POST body it gets, one JSON document a line.
HOOK_PORT=$(free_port)
python3 - "$HOOK_PORT" "$WORK/hooks.jsonl" <<'PY' &
import http.server, json, sys
port, out = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(out, "a") as f:
            f.write(json.dumps(json.loads(body)) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def log_message(self, *a): pass
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
PY
ADMIN_TOKEN=$(curl -fs -X POST "127.0.0.1:$HTTP_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"hooks\",\"password\":\"$PASSWORD\"}" | python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
curl -fs -o /dev/null -X POST "127.0.0.1:$HTTP_PORT/api/v1/webhooks" -H "Authorization: Bearer $ADMIN_TOKEN" \
  -H 'Content-Type: application/json' \
  -d "{\"url\":\"http://127.0.0.1:$HOOK_PORT/hook\",\"event_types\":[\"call.*\",\"recording.ready\"]}" ||
  fail "creating the webhook subscription failed"

echo "== the agent's phone registers as 1001"
LPORT=$PHONE_PORT sipp_run register register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1001 failed"

# cdr CALL-NUMBER: "state end_cause sip_status hangup_by" of the newest call to that number.
cdr() {
  db \
    "SELECT state, end_cause, IFNULL(sip_status, '-'), hangup_by, IFNULL(recording_id, '-')
       FROM calls WHERE callee = '$1' ORDER BY started_at DESC LIMIT 1" | tr '|' ' '
}
cdr_starts() { [[ "$(cdr "$1")" == "$2"* ]]; }
wait_cdr() { # wait_cdr NUMBER WANT-PREFIX: the CDR writer is asynchronous
  poll 50 0.1 cdr_starts "$1" "$2" || fail "CDR for $1: got [$(cdr "$1")], want [$2...]"
}
ports_in_use() {
  curl -fs "127.0.0.1:$HTTP_PORT/metrics" | awk '/^switchboard_rtp_port_pairs_in_use /{print $2}'
}
no_ports_in_use() { [ "$(ports_in_use)" = "0" ]; }
wait_ports_free() {
  poll 50 0.1 no_ports_in_use || fail "RTP ports still in use after $1: $(ports_in_use)"
}

# answered_call_id: the id of the call in progress, once answered.
answered_call_id() {
  poll 50 0.1 db_found "SELECT id FROM calls WHERE state = 'answered' ORDER BY started_at DESC LIMIT 1" ||
    fail "no call got answered"
  echo "$FOUND"
}
api_post() { # api_post PATH: POST as the supervisor, must answer 204
  local code
  code=$(curl -s -o "$WORK/api.out" -w '%{http_code}' -X POST "127.0.0.1:$HTTP_PORT/api/v1$1" \
    -H "Authorization: Bearer $TOKEN")
  [ "$code" = 204 ] || { echo "POST $1 -> $code $(cat "$WORK/api.out")"; return 1; }
}

# uas SCENARIO NAME [args]: the agent's phone in the background, on its registered port.
uas() {
  local scenario=$1 name=$2; shift 2
  LPORT=$PHONE_PORT sipp_run "$name" "$scenario" "$@" &
  UAS_PID=$!
  sleep 0.5
}

echo "== a call: caller ↔ agent with audio both ways, recorded"
CALLER_MEDIA=$(free_media_port); AGENT_MEDIA=$(free_media_port)
tcpdump -i lo -n -s 300 -w "$WORK/rtp.pcap" "udp and (dst port $CALLER_MEDIA or dst port $AGENT_MEDIA)" \
  >"$WORK/tcpdump.log" 2>&1 &
TCPDUMP_PID=$!
sleep 1
uas uas_answer.xml answer -mp "$AGENT_MEDIA" 
sipp_run call uac_call.xml -s 1001 -d 3500 -mp "$CALLER_MEDIA" &
CALLER_PID=$!
call_id=$(answered_call_id)
# The customer reads out a card number: the agent pauses the recording for about a second.
sleep 0.6
api_post "/calls/$call_id/recording/pause" || fail "pausing the recording failed"
sleep 1.2
api_post "/calls/$call_id/recording/resume" || fail "resuming the recording failed"
wait "$CALLER_PID" || fail "the call did not complete (SIPp UAC)"
wait "$UAS_PID" || fail "the agent's phone did not see the call through"
sleep 0.5
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
read -r caller_pkts caller_heard <<<"$(python3 "$RTP_TOOLS" pcap-tone "$WORK/rtp.pcap" "$CALLER_MEDIA")"
read -r agent_pkts agent_heard <<<"$(python3 "$RTP_TOOLS" pcap-tone "$WORK/rtp.pcap" "$AGENT_MEDIA")"
echo "   caller received $caller_pkts packets (tone $caller_heard Hz), agent $agent_pkts ($agent_heard Hz)"
[ "$caller_pkts" -ge 100 ] && [ "$caller_heard" = 1000 ] || fail "the caller did not hear the agent"
[ "$agent_pkts" -ge 100 ] && [ "$agent_heard" = 440 ] || fail "the agent did not hear the caller"
wait_cdr 1001 "ended normal-clearing - caller"
read -r _ _ _ _ recording_id <<<"$(cdr 1001)"
[ "$recording_id" != "-" ] || fail "the call has no recording row"
poll 50 0.1 db_is "SELECT state FROM recordings WHERE id = '$recording_id'" complete ||
  fail "recording row state is [$FOUND], want complete"
wav="$WORK/recordings/$(db "SELECT path FROM recordings WHERE id = '$recording_id'")"
mapfile -t channels < <(python3 "$RTP_TOOLS" wav-check "$wav")
echo "   recording $(basename "$wav"): left ${channels[0]}, right ${channels[1]} (rms Hz)"
read -r left_rms left_hz <<<"${channels[0]}"
read -r right_rms right_hz <<<"${channels[1]}"
[ "$left_rms" -gt 500 ] && [ "$left_hz" = 440 ] || fail "left channel is not the caller: ${channels[0]}"
[ "$right_rms" -gt 500 ] && [ "$right_hz" = 1000 ] || fail "right channel is not the agent: ${channels[1]}"
gap_ms=$(python3 "$RTP_TOOLS" wav-gap "$wav")
echo "   paused span in the recording: $gap_ms ms of silence"
# Paused for 1.2 s between two API calls; allow for a loaded machine's scheduling.
[ "$gap_ms" -ge 900 ] && [ "$gap_ms" -le 2500 ] || fail "the paused span is $gap_ms ms, want about 1200"
paused=$(db "SELECT paused_json FROM recordings WHERE id = '$recording_id'")
[ "$paused" != "[]" ] || fail "the recording row does not list the paused span"
sha=$(db "SELECT sha256 FROM recordings WHERE id = '$recording_id'")
[ "$sha" = "$(sha256sum "$wav" | cut -d' ' -f1)" ] || fail "recording SHA-256 in the store does not match the file"
wait_ports_free "the call"

echo "== the webhook receiver got the call's events"
# hook_events CALL-ID: the event types received for that call, in delivery order.
hook_events() {
  python3 - "$WORK/hooks.jsonl" "$1" <<'PY'
import json, sys
path, call = sys.argv[1], sys.argv[2]
try:
    lines = open(path).read().splitlines()
except FileNotFoundError:
    lines = []
for line in lines:
    ev = json.loads(line)
    d = ev.get("data", {})
    if d.get("id") == call or d.get("call_id") == call:
        print(ev["type"], d.get("state"), d.get("end_cause") or "-", d.get("recording_id") or d.get("sha256") or "-")
PY
}
recording_announced() { hook_events "$call_id" | grep >/dev/null '^recording.ready'; }
poll 100 0.1 recording_announced || true # the checks below say what is missing
hook_events "$call_id" | sed 's/^/   /'
hook_events "$call_id" | grep >/dev/null "^call.started setup " || fail "no call.started event"
hook_events "$call_id" | grep >/dev/null "^call.answered answered " || fail "no call.answered event"
hook_events "$call_id" | grep -x >/dev/null "call.ended ended normal-clearing $recording_id" ||
  fail "no call.ended event naming the end cause and recording $recording_id"
hook_events "$call_id" | grep -x >/dev/null "recording.ready complete - $sha" ||
  fail "no recording.ready event with the file's SHA-256"

echo "== CANCEL before answer: 487 to the caller, CANCEL to the phone"
uas uas_ring.xml ring
sipp_run cancel uac_cancel.xml -s 1001 || fail "CANCEL scenario failed"
wait "$UAS_PID" || fail "the phone did not get the CANCEL"
wait_cdr 1001 "ended caller-cancel 487 caller"
wait_ports_free "CANCEL"

echo "== busy: 486 passed to the caller"
uas uas_busy.xml busy
sipp_run busy "$(expect_scenario 486)" -s 1001 || fail "busy did not give 486"
wait "$UAS_PID" || fail "the phone's busy scenario failed"
wait_cdr 1001 "ended busy 486 callee"
wait_ports_free "busy"

echo "== no answer: 480 after calls.ring_timeout_secs, the phone is cancelled"
uas uas_ring.xml noanswer
sipp_run noanswer "$(expect_scenario 480)" -s 1001 || fail "no answer did not give 480"
wait "$UAS_PID" || fail "the ringing phone was not cancelled"
wait_cdr 1001 "ended no-answer 480 system"
wait_ports_free "no answer"

echo "== the agent hangs up: BYE reaches the caller"
uas uas_bye.xml agent-bye
sipp_run agent-bye uac_wait_bye.xml -s 1001 || fail "the caller did not get the agent's BYE"
wait "$UAS_PID" || fail "the agent's BYE was not answered"
wait_cdr 1001 "ended normal-clearing - callee"
wait_ports_free "the agent's BYE"

echo "== hold and resume by re-INVITE, RFC 4733 DTMF through the bridge"
cp /usr/share/sip-tester/dtmf_2833_1.pcap "$WORK/dtmf.pcap"
dtmf_before=$(curl -fs "127.0.0.1:$HTTP_PORT/metrics" | awk '/^switchboard_dtmf_events_total /{print $2}')
AGENT_MEDIA=$(free_media_port)
tcpdump -i lo -n -s 300 -w "$WORK/dtmf-rtp.pcap" "udp and dst port $AGENT_MEDIA" >"$WORK/tcpdump2.log" 2>&1 &
TCPDUMP_PID=$!
sleep 1
uas uas_hold.xml hold -mp "$AGENT_MEDIA"
sipp_run hold uac_hold.xml -s 1001 -mp "$(free_media_port)" ||
  fail "hold/resume: the caller did not get recvonly then sendrecv answers"
wait "$UAS_PID" || fail "hold/resume: the agent's phone did not get sendonly then sendrecv offers"
sleep 0.5
kill -INT "$TCPDUMP_PID"; wait "$TCPDUMP_PID" || true
dtmf_to_agent=$(python3 - "$WORK/dtmf-rtp.pcap" "$AGENT_MEDIA" "$RTP_TOOLS" <<'PY'
import sys, importlib.util
spec = importlib.util.spec_from_file_location("rtp_tools", sys.argv[3])
tools = importlib.util.module_from_spec(spec); spec.loader.exec_module(tools)
events = [p[12] for dst, p in tools.read_pcap(sys.argv[1]) if dst == int(sys.argv[2]) and len(p) >= 16 and p[1] & 0x7F == 101]
print(len(events), sorted(set(events)))
PY
)
echo "   telephone-event packets reaching the agent, events: $dtmf_to_agent"
case "$dtmf_to_agent" in "0 "*) fail "no RFC 4733 packets reached the agent" ;; *" [1]") ;; *) fail "wrong DTMF events reached the agent: $dtmf_to_agent" ;; esac
dtmf_after=$(curl -fs "127.0.0.1:$HTTP_PORT/metrics" | awk '/^switchboard_dtmf_events_total /{print $2}')
[ "${dtmf_after:-0}" -gt "${dtmf_before:-0}" ] || fail "the server did not decode the key press"
wait_cdr 1001 "ended normal-clearing - caller"
wait_ports_free "hold/resume"

echo "== blind transfer: the agent REFERs the caller to 1002, who answers; the caller hangs up"
PHONE_1002_PORT=$(free_port)
LPORT=$PHONE_1002_PORT sipp_run register-1002 register.xml -s 1002 -au 1002 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1002 failed"
LPORT=$PHONE_1002_PORT sipp_run transfer-target uas_answer.xml -mp "$(free_media_port)" &
TARGET_PID=$!
uas uas_refer.xml refer -mp "$(free_media_port)"
sipp_run transferred uac_call.xml -s 1001 -d 4000 -mp "$(free_media_port)" ||
  fail "the transferred caller's call did not complete"
wait "$UAS_PID" || fail "the transferring phone did not get 202, NOTIFY and BYE"
wait "$TARGET_PID" || fail "the transfer target did not get the call and the caller's BYE"
wait_cdr 1001 "ended normal-clearing - caller"
wait_ports_free "the transfer"

echo "== a supervisor hangs up a call through the API: both parties get BYE"
uas uas_answer.xml supervisor-hangup -mp "$(free_media_port)"
sipp_run hung-up uac_wait_bye.xml -s 1001 -mp "$(free_media_port)" &
CALLER_PID=$!
call_id=$(answered_call_id)
api_post "/calls/$call_id/hangup" || fail "hanging up through the API failed"
wait "$CALLER_PID" || fail "the caller did not get BYE after the API hangup"
wait "$UAS_PID" || fail "the agent did not get BYE after the API hangup"
wait_cdr 1001 "ended hangup-by-supervisor - system"
wait_ports_free "the API hangup"

echo "== unknown number: 404"
sipp_run unknown "$(expect_scenario 404)" -s 7777 || fail "unknown number did not give 404"
wait_cdr 7777 "ended not-found 404 system"

stop_server
echo "sip_call: all checks passed"
