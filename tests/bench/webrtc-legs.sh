#!/usr/bin/env bash
# what: concurrent WebRTC legs (browser DTLS-SRTP ↔ RTP phone, bridged and recorded) per core of server CPU at zero loss
# The server process runs N calls: a relay with a stereo WAV recorder and, on leg B, a WebRTC leg
# (webrtc-rs: ICE-lite, DTLS-SRTP, rtcp-mux, BUNDLE) answering a browser's offer. A child process
# plays every browser (a webrtc-rs peer offering Opus/PCMU/PCMA/telephone-event like Chrome) and
# every plain RTP phone: 20 ms PCMU frames both ways for D seconds, counting what arrives. CPU is
# the server process's own utime+stime from /proc (all its threads), so the generator's share does
# not count against us. The figure is N x D / CPU seconds, printed only with zero loss.
# Reference: rustpbx reports 800 WebRTC→RTP calls per machine.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh
if [ "${SMOKE:-0}" = "1" ]; then
  CALLS=5; SECONDS_OF_MEDIA=2
else
  CALLS=${CALLS:-300}; SECONDS_OF_MEDIA=${SECONDS_OF_MEDIA:-10}
fi
ulimit -n 65536 2>/dev/null || true
OUT=$(mktemp)
trap 'rm -f "$OUT"' EXIT
bench_run example webrtc_legs "$CALLS" "$SECONDS_OF_MEDIA" | tee "$OUT"
per_core=$(sed -n 's/^\([0-9]*\) WebRTC legs per core$/\1/p' "$OUT")
if grep -q '^LOSS' "$OUT" || [ -z "$per_core" ]; then
  echo "webrtc-legs: no zero-loss figure with $CALLS legs (see above) (target >= 400)"
  exit 1
fi
echo "webrtc-legs: $per_core legs per core (target >= 400)"
