# Shared by the SIP e2e suites: a server in a temporary working directory on free ports, and
# SIPp runs against it. Source after setting nothing; the caller sets DOMAIN and PASSWORD.
# Needs: ROOT, and tests/lib/common.sh sourced.

ensure_apt sipp sip-tester curl curl python3 python3 tcpdump tcpdump
cargo build -q -p switchboard
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/switchboard"
SCEN="$ROOT/tests/e2e/sipp"
RTP_TOOLS="$ROOT/tests/e2e/lib/rtp_tools.py"

WORK=$(mktemp -d)
SERVER_PID=
CLEANUP_EXTRA=${CLEANUP_EXTRA:-}
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  jobs -p | xargs -r kill 2>/dev/null || true
  keep_logs "$WORK" "$(basename "$0" .sh)"
  rm -rf "$WORK"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*"
  echo "--- server log (last 40 lines)"; tail -40 "$WORK/serve.log" 2>/dev/null || true
  echo "--- SIPp errors"; cat "$WORK"/sipp-*.err 2>/dev/null | tail -40 || true
  exit 1
}

# db SQL: a query on the server's store (SQLite in $WORK), rows as sqlite3 prints them. A suite
# with another store (multinode: PostgreSQL) defines its own.
db() { sqlite3 "$WORK/var/switchboard.db" "$1"; }
# Tests for `poll` on what the store holds; what the query printed is left in $FOUND.
db_is() { FOUND=$(db "$1"); [ "$FOUND" = "$2" ]; }           # db_is SQL WANT
db_found() { FOUND=$(db "$1"); [ -n "$FOUND" ]; }             # db_found SQL: any row
db_at_least() { FOUND=$(db "$1"); [ "${FOUND:-0}" -ge "$2" ]; } # db_at_least SQL N: a count ≥ N

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# free_media_port: a base port for SIPp's -mp. SIPp binds the base and the next three (audio
# RTP/RTCP, video RTP/RTCP), so all four must be free, and they are taken from 20000-29999:
# below the kernel's ephemeral range (where Chromium's ICE sockets and every auto-bound socket
# land) and apart from the server's RTP range under test (call_setup: 30000 and up). Bases given
# out before in this run are not given again, so SIPps running at once never collide.
free_media_port() {
  python3 - "$WORK/media_ports" <<'PY'
import os, random, socket, sys
used_file = sys.argv[1]
used = set(open(used_file).read().split()) if os.path.exists(used_file) else set()
for _ in range(500):
    base = random.randrange(20000, 29996, 4)
    if str(base) in used:
        continue
    socks = []
    try:
        for p in range(base, base + 4):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        for s in socks:
            s.close()
    with open(used_file, "a") as f:
        f.write(f"{base}\n")
    print(base)
    break
else:
    sys.exit("no free media port block in 20000-29999")
PY
}

HTTP_PORT=$(free_port)
SIP_PORT=$(free_port)
cd "$WORK"
export SWITCHBOARD_HTTP__LISTEN="127.0.0.1:$HTTP_PORT"
export SWITCHBOARD_SIP__UDP_LISTEN="127.0.0.1:$SIP_PORT"
export SWITCHBOARD_SIP__TCP_LISTEN="127.0.0.1:$SIP_PORT"
export SWITCHBOARD_SIP__DOMAIN="$DOMAIN"
# SIPp 3.6 answers only the first challenge and knows MD5 only (see sip.digest_algorithms).
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5"]'
unset RUST_LOG

start_server() {
  "$BIN" serve >>"$WORK/serve.log" 2>&1 &
  SERVER_PID=$!
  await_healthy "127.0.0.1:$HTTP_PORT/healthz" "$SERVER_PID" server
}

# await_healthy URL PID WHAT [LOG]: until URL answers (up to 60 s); fails at once, naming WHAT,
# when the process PID exits first (printing LOG when given; fail prints serve.log's tail).
# curl -k: wss.sh's server has a self-signed certificate.
await_healthy() {
  poll 300 0.2 healthy_or_gone "$@" || fail "$3 did not start"
}
healthy_or_gone() {
  curl -fsk "$1" >/dev/null 2>&1 && return 0
  if ! kill -0 "$2" 2>/dev/null; then
    [ -z "${4:-}" ] || cat "$4"
    fail "$3 exited at start"
  fi
  return 1
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
  case "$scenario" in /*) ;; *) scenario="$SCEN/$scenario" ;; esac
  local domain=()
  grep -q '\$domain' "$scenario" && domain=(-set domain "$DOMAIN")
  timeout 120 sipp -sf "$scenario" -m 1 -timeout 90s -nostdin \
    -i 127.0.0.1 -p "${LPORT:-$(free_port)}" "${domain[@]}" \
    -trace_err -error_file "$WORK/sipp-$name.err" "$@" "127.0.0.1:$SIP_PORT" \
    >"$WORK/sipp-$name.out" 2>&1
}

# stop_bg PID...: stops background sipp_run jobs (the subshell, its `timeout` and its SIPp).
stop_bg() {
  local pid
  for pid in "$@"; do
    pkill -TERM -P "$pid" 2>/dev/null || true
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
}

# expect_scenario CODE: a caller scenario that must end with final response CODE.
expect_scenario() {
  sed "s/@CODE@/$1/g" "$SCEN/uac_expect.xml.in" >"$WORK/uac_expect_$1.xml"
  echo "$WORK/uac_expect_$1.xml"
}

# call_setup SECONDS: what the call suites share — a private RTP port range, SIPp's address
# trusted as the trunk (its INVITEs need no digest), a caller tone (440 Hz) and an agent tone
# (1000 Hz) of SECONDS as pcaps in the working directory, the sqlite3 client for CDR checks.
call_setup() {
  ensure_apt sqlite3 sqlite3
  RTP_MIN=$(( ( $(free_port) % 2000 ) * 2 + 30000 ))
  export SWITCHBOARD_RTP__PORT_MIN=$RTP_MIN
  export SWITCHBOARD_RTP__PORT_MAX=$(( RTP_MIN + 99 ))
  export SWITCHBOARD_TRUNK__INBOUND_FROM='["127.0.0.1"]'
  python3 "$RTP_TOOLS" tone-pcap 440 "$1" "$WORK/caller.pcap"
  python3 "$RTP_TOOLS" tone-pcap 1000 "$1" "$WORK/agent.pcap"
}

token() {
  curl -fs -X POST "127.0.0.1:$HTTP_PORT/api/v1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"username\":\"boss\",\"password\":\"$PASSWORD\"}" |
    python3 -c 'import sys, json; print(json.load(sys.stdin)["token"])'
}
