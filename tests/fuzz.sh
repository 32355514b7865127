#!/usr/bin/env bash
# Coverage-guided fuzzing of everything Switchboard parses from the network or the disk (issue 12,
# acceptance 3; issue 5): the cargo-fuzz targets in fuzz/ (sip_message, sdp, rtp_rtcp,
# wav_repair), one after the other, each for SECONDS of fuzzing (the build is not counted).
#
#   tests/fuzz.sh [TARGET|all] [SECONDS]      default: all, 600 s each
#
# Installs cargo-fuzz (`cargo install cargo-fuzz --locked`) and the nightly toolchain when they
# are missing. Each target starts from the committed seeds (fuzz/corpus/<target>) and crash
# reproducers (fuzz/regressions/<target>); what it discovers goes to fuzz/corpus-run/<target>
# (not committed; `cargo fuzz cmin` it into fuzz/corpus/ when it is worth keeping). A crash is
# copied to fuzz/regressions/<target>/ (commit it with the fix: the stable test suite replays that
# folder, see crates/*/tests/fuzz_corpus.rs) and makes the script exit 1.
#
# Printed per target: runs executed, execs/s, corpus size, coverage, crashes; the last line is
# `fuzz: <N> targets × <S> s, <C> crashes (target: 0 crashes)`.
#
# Knobs: SANITIZER (default none: our crates forbid `unsafe`, so AddressSanitizer would find
# nothing in them and halves the speed; `SANITIZER=address` to include the dependencies' unsafe
# code), CARGO_TARGET_DIR (the fuzz build goes to $CARGO_TARGET_DIR/fuzz), FUZZ_ARGS (more
# libFuzzer flags).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2
ALL=(sip_message sdp rtp_rtcp wav_repair)
WHICH=${1:-all}
SECS=${2:-600}
SANITIZER=${SANITIZER:-none}
export CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1}
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/fuzz"
LOGS="$TARGET_DIR/logs"

die() { echo "fuzz: FAILED: $*" >&2; echo "fuzz: no figure ($*) (target: 0 crashes)"; exit 2; }

if [ "$WHICH" = all ]; then
  TARGETS=("${ALL[@]}")
else
  [[ " ${ALL[*]} " == *" $WHICH "* ]] || die "unknown target '$WHICH' (one of: ${ALL[*]}, all)"
  TARGETS=("$WHICH")
fi
[[ "$SECS" =~ ^[0-9]+$ ]] && [ "$SECS" -gt 0 ] || die "SECONDS must be a positive integer, not '$SECS'"

command -v cargo >/dev/null || die "cargo is required (rustup)"
if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  rustup toolchain install nightly --profile minimal || die "could not install the nightly toolchain"
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked || die "could not install cargo-fuzz"
fi
mkdir -p "$LOGS"

FUZZ=(cargo +nightly fuzz)
OPTS=(-s "$SANITIZER" --target-dir "$TARGET_DIR")
# FUZZ_DEV=1: unoptimised build (minutes less to build, fewer execs/s): for the smoke run only.
[ "${FUZZ_DEV:-0}" = 1 ] && OPTS+=(--dev)
echo "fuzz: building ${TARGETS[*]} (nightly, sanitizer $SANITIZER, CARGO_BUILD_JOBS=$CARGO_BUILD_JOBS)"
for t in "${TARGETS[@]}"; do
  nice -n 10 "${FUZZ[@]}" build "${OPTS[@]}" "$t" >"$LOGS/build-$t.log" 2>&1 || {
    tail -30 "$LOGS/build-$t.log" >&2
    die "build of $t failed (log: $LOGS/build-$t.log)"
  }
done

CRASHES=0
for t in "${TARGETS[@]}"; do
  run_corpus="fuzz/corpus-run/$t"
  artifacts="$TARGET_DIR/artifacts/$t"
  mkdir -p "$run_corpus" "fuzz/regressions/$t" "$artifacts"
  rm -f "$artifacts"/*
  log="$LOGS/run-$t.log"
  t0=$SECONDS
  # The first corpus folder receives what libFuzzer discovers; the others are read as seeds.
  # -timeout: an input running 25 s is a hang and counts as a crash.
  # shellcheck disable=SC2086
  nice -n 10 "${FUZZ[@]}" run "${OPTS[@]}" "$t" "$run_corpus" "fuzz/corpus/$t" "fuzz/regressions/$t" -- \
    -max_total_time="$SECS" -timeout=25 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    ${FUZZ_ARGS:-} >"$log" 2>&1
  rc=$?
  elapsed=$((SECONDS - t0))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
  corpus=$(find "$run_corpus" "fuzz/corpus/$t" -type f | wc -l)
  found=0
  for a in "$artifacts"/*; do
    [ -f "$a" ] || continue
    found=$((found + 1))
    cp "$a" "fuzz/regressions/$t/"
    echo "fuzz: $t: reproducer $(basename "$a") copied to fuzz/regressions/$t/ (run: cargo +nightly fuzz run $t fuzz/regressions/$t/$(basename "$a"))" >&2
  done
  if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then
    # libFuzzer stopped without an artifact (out of memory in the harness, build error …).
    found=1
  fi
  if [ "$found" -gt 0 ]; then
    echo "--- $t log tail:" >&2
    tail -40 "$log" >&2
  fi
  CRASHES=$((CRASHES + found))
  echo "fuzz: $t: ${runs:-?} runs in ${elapsed} s, ${rate:-?} execs/s, corpus ${corpus} inputs, coverage ${cov:-?} edges, $found crashes"
done

echo "fuzz: ${#TARGETS[@]} targets × $SECS s, $CRASHES crashes (target: 0 crashes)"
[ "$CRASHES" -eq 0 ]
