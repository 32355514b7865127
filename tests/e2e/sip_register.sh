#!/usr/bin/env bash
# SIPp against the real server (issue 5, acceptance 1): digest REGISTER with the right password
# gets 200 (over UDP and TCP), unregister (Expires: 0) gets 200, bindings survive a server
# restart (checked through GET /api/v1/registrations), and a wrong password gets 401 until the
# address is locked out (403), after which even the right password is refused.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh

ensure_apt sipp sip-tester curl curl python3 python3
cargo build -q -p switchboard
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/switchboard"
SCEN="$ROOT/tests/e2e/sipp"

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- server log (last 30 lines)"; tail -30 "$WORK/serve.log" 2>/dev/null || true
  echo "--- SIPp errors"; cat "$WORK"/sipp-*.err 2>/dev/null | tail -30 || true
  exit 1
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

HTTP_PORT=$(free_port)
SIP_PORT=$(free_port)
PHONE_1001_PORT=$(free_port)
DOMAIN=e2e.switchboard.test
PASSWORD="right-horse-7"
cd "$WORK"
export SWITCHBOARD_HTTP__LISTEN="127.0.0.1:$HTTP_PORT"
export SWITCHBOARD_SIP__UDP_LISTEN="127.0.0.1:$SIP_PORT"
export SWITCHBOARD_SIP__TCP_LISTEN="127.0.0.1:$SIP_PORT"
export SWITCHBOARD_SIP__DOMAIN="$DOMAIN"
export SWITCHBOARD_SIP__AUTH_MAX_FAILURES=3
# SIPp 3.6 answers only the first challenge and knows MD5 only (see sip.digest_algorithms).
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5"]'
unset RUST_LOG

start_server() {
  "$BIN" serve >>"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    curl -fs "127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || fail "server exited at start"
    sleep 0.2
  done
  fail "server did not start"
}

stop_server() {
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || fail "server did not exit cleanly"
  SERVER_PID=
}

# sipp_run NAME SCENARIO [SIPp args...]: one call of the scenario; non-zero if it failed.
# LPORT pins SIPp's local port (the phone's contact), else a free one is picked.
sipp_run() {
  local name=$1 scenario=$2; shift 2
  timeout 60 sipp -sf "$SCEN/$scenario" -m 1 -timeout 20s -nostdin \
    -i 127.0.0.1 -p "${LPORT:-$(free_port)}" -set domain "$DOMAIN" \
    -trace_err -error_file "$WORK/sipp-$name.err" "$@" "127.0.0.1:$SIP_PORT" \
    >"$WORK/sipp-$name.out" 2>&1
}

token() {
  curl -fs -X POST "127.0.0.1:$HTTP_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"boss\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])'
}

# registrations: "AOR SOURCE-TRANSPORT" lines from the API, sorted.
registrations() {
  curl -fs "127.0.0.1:$HTTP_PORT/api/v1/registrations" -H "Authorization: Bearer $(token)" |
    python3 -c 'import sys, json; [print(r["aor"], r["source"].split(":")[0]) for r in json.load(sys.stdin)]' |
    sort
}

echo "== set-up: agent 1001 (alice) and a supervisor to read the registrations"
echo "$PASSWORD" | "$BIN" user add alice --role agent --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add bob --role agent --extension 1002 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null
start_server

echo "== right password: 401 challenge, then 200 (UDP for 1001, TCP for 1002)"
LPORT=$PHONE_1001_PORT sipp_run ok-udp register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1001 over UDP with the right password did not get 200"
sipp_run ok-tcp register.xml -t t1 -s 1002 -au 1002 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1002 over TCP with the right password did not get 200"
got=$(registrations)
want=$(printf 'sip:1001@%s udp\nsip:1002@%s tcp' "$DOMAIN" "$DOMAIN")
[ "$got" = "$want" ] || fail "registrations after REGISTER: got [$got], want [$want]"

echo "== restart: bindings are kept"
stop_server
start_server
got=$(registrations)
[ "$got" = "$want" ] || fail "registrations after restart: got [$got], want [$want]"

echo "== unregister (Expires: 0) of 1001 after the restart: 200, binding gone"
LPORT=$PHONE_1001_PORT sipp_run unreg register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 0 ||
  fail "unREGISTER did not get 200"
got=$(registrations)
want=$(printf 'sip:1002@%s tcp' "$DOMAIN")
[ "$got" = "$want" ] || fail "registrations after unregister: got [$got], want [$want]"

echo "== wrong password: 401, 401, then 403 (locked out after 3 failures)"
sipp_run wrong register_lockout.xml -s 1001 -au 1001 -ap "not-the-password" -set expires 300 ||
  fail "wrong password was not answered 401 ... 403"
echo "== locked out: even the right password is refused (403)"
sipp_run locked register_locked.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "a locked-out address was not refused"
got=$(registrations)
[ "$got" = "$want" ] || fail "a refused REGISTER changed the bindings: [$got]"

stop_server
echo "sip_register: all checks passed"
