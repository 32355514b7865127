#!/usr/bin/env bash
# what: sans-IO RTP relay logic alone (no sockets): bridged G.711 calls per core with PCM decode for recording, p99 per-packet time
# The full media-calls benchmark (sockets + recorder) builds on this; this one isolates the
# bridge so a regression in the packet path shows up on its own.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh
if [ "${SMOKE:-0}" = "1" ]; then
  CALLS=200; SECONDS_OF_MEDIA=2
else
  CALLS=${CALLS:-2000}; SECONDS_OF_MEDIA=${SECONDS_OF_MEDIA:-30}
fi
bench_run example media_relay_bench "$CALLS" "$SECONDS_OF_MEDIA"
