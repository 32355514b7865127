#!/usr/bin/env bash
# what: SIP call setup rate through the B2BUA vs Kamailio's stateful proxy, same SIPp load and same run (ratio of highest zero-failure CPS)
#
# SIPp uac (127.0.0.1:5060) -> X (127.0.0.1:5070) -> SIPp uas (127.0.0.1:5080), UDP over loopback,
# calls held 1 s. X is `switchboard serve` (the dialled number "service" is a static route to the
# UAS, SIPp's address is a trusted trunk, so no digest) and then Kamailio. The offered rate is
# ramped and each ramp stops at the first step with a failure; the figure is the highest step
# where every offered call succeeded. The SIPp side is the reference script
# ../shared/bench/kamailio-cps.sh beside the checkout (KAMAILIO_CPS overrides the path): machines are noisy, so
# the reference is re-measured in the same run and only the ratio is the headline.
#
# Ramps: Switchboard with recording on (the default config: the headline), Switchboard with
# calls.record = false, Kamailio, and "with media" (SIPp's built-in uac_pcap: 8 s of G.711 A-law
# from the caller on every call, 9 s calls, recording on) through Switchboard only.
#
# Knobs: SMOKE=1 (one short step each, debug build), RATES, SECS (per step), MEDIA_RATES,
# MEDIA_SECS, KEEP_DIR=1 (keep logs and SIPp stats), SKIP_MEDIA=1.
# Our CPU share is utime+stime of the server process (all threads) from /proc over the step,
# in % of one core, as kamailio-cps.sh reports Kamailio's.
set -uo pipefail # no -e: a failing step is a result, not an abort
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=../lib/common.sh
. "$ROOT/tests/lib/common.sh"
KAMCPS=${KAMAILIO_CPS:-$ROOT/../shared/bench/kamailio-cps.sh}
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  RATES=${RATES:-20}; SECS=${SECS:-2}; MEDIA_RATES=${MEDIA_RATES:-5}; MEDIA_SECS=${MEDIA_SECS:-1}
  PROFILE=debug
else
  RATES=${RATES:-"50 100 200 400 600 800 1000 1500 2000 2500 3000 4000 5000"}; SECS=${SECS:-10}
  MEDIA_RATES=${MEDIA_RATES:-"10 20 50 100 150 200 300 400 600"}; MEDIA_SECS=${MEDIA_SECS:-10}
  PROFILE=release
fi

die() { echo "sip-cps: FAILED: $*" >&2; echo "sip-cps: no figure ($*) (target ≥ 0.7)"; exit 1; }

[ -f "$KAMCPS" ] || die "reference script $KAMCPS not found (set KAMAILIO_CPS)"
ensure_apt sipp sip-tester kamailio kamailio curl curl python3 python3 ||
  die "could not install sip-tester/kamailio"

# The reference script fixes these ports; a leftover SIPp or a running server would skew or
# break every step, so refuse to start rather than measure something else.
busy=$(ss -Hlunt 2>/dev/null | awk '{print $5}' | grep -E ':(5060|5070|5080)$' | sort -u | tr '\n' ' ')
[ -z "$busy" ] || die "ports in use: $busy(5060/5070/5080 are fixed by kamailio-cps.sh; stop what holds them: ss -lunpt)"

cd "$ROOT" || die "no $ROOT"
if [ "$PROFILE" = release ]; then
  nice cargo build -q --release -p switchboard || die "cargo build --release failed"
else
  nice cargo build -q -p switchboard || die "cargo build failed"
fi
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE/switchboard"
[ -x "$BIN" ] || die "$BIN missing after build"

# Every call holds 4 RTP/RTCP sockets on the server; take what the hard limit allows.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
W=$(mktemp -d /tmp/sipcps.XXXXXX)
SERVER_PID=
UAS_PID=
cleanup() {
  [ -n "$UAS_PID" ] && kill "$UAS_PID" 2>/dev/null
  stop_server
  if [ "${KEEP_DIR:-0}" = 1 ]; then echo "work dir kept: $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

HZ=$(getconf CLK_TCK)
ticks() { [ -r "/proc/$1/stat" ] && awk '{print $14+$15}' "/proc/$1/stat" || echo 0; }
kv() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p; s/^$1=\([^[:space:]]*\).*/\1/p" <<<"$2" | head -1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_server NAME [ENV=VALUE ...]: a fresh server (own dir, database, recordings) on :5070.
start_server() {
  local name=$1; shift
  local dir="$W/$name" port
  mkdir -p "$dir"
  port=$(free_port)
  SERVER_LOG="$dir/serve.log"
  (
    cd "$dir" || exit 1
    unset RUST_LOG
    export SWITCHBOARD_HTTP__LISTEN="127.0.0.1:$port" \
      SWITCHBOARD_SIP__UDP_LISTEN=127.0.0.1:5070 SWITCHBOARD_SIP__TCP_LISTEN=127.0.0.1:5070 \
      SWITCHBOARD_TRUNK__INBOUND_FROM='["127.0.0.1"]' \
      SWITCHBOARD_CALLS__STATIC_ROUTES='{ service = "127.0.0.1:5080" }' \
      SWITCHBOARD_RTP__PORT_MIN=10000 SWITCHBOARD_RTP__PORT_MAX=59999 \
      SWITCHBOARD_LOGGING__LEVEL=warn
    for kvp in "$@"; do export "${kvp?}"; done
    exec "$BIN" serve
  ) >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 150); do
    if curl -fs "127.0.0.1:$port/healthz" >/dev/null 2>&1 &&
      ss -Hlun 2>/dev/null | awk '{print $4}' | grep -qx '127.0.0.1:5070'; then
      return 0
    fi
    kill -0 "$SERVER_PID" 2>/dev/null || { SERVER_PID=; tail -20 "$SERVER_LOG" >&2; die "switchboard exited at start (log above)"; }
    sleep 0.2
  done
  tail -20 "$SERVER_LOG" >&2
  die "switchboard did not answer /healthz and listen on udp 127.0.0.1:5070 within 30 s"
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  kill -TERM "$SERVER_PID" 2>/dev/null
  for _ in $(seq 1 50); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.2; done
  kill -0 "$SERVER_PID" 2>/dev/null && { echo "switchboard ignored SIGTERM for 10 s, killing it" >&2; kill -9 "$SERVER_PID" 2>/dev/null; }
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=
}

# server_note: warnings and errors the server logged during the ramp (first few, counted).
server_note() {
  local n
  n=$(grep -E 'WARN|ERROR' "$SERVER_LOG" 2>/dev/null | grep -vc 'no config file')
  [ "${n:-0}" -gt 0 ] || return 0
  echo "  server logged $n warning/error lines; first ones:"
  grep -E 'WARN|ERROR' "$SERVER_LOG" | grep -v 'no config file' | head -3 | cut -c1-240 | sed 's/^/    /'
}

# ramp LABEL MODE: steps through RATES with kamailio-cps.sh until a step fails; sets BEST (CPS)
# and BEST_CPU (% of one core: ours when MODE=external, Kamailio's when MODE=proxy).
ramp() {
  local label=$1 mode=$2 r line err succ fail ach el cpu t0 t1 offered
  BEST=0; BEST_CPU=n/a
  for r in $RATES; do
    offered=$((r * SECS))
    t0=0; [ -n "$SERVER_PID" ] && t0=$(ticks "$SERVER_PID")
    line=$(MODE=$mode TARGET=127.0.0.1:5070 KEEP_DIR=0 bash "$KAMCPS" "$r" "$SECS" 2>"$W/step.err" | tail -1)
    t1=0; [ -n "$SERVER_PID" ] && t1=$(ticks "$SERVER_PID")
    err=$(cat "$W/step.err")
    succ=$(kv success "$line"); fail=$(kv failed "$line"); ach=$(kv achieved_cps "$line")
    el=$(sed -n 's/.*elapsed=\([0-9.]*\)s.*/\1/p' <<<"$err" | tail -1)
    if [ "$mode" = proxy ]; then cpu=$(kv cpu_kamailio "$line")
    else cpu=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v el="${el:-0}" 'BEGIN{if (el > 0) printf "%.1f", 100*t/hz/el; else print "n/a"}'); fi
    printf '  %-24s %5s CPS x %ss: success=%s failed=%s achieved=%s cps retrans=%s udp_drops=%s cpu=%s%% (uac %s%%, uas %s%%)\n' \
      "$label" "$r" "$SECS" "${succ:-?}" "${fail:-?}" "${ach:-?}" "$(kv retrans "$line")" \
      "$(kv udp_rcvbuf_drops "$line")" "$cpu" "$(kv cpu_uac "$line")" "$(kv cpu_uas "$line")"
    if [ -z "$succ" ] || [ "${fail:-1}" != 0 ] || [ "$succ" != "$offered" ]; then
      [ -z "$succ" ] && { echo "  step produced no result; reference script said:"; tail -5 "$W/step.err" | sed 's/^/    /'; }
      [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null && echo "  switchboard DIED during this step (log: tail of serve.log below)" && tail -5 "$SERVER_LOG" | sed 's/^/    /'
      break
    fi
    BEST=$r; BEST_CPU=$cpu
  done
}

# media_step RATE: SIPp uac_pcap (RTP from the caller, 9 s calls) through the server; sets
# M_SUCC M_FAIL M_CPU. kamailio-cps.sh only knows "uac", so this runs SIPp itself with the
# same flags; uac_pcap reads pcap/*.pcap relative to its working dir.
media_step() {
  local r=$1 d="$W/media-$1" t0 t1 t start end last
  # the previous step's UAS must have released :5080
  [ "$r" = "${MEDIA_RATES%% *}" ] || sleep 1
  mkdir -p "$d/pcap"
  ln -sf /usr/share/sip-tester/g711a.pcap /usr/share/sip-tester/dtmf_2833_1.pcap "$d/pcap/"
  sipp -sn uas -i 127.0.0.1 -p 5080 -nostdin -bg >"$d/uas.out" 2>&1
  UAS_PID=$(sed -n 's/.*PID=\[\([0-9]*\)\].*/\1/p' "$d/uas.out")
  sleep 1
  [ -n "$UAS_PID" ] && kill -0 "$UAS_PID" 2>/dev/null || { cat "$d/uas.out" >&2; die "SIPp UAS did not start"; }
  t0=$(ticks "$SERVER_PID"); start=$(date +%s.%N)
  (cd "$d" && exec timeout $((MEDIA_SECS + 90)) sipp -sn uac_pcap -default_behaviors all,-abortunexp \
    127.0.0.1:5070 -i 127.0.0.1 -p 5060 -r "$r" -m $((r * MEDIA_SECS)) -nostdin -recv_timeout 8000 \
    -timeout $((MEDIA_SECS + 60)) -trace_stat -stf stat.csv -fd 1 -trace_err -error_file err.log \
    >uac.out 2>&1) &
  local uac=$! sp u=0
  # uac_pcap plays each call's RTP from its own thread, so SIPp itself can be the limit: sample
  # its CPU (the child of the timeout wrapper) to tell that apart from ours.
  while kill -0 "$uac" 2>/dev/null; do
    sp=$(pgrep -P "$uac" sipp 2>/dev/null | head -1)
    [ -n "$sp" ] && { t=$(ticks "$sp"); [ "$t" -gt 0 ] && u=$t; }
    sleep 0.5
  done
  wait "$uac"
  t1=$(ticks "$SERVER_PID"); end=$(date +%s.%N)
  M_UAC_CPU=$(awk -v t="$u" -v hz="$HZ" -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", 100*t/hz/(b-a)}')
  kill "$UAS_PID" 2>/dev/null; UAS_PID=
  last=$(tail -1 "$d/stat.csv" 2>/dev/null)
  M_SUCC=$(awk -F';' '{print $16}' <<<"$last"); M_FAIL=$(awk -F';' '{print $18}' <<<"$last")
  M_CPU=$(awk -v t=$((t1 - t0)) -v hz="$HZ" -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", 100*t/hz/(b-a)}')
  M_ERR=$(grep -v '^\s*$' "$d/err.log" 2>/dev/null | head -2 | cut -c1-200)
}

echo "sip-cps: $([ "$SMOKE" = 1 ] && echo SMOKE) $PROFILE build, steps of $SECS s at: $RATES; load $(cut -d' ' -f1-3 /proc/loadavg)"

echo "Switchboard, recording on (default config):"
start_server rec
ramp switchboard+recording external
OURS=$BEST; OURS_CPU=$BEST_CPU
server_note
stop_server

echo "Switchboard, calls.record = false:"
start_server norec SWITCHBOARD_CALLS__RECORD=false
ramp switchboard-no-recording external
NOREC=$BEST; NOREC_CPU=$BEST_CPU
server_note
stop_server

echo "Kamailio 2-worker stateful proxy (reference):"
ramp kamailio proxy
KAM=$BEST; KAM_CPU=$BEST_CPU

MEDIA=skipped
if [ "${SKIP_MEDIA:-0}" != 1 ]; then
  echo "Switchboard with media (uac_pcap, recording on), $MEDIA_SECS s steps at: $MEDIA_RATES:"
  start_server media
  MEDIA=0; MEDIA_CPU=n/a; MEDIA_UAC_CPU=n/a
  for r in $MEDIA_RATES; do
    media_step "$r"
    printf '  %-24s %5s CPS x %ss: success=%s failed=%s cpu=%s%% (uac_pcap %s%%)\n' switchboard+media "$r" "$MEDIA_SECS" \
      "${M_SUCC:-?}" "${M_FAIL:-?}" "$M_CPU" "$M_UAC_CPU"
    if [ "${M_FAIL:-1}" != 0 ] || [ "${M_SUCC:-0}" != $((r * MEDIA_SECS)) ]; then
      [ -n "$M_ERR" ] && echo "    SIPp: $M_ERR"
      kill -0 "$SERVER_PID" 2>/dev/null || echo "  switchboard DIED during this step"
      break
    fi
    MEDIA=$r; MEDIA_CPU=$M_CPU; MEDIA_UAC_CPU=$M_UAC_CPU
  done
  # Proof that media flowed: a 9 s stereo 8 kHz WAV is about 290 KB, an empty one 44 bytes.
  WAVS=$(find "$W/media/recordings" -name '*.wav' 2>/dev/null | wc -l)
  WAV_KB=$(find "$W/media/recordings" -name '*.wav' -printf '%s\n' 2>/dev/null | awk '{t+=$1} END{if (NR) printf "%.0f", t/NR/1024; else print 0}')
  echo "  $WAVS recordings written, mean size $WAV_KB KB"
  server_note
  stop_server
fi

echo "highest zero-failure rate: switchboard $OURS CPS (recording on, cpu ${OURS_CPU}% of a core at that step), $NOREC CPS with recording off (cpu ${NOREC_CPU}%), kamailio $KAM CPS (cpu ${KAM_CPU}%)"
if [ "$MEDIA" != skipped ]; then
  echo "sip-cps with media: $MEDIA CPS through switchboard (uac_pcap RTP on every 9 s call, recording on, mean WAV $WAV_KB KB, cpu ${MEDIA_CPU}% at that step, SIPp uac_pcap ${MEDIA_UAC_CPU}%)"
fi
[ "$KAM" -gt 0 ] || die "Kamailio reference had no zero-failure step; no ratio"
RATIO=$(awk -v a="$OURS" -v b="$KAM" 'BEGIN{printf "%.2f", a/b}')
echo "sip-cps: ${RATIO}× Kamailio ($OURS vs $KAM CPS, target ≥ 0.7)"
# No zero-failure step at all means the path is broken, not slow: fail (SMOKE relies on this).
[ "$OURS" -gt 0 ] && [ "$NOREC" -gt 0 ] && [ "$MEDIA" != 0 ] || exit 1
