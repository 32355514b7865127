#!/usr/bin/env bash
# what: cargo-fuzz on the SIP, SDP, RTP/RTCP and WAV-repair parsers, each target 600 s: no crash
#
# Issue 12, acceptance 3 (and issue 5's SIP/SDP fuzz targets): runs tests/fuzz.sh for every
# target in fuzz/ one after the other; the last line is its summary,
# `fuzz: <N> targets × <S> s, <C> crashes (target: 0 crashes)`, and the run fails on any crash.
# Knobs: SMOKE=1 (15 s per target, so the targets and the script never rot), SECS, TARGET,
# SANITIZER (see tests/fuzz.sh).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if [ "${SMOKE:-0}" = 1 ]; then
  # The smoke run checks that the targets build and run: an unoptimised build on every core.
  SECS=${SECS:-15}
  export FUZZ_DEV=${FUZZ_DEV:-1} CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-$(nproc)}
else
  SECS=${SECS:-600}
fi
exec bash "$ROOT/tests/fuzz.sh" "${TARGET:-all}" "$SECS"
