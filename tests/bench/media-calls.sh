#!/usr/bin/env bash
# what: bridged + recorded G.711 calls per core of relay CPU (real UDP sockets, stereo WAV per call), loss and p99 added jitter
# The relay (one process, one core: a current-thread runtime) runs N calls, each with its own
# four sockets and recorder; a child process plays both phones of every call (20 ms PCMU both
# ways) and measures loss and added jitter. CPU is the relay process's own utime+stime from
# /proc, so the load generator's share does not count against us. Reference: rustpbx publishes
# ~1,300 proxied calls per core without recording.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh
if [ "${SMOKE:-0}" = "1" ]; then
  CALLS=20; SECONDS_OF_MEDIA=2
else
  CALLS=${CALLS:-300}; SECONDS_OF_MEDIA=${SECONDS_OF_MEDIA:-10}
fi
ulimit -n 65536 2>/dev/null || true
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
bench_run example media_calls "$CALLS" "$SECONDS_OF_MEDIA" | tee "$OUT"
per_core=$(sed -n 's/^\([0-9]*\) relayed and recorded G.711 calls per core$/\1/p' "$OUT")
p99=$(grep -o "p99 [0-9]* µs" "$OUT" | head -1 || true)
if grep -q '^WARNING' "$OUT" || [ -z "$per_core" ]; then
  echo "media-calls: no valid figure (see above) (target >= 1500 calls per core, p99 added jitter < 5 ms)"
  exit 1
fi
echo "media-calls: $per_core calls per core, ${p99:-p99 n/a} added jitter, $CALLS calls x ${SECONDS_OF_MEDIA} s (target >= 1500 per core, p99 < 5 ms)"
