#!/usr/bin/env bash
# what: SIP INVITE flood at 10x the measured call capacity from one address: the server stays up, memory stays bounded, registered phones' calls still connect
#
# Issue 12, acceptance 2. One SIPp floods INVITEs from 127.0.0.2 (not a trunk, no credentials)
# at FLOOD_RATE = 10 x CAPACITY (CAPACITY: the highest zero-failure rate `tests/bench.sh sip-cps`
# measured, 1,000 CPS) for SECS seconds. Meanwhile phone 1001 (registered from 127.0.0.3, digest)
# calls phone 1002 (registered from 127.0.0.4) LEGIT times, 1 s calls, and every one must connect.
# The server's RSS is sampled every 0.5 s. Printed: the flood SIPp really sent, what the server
# answered it (503 from the per-source limit, counted in /metrics), the registered calls that
# connected, RSS before / peak / after, and whether the server is still up and answering.
# Knobs: SMOKE=1 (debug build, 300 CPS for 3 s, 3 calls), CAPACITY, SECS, LEGIT, KEEP_DIR=1.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/common.sh
. "$ROOT/tests/lib/common.sh"
SMOKE=${SMOKE:-0}
CAPACITY=${CAPACITY:-1000}
if [ "$SMOKE" = 1 ]; then
  FLOOD_RATE=${FLOOD_RATE:-300}; SECS=${SECS:-3}; LEGIT=${LEGIT:-3}; PROFILE=debug
else
  FLOOD_RATE=${FLOOD_RATE:-$((CAPACITY * 10))}; SECS=${SECS:-20}; LEGIT=${LEGIT:-20}; PROFILE=release
fi
die() { echo "sip-flood: FAILED: $*" >&2; echo "sip-flood: no figure ($*) (target: server up, bounded memory, registered calls connect)"; exit 1; }

ensure_apt sipp sip-tester curl curl || die "could not install sip-tester"
cd "$ROOT" || die "no $ROOT"
if [ "$PROFILE" = release ]; then
  nice cargo build -q --release -p switchboard || die "cargo build --release failed"
else
  nice cargo build -q -p switchboard || die "cargo build failed"
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/switchboard"
SCEN="$ROOT/tests/e2e/sipp"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

W=$(mktemp -d /tmp/sipflood.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${SERVER_PID:-}" ] && kill -TERM "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  keep_logs "$W" sip-flood
  if [ "${KEEP_DIR:-0}" = 1 ]; then echo "work dir kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
ulimit -n 65536 2>/dev/null || true

SIP=$(free_port); HTTP=$(free_port); DOMAIN=flood.switchboard.test; PASSWORD=steady-harbour-9
cd "$W" || die "no work dir"
export SWITCHBOARD_HTTP__LISTEN="127.0.0.1:$HTTP" SWITCHBOARD_SIP__UDP_LISTEN="127.0.0.1:$SIP" \
  SWITCHBOARD_SIP__TCP_LISTEN="127.0.0.1:$SIP" SWITCHBOARD_SIP__DOMAIN=$DOMAIN \
  SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5"]' SWITCHBOARD_LOGGING__LEVEL=warn \
  SWITCHBOARD_CALLS__RECORD=false
for n in 1 2; do
  echo "$PASSWORD" | "$BIN" user add "phone$n" --role agent --extension "100$n" --password-stdin >/dev/null ||
    die "user add"
done
"$BIN" serve >"$W/serve.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 150); do curl -fs "127.0.0.1:$HTTP/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "127.0.0.1:$HTTP/healthz" >/dev/null || die "server did not start"
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER_PID/status" 2>/dev/null || echo 0; }
metric() { curl -fs "127.0.0.1:$HTTP/metrics" | awk -v m="$1" '$1 == m || $1 == m"_total" {print $2}' | head -1; }

register() { # EXT IP PORT
  sipp -sf "$SCEN/register.xml" -s "$1" -au "$1" -ap "$PASSWORD" -set expires 300 -set domain $DOMAIN \
    -m 1 -i "$2" -p "$3" -timeout 10s -nostdin -trace_err -error_file "$W/reg-$1.err" "127.0.0.1:$SIP" \
    >"$W/reg-$1.out" 2>&1
}
CALLEE_PORT=$(free_port); CALLER_PORT=$(free_port)
register 1002 127.0.0.4 "$CALLEE_PORT" || die "1002 could not register"
register 1001 127.0.0.3 "$CALLER_PORT" || die "1001 could not register"
sipp -sn uas -i 127.0.0.4 -p "$CALLEE_PORT" -nostdin >"$W/uas.out" 2>&1 &
PIDS+=("$!")

RSS0=$(rss); PEAK=$RSS0
echo "sip-flood: $PROFILE build; flood $FLOOD_RATE CPS (10 x $CAPACITY) for $SECS s from 127.0.0.2; $LEGIT registered calls 1001 -> 1002 meanwhile; RSS before ${RSS0} kB"
sipp -sn uac -s 1002 -i 127.0.0.2 -p "$(free_port)" -r "$FLOOD_RATE" -m $((FLOOD_RATE * SECS)) -l 100000 \
  -timeout "$((SECS + 20))s" -recv_timeout 2000 -nostdin -trace_stat -stf "$W/flood.csv" -fd 1 \
  "127.0.0.1:$SIP" >"$W/flood.out" 2>&1 &
FLOOD=$!; PIDS+=("$FLOOD")
sleep 1
sipp -sf "$SCEN/uac_auth_call.xml" -s 1002 -au 1001 -ap "$PASSWORD" -auth_uri "1002@127.0.0.1:$SIP" -i 127.0.0.3 -p "$CALLER_PORT" \
  -r 1 -m "$LEGIT" -d 1000 -timeout "$((SECS + 30))s" -nostdin -trace_stat -stf "$W/legit.csv" \
  -trace_err -error_file "$W/legit.err" "127.0.0.1:$SIP" >"$W/legit.out" 2>&1 &
LEGIT_PID=$!; PIDS+=("$LEGIT_PID")
while kill -0 "$FLOOD" 2>/dev/null || kill -0 "$LEGIT_PID" 2>/dev/null; do
  r=$(rss); [ "${r:-0}" -gt "$PEAK" ] && PEAK=$r
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.5
done
wait "$LEGIT_PID"; LEGIT_RC=$?
wait "$FLOOD" 2>/dev/null
kill -0 "$SERVER_PID" 2>/dev/null || die "the server died during the flood (log: $W/serve.log)"
sleep 2
RSS1=$(rss)
UP=$(curl -fs -o /dev/null -w '%{http_code}' "127.0.0.1:$HTTP/healthz")
last() { tail -1 "$1" 2>/dev/null | tr ';' '\n'; }
col() { # CSV FIELD: value of FIELD in the last line of a SIPp -trace_stat file
  awk -F';' -v f="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == f) c = i } END { print (c ? $c : 0) }' "$1" 2>/dev/null
}
SENT=$(col "$W/flood.csv" OutgoingCall\(C\)); ELAPSED=$(col "$W/flood.csv" ElapsedTime\(C\))
LIMITED=$(metric switchboard_sip_source_limited); LIMITED=${LIMITED:-0}
OK=$(col "$W/legit.csv" SuccessfulCall\(C\)); BAD=$(col "$W/legit.csv" FailedCall\(C\))
echo "  flood: $SENT INVITEs offered in ${ELAPSED:-?} (SIPp's own limit on this machine decides the real rate); answered 503 by the per-source limit: $LIMITED"
echo "  registered calls 1001 -> 1002 during the flood: $OK connected, $BAD failed (SIPp exit $LEGIT_RC)"
echo "  server RSS: before ${RSS0} kB, peak ${PEAK} kB, after ${RSS1} kB; /healthz after: $UP"
[ "$UP" = 200 ] || die "the server does not answer after the flood"
[ "${LIMITED%.*}" -gt 0 ] || die "the flood was never limited (sip_source_limited = 0)"
[ "$LEGIT_RC" = 0 ] && [ "${OK:-0}" -eq "$LEGIT" ] || die "registered calls failed during the flood ($OK of $LEGIT connected; $W/legit.err)"
echo "sip-flood: $OK/$LEGIT registered calls connected under a ${FLOOD_RATE} CPS flood, peak RSS $((PEAK / 1024)) MB (from $((RSS0 / 1024)) MB) (target: server up, memory bounded, registered calls connect)"
