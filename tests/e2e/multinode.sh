#!/usr/bin/env bash
# Two Switchboard nodes on one PostgreSQL behind Kamailio (issue 12, acceptance 1).
# Kamailio (Debian's package, deploy/kamailio/kamailio.cfg: dispatcher with OPTIONS health checks)
# is the only SIP address the phones know. Four SIPp agents register through it (each AOR sticks
# to one node: two land on each); SIPp callers dial queue 4000 through it (round robin).
# - Both nodes up: calls land on both nodes and are answered by agents registered on either
#   node; every call is recorded (both channels carry their party's tone) and its CDR written.
# - kill -9 of node b mid-run: node a takes b over within cluster.node_timeout_secs: b's calls
#   are closed as node-lost with call-back tasks, b's agents are freed; the next calls all go to
#   a and every agent answers some of them (no agent stuck). Every call completed before the
#   kill keeps its CDR and recording.
# - node b starts again: it repairs the recordings the kill cut, and every recording row is
#   complete or repaired with a readable WAV.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_apt kamailio kamailio psql postgresql-client

DOMAIN=e2e.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 30
# SIPp talks to Kamailio only.
KAM_PORT=$(free_port)
SIP_PORT=$KAM_PORT
unset SWITCHBOARD_TRUNK__INBOUND_FROM SWITCHBOARD_SIP__UDP_LISTEN SWITCHBOARD_SIP__TCP_LISTEN \
  SWITCHBOARD_HTTP__LISTEN SWITCHBOARD_RTP__PORT_MIN SWITCHBOARD_RTP__PORT_MAX

DB="switchboard_multinode_$$"
PSQL=(psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qtA)
"${PSQL[@]}" -d postgres -c "CREATE DATABASE $DB" >/dev/null ||
  fail "PostgreSQL at 127.0.0.1:5432 (user postgres) is needed for the multi-node test"
drop_db() { "${PSQL[@]}" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
KAM_PID=
declare -A NODE_PID SIP HTTP
on_exit() {
  for pid in "${NODE_PID[@]}"; do { kill -9 "$pid" && wait "$pid"; } 2>/dev/null || true; done
  # Kamailio's main process stops its workers on SIGTERM (a SIGKILL would leave them running).
  if [ -n "$KAM_PID" ]; then
    kill -TERM "$KAM_PID" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$KAM_PID" 2>/dev/null || break; sleep 0.1; done
    pkill -KILL -P "$KAM_PID" 2>/dev/null || true
    { kill -KILL "$KAM_PID" && wait "$KAM_PID"; } 2>/dev/null || true
  fi
  cleanup
  drop_db
}
trap on_exit EXIT
# The cluster's store is PostgreSQL (sip_server.sh's db reads a SQLite file).
db() { "${PSQL[@]}" -d "$DB" -c "$1"; }

export SWITCHBOARD_DATABASE__URL="postgres://postgres@127.0.0.1:5432/$DB"
# Every phone's traffic comes from Kamailio; calls from SIPp callers need no digest.
export SWITCHBOARD_SIP__TRUSTED_PROXIES='["127.0.0.1"]'
export SWITCHBOARD_TRUNK__INBOUND_FROM='["127.0.0.1"]'
export SWITCHBOARD_SIP__AUTH_MAX_FAILURES=3
export SWITCHBOARD_CLUSTER__HEARTBEAT_MS=300
export SWITCHBOARD_CLUSTER__NODE_TIMEOUT_SECS=2
# A caller whose node died is called back, not left with a ringing phone.
export SWITCHBOARD_RTP__MEDIA_TIMEOUT_SECS=10

for node in a b; do
  SIP[$node]=$(free_port)
  HTTP[$node]=$(free_port)
  mkdir -p "$WORK/$node"
done
RTP_BASE=$(( ( $(free_port) % 1000 ) * 2 + 32000 ))

# start_node NAME: `serve` in its own directory (var/, recordings/) with its own ports.
start_node() {
  local n=$1 offset=0
  [ "$n" = b ] && offset=200
  (
    cd "$WORK/$n"
    SWITCHBOARD_CLUSTER__NODE=$n \
      SWITCHBOARD_SIP__UDP_LISTEN="127.0.0.1:${SIP[$n]}" SWITCHBOARD_SIP__TCP_LISTEN="127.0.0.1:${SIP[$n]}" \
      SWITCHBOARD_HTTP__LISTEN="127.0.0.1:${HTTP[$n]}" \
      SWITCHBOARD_RTP__PORT_MIN=$(( RTP_BASE + offset )) SWITCHBOARD_RTP__PORT_MAX=$(( RTP_BASE + offset + 199 )) \
      exec "$BIN" serve >>"$WORK/serve-$n.log" 2>&1
  ) &
  NODE_PID[$n]=$!
  await_healthy "127.0.0.1:${HTTP[$n]}/healthz" "${NODE_PID[$n]}" "node $n" "$WORK/serve-$n.log"
}

# api NODE METHOD PATH [JSON] as USER (default boss): prints the body, fails on a non-2xx status.
api() {
  local node=$1 method=$2 path=$3 body=${4:-} user=${AS:-boss} code token
  token=$(curl -fs -X POST "127.0.0.1:${HTTP[$node]}/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$user\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])')
  code=$(curl -s -o "$WORK/api.out" -w '%{http_code}' -X "$method" "127.0.0.1:${HTTP[$node]}/api/v1$path" \
    -H "Authorization: Bearer $token" ${body:+-H 'Content-Type: application/json' -d "$body"})
  [ "${code:0:1}" = 2 ] || { echo "$method $path on $node as $user -> $code: $(cat "$WORK/api.out")"; return 1; }
  cat "$WORK/api.out"
}
user_id() { db "SELECT id FROM users WHERE username = '$1'"; }

echo "== two nodes (a, b) on one PostgreSQL database, Kamailio in front"
# Eight agents' phones register; Kamailio's hash decides each one's node, and the first two
# on each node are the queue's four agents.
CANDIDATES=(a1:1001 a2:1002 a3:1003 a4:1004 a5:1005 a6:1006 a7:1007 a8:1008)
start_node a
(cd "$WORK/a" && for who in "${CANDIDATES[@]}"; do
  echo "$PASSWORD" | "$BIN" user add "${who%%:*}" --role agent --extension "${who##*:}" --password-stdin >/dev/null 2>&1
done && echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null 2>&1) ||
  fail "creating users failed"
start_node b
printf '1 sip:127.0.0.1:%s 0 0\n1 sip:127.0.0.1:%s 0 0\n' "${SIP[a]}" "${SIP[b]}" >"$WORK/dispatcher.list"
mkdir -p "$WORK/kamailio-run"
kamailio -DD -E -f "$ROOT/deploy/kamailio/kamailio.cfg" -Y "$WORK/kamailio-run" -m 64 -M 8 \
  -A "LISTEN=udp:127.0.0.1:$KAM_PORT" -A "DISPATCHER_LIST=\"$WORK/dispatcher.list\"" \
  >"$WORK/kamailio.log" 2>&1 &
KAM_PID=$!
sleep 2
kill -0 "$KAM_PID" 2>/dev/null || { tail -20 "$WORK/kamailio.log"; fail "Kamailio did not start"; }

echo "== agents' phones register through Kamailio"
declare -A PORT
for who in "${CANDIDATES[@]}"; do
  name=${who%%:*}; ext=${who##*:}
  PORT[$name]=$(free_port)
  LPORT=${PORT[$name]} sipp_run "register-$name" register.xml -s "$ext" -au "$ext" -ap "$PASSWORD" -set expires 300 ||
    fail "REGISTER $ext through Kamailio failed"
done
per_node=$(db "SELECT node || ':' || COUNT(*) FROM sip_bindings GROUP BY node ORDER BY node" | tr '\n' ' ')
echo "   registrations per node: $per_node"
AGENTS=()
for node in a b; do
  for ext in $(db "SELECT split_part(split_part(aor, '@', 1), ':', 2) FROM sip_bindings WHERE node = '$node' ORDER BY aor LIMIT 2"); do
    AGENTS+=("a${ext: -1}:$ext")
  done
done
[ "${#AGENTS[@]}" = 4 ] || fail "expected at least two phones registered on each node, got: $per_node"
echo "   the queue's agents (name:extension): ${AGENTS[*]}"

echo "== a scanner behind Kamailio (127.0.0.2) guessing passwords is locked out, the phones are not"
# The failures count against the address Kamailio stamped in the phone's Via, not Kamailio's.
LPORT=$(free_port) sipp_run scanner register_lockout.xml -i 127.0.0.2 -s 1001 -au 1001 -ap "not-the-password" -set expires 300 ||
  fail "wrong passwords through Kamailio were not answered 401, 401, 403"
LPORT=$(free_port) sipp_run scanner-locked register_locked.xml -i 127.0.0.2 -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "the scanner's address was not locked out"
LPORT=${PORT[a1]} sipp_run "register-a1-again" register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "a phone behind the same proxy was locked out with the scanner"

echo "== queue sales (4000) with the four agents; two get ready on node a, two on node b"
api a POST /queues '{"id":"sales","name":"Sales","number":"4000","config":{"ring_timeout":5,"wrap_up":0}}' >/dev/null ||
  fail "creating the queue failed"
i=0
for who in "${AGENTS[@]}"; do
  name=${who%%:*}
  node=a; [ $((i % 2)) = 1 ] && node=b
  api a PUT "/queues/sales/members/$(user_id "$name")" '{"site":"hq"}' >/dev/null || fail "adding $name failed"
  AS=$name api "$node" PUT /agents/me/state '{"state":"ready"}' >/dev/null || fail "$name could not get ready on $node"
  i=$((i + 1))
done
ready_on() {
  api "$1" GET /queues/live | python3 -c '
import sys, json
live = json.load(sys.stdin)
q = [q for q in live["queues"] if q["queue"].endswith("/sales")]
ready = [a for a in live["agents"] if a["status"]["status"] == "ready"]
members = q[0]["members"] if q else 0
print(f"{members}:{len(ready)}")'
}
all_ready_on() { seen=$(ready_on "$1"); [ "$seen" = "4:4" ]; }
for node in a b; do
  poll 100 0.2 all_ready_on "$node" || fail "node $node sees members:ready = $seen, expected 4:4"
done
echo "   both nodes see 4 members, 4 ready"

start_agents() {
  for who in "${AGENTS[@]}"; do
    name=${who%%:*}
    LPORT=${PORT[$name]} sipp_run "agent-$name" uas_agent_talk.xml -m 1000 -mp "$(free_media_port)" -recv_timeout 60000 &
    AGENT_PID[$name]=$!
  done
  sleep 0.5
}
declare -A AGENT_PID
start_agents

echo "== 8 callers through Kamailio, one a second"
sipp_run callers-1 uac_talk_until_bye.xml -s 4000 -m 8 -l 4 -r 1 -mp "$(free_media_port)" ||
  fail "not every caller was answered by an agent and hung up on"
spread=$(db "SELECT node || ':' || COUNT(*) FROM calls WHERE queue = 'sales' AND answered_at IS NOT NULL GROUP BY node ORDER BY node" | tr '\n' ' ')
echo "   answered calls per node: $spread"
case "$spread" in "a:"*" b:"*) ;; *) fail "calls did not land on both nodes: $spread" ;; esac
cross=$(db "SELECT COUNT(*) FROM calls c JOIN sip_credentials s ON s.user_id = c.agent_user_id
             JOIN sip_bindings b ON b.aor = 'sip:' || s.extension || '@$DOMAIN'
             WHERE c.queue = 'sales' AND c.answered_at IS NOT NULL AND b.node <> c.node")
echo "   calls answered by an agent registered on the other node: $cross"
[ "$cross" -ge 1 ] || fail "no call was answered by an agent registered on the other node"

# check_recordings WHERE: every recording of the matching calls is finished and readable, both
# channels carry their party's tone (left 440 Hz caller, right 1000 Hz agent).
check_recordings() {
  local rows row id node path state
  rows=$(db "SELECT r.id || '|' || c.node || '|' || r.path || '|' || r.state FROM recordings r JOIN calls c ON c.id = r.call_id WHERE $1")
  [ -n "$rows" ] || fail "no recordings for: $1"
  while IFS='|' read -r id node path state; do
    [ "$state" = complete ] || [ "$state" = repaired ] || fail "recording $id on $node is $state"
    mapfile -t ch < <(python3 "$RTP_TOOLS" wav-check "$WORK/$node/recordings/$path") ||
      fail "recording $path on node $node is not a readable stereo WAV"
    case "${ch[0]} ${ch[1]}" in
      *" 440 "*" 1000") ;;
      *) fail "recording $path on node $node: left ${ch[0]}, right ${ch[1]} (rms Hz); expected 440 and 1000 Hz" ;;
    esac
  done <<<"$rows"
  echo "   $(wc -l <<<"$rows") recordings finished, both channels carry their party's tone"
}
check_recordings "c.queue = 'sales' AND c.answered_at IS NOT NULL"
[ "$(db "SELECT COUNT(*) FROM calls WHERE ended_at IS NULL")" = 0 ] || fail "calls left open"
DONE_BEFORE=$(db "SELECT string_agg(id, ',' ORDER BY id) FROM calls WHERE ended_at IS NOT NULL")

echo "== kill -9 node b with calls in progress"
sipp_run callers-2 uac_talk_until_bye.xml -s 4000 -m 8 -l 4 -r 2 -mp "$(free_media_port)" -recv_timeout 20000 &
CALLERS2=$!
poll 100 0.1 db_at_least "SELECT COUNT(*) FROM calls WHERE node = 'b' AND ended_at IS NULL AND answered_at IS NOT NULL" 1 ||
  fail "no call in progress on node b to cut"
live_b=$FOUND
{ kill -9 "${NODE_PID[b]}" && wait "${NODE_PID[b]}"; } 2>/dev/null || true
KILLED_AT=$(date +%s)
echo "   killed node b with $live_b answered call(s) in progress"
poll 100 0.1 db_is "SELECT COALESCE(reaped_by, '') FROM cluster_nodes WHERE node = 'b'" a ||
  fail "node a did not take node b over"
echo "   node a took node b over after $(( $(date +%s) - KILLED_AT )) s"
wait "$CALLERS2" || true
[ "$(db "SELECT COUNT(*) FROM calls WHERE node = 'b' AND ended_at IS NULL")" = 0 ] ||
  fail "node b's calls were left open"
lost=$(db "SELECT COUNT(*) FROM calls WHERE node = 'b' AND end_cause = 'node-lost'")
tasks=$(db "SELECT COUNT(*) FROM callback_tasks t JOIN calls c ON c.id = t.call_id WHERE c.end_cause = 'node-lost'")
echo "   node b's calls closed as node-lost: $lost, call-back tasks for them: $tasks"
[ "$lost" -ge 1 ] && [ "$tasks" = "$lost" ] || fail "each call cut by the node loss needs a call-back task ($lost cut, $tasks tasks)"
[ "$(db "SELECT COUNT(*) FROM agent_claims WHERE node = 'b'")" = 0 ] || fail "node b still holds agents"
DONE_AFTER=$(db "SELECT string_agg(id, ',' ORDER BY id) FROM calls WHERE id IN (SELECT unnest(string_to_array('$DONE_BEFORE', ',')))
                  AND ended_at IS NOT NULL AND end_cause IS DISTINCT FROM 'node-lost'")
[ "$DONE_AFTER" = "$DONE_BEFORE" ] || fail "calls completed before the kill changed their CDRs"

echo "== the phones that were registered on node b register again through Kamailio: a live node takes them"
stop_bg "${AGENT_PID[@]}"
for who in "${AGENTS[@]}"; do
  name=${who%%:*}; ext=${who##*:}
  aor="sip:$ext@$DOMAIN"
  [ "$(db "SELECT node FROM sip_bindings WHERE aor = '$aor'")" = b ] || continue
  LPORT=${PORT[$name]} sipp_run "reregister-$name" register.xml -s "$ext" -au "$ext" -ap "$PASSWORD" -set expires 300 ||
    fail "$name could not register again through Kamailio after node b died"
  now_on=$(db "SELECT node FROM sip_bindings WHERE aor = '$aor'")
  [ "$now_on" = a ] || fail "$name's registration is on node '$now_on' after re-registering, expected a"
  echo "   $name ($ext) re-registered on node a"
done

echo "== after the loss: 8 more callers, all answered on node a, every agent takes calls (none stuck)"
since=$(db "SELECT COALESCE(MAX(started_at), 0) FROM calls")
start_agents
sipp_run callers-3 uac_talk_until_bye.xml -s 4000 -m 8 -l 4 -r 1 -mp "$(free_media_port)" ||
  fail "callers after the node loss were not all answered"
per_agent=$(db "SELECT u.username || ':' || COUNT(*) FROM calls c JOIN users u ON u.id = c.agent_user_id
                 WHERE c.started_at > $since AND c.answered_at IS NOT NULL GROUP BY u.username ORDER BY 1" | tr '\n' ' ')
echo "   answered per agent: $per_agent"
for who in "${AGENTS[@]}"; do
  case "$per_agent" in *"${who%%:*}:"*) ;; *) fail "agent ${who%%:*} took no call after the node loss (stuck?)" ;; esac
done
[ "$(db "SELECT COUNT(*) FROM calls WHERE started_at > $since AND node <> 'a'")" = 0 ] ||
  fail "calls went to the dead node"
stop_bg "${AGENT_PID[@]}"

echo "== node b starts again: the recordings the kill cut are repaired"
start_node b
poll 50 0.2 db_is "SELECT COUNT(*) FROM recordings WHERE state = 'recording'" 0 ||
  fail "$FOUND recording rows still 'recording' after node b's restart"
[ "$(db "SELECT COALESCE(reaped_by, '') FROM cluster_nodes WHERE node = 'b'")" = "" ] ||
  fail "node b is still marked taken over after its restart"
check_recordings "c.answered_at IS NOT NULL AND c.end_cause IS DISTINCT FROM 'node-lost'"
repaired=$(db "SELECT COUNT(*) FROM recordings r JOIN calls c ON c.id = r.call_id WHERE c.end_cause = 'node-lost' AND r.state = 'repaired'")
echo "   recordings of the cut calls repaired: $repaired"
while IFS='|' read -r path; do
  python3 "$RTP_TOOLS" wav-check "$WORK/b/recordings/$path" >/dev/null ||
    fail "the recording $path cut by the kill is not a readable WAV after the repair"
done < <(db "SELECT r.path FROM recordings r JOIN calls c ON c.id = r.call_id WHERE c.end_cause = 'node-lost'")
echo "PASS multinode"
