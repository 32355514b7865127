#!/usr/bin/env bash
# The one test command: installs what the tests need (idempotent), then runs formatting, lints,
# every workspace test on SQLite and PostgreSQL, every end-to-end suite under tests/e2e/, and every
# benchmark in smoke mode. Prints a summary and exits non-zero on any failure.
#
#   tests/run.sh            everything
#   ONLY=cargo tests/run.sh one step (fmt, clippy, cargo, e2e, bench)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
source tests/lib/common.sh

export SWITCHBOARD_TEST_PG_URL=${SWITCHBOARD_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
export CARGO_TERM_COLOR=never

PASSED=0; FAILED=0; FAILED_STEPS=()
step() {
  local name=$1; shift
  if [ -n "${ONLY:-}" ] && [[ "$name" != "$ONLY"* ]]; then return; fi
  echo "=== $name"
  local t0=$SECONDS
  if "$@"; then
    PASSED=$((PASSED + 1)); echo "--- ok: $name ($((SECONDS - t0)) s)"
  else
    FAILED=$((FAILED + 1)); FAILED_STEPS+=("$name"); echo "--- FAILED: $name ($((SECONDS - t0)) s)"
  fi
}

ensure_rust_tools
# Every suite's server logs, for the masked-numbers check at the end.
export SWITCHBOARD_TEST_LOGS="$ROOT/target/test-logs"
if [ -z "${ONLY:-}" ]; then rm -rf "$SWITCHBOARD_TEST_LOGS"; fi
mkdir -p "$SWITCHBOARD_TEST_LOGS"
step "postgres reachable" require_postgres
step "fmt" cargo fmt --all -- --check
step "clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
# The console's scripts are served as they are: a syntax error would only show in a browser.
step "console scripts parse" bash -c 'for f in crates/switchboard/web/*.js; do node --check "$f" || exit 1; done'
step "cargo test" cargo test --workspace --locked --no-fail-fast
for suite in tests/e2e/*.sh; do
  [ -e "$suite" ] || continue
  step "e2e $(basename "$suite" .sh)" bash "$suite"
done
for bench in tests/bench/*.sh; do
  [ -e "$bench" ] || continue
  step "bench smoke $(basename "$bench" .sh)" env SMOKE=1 bash tests/bench.sh "$(basename "$bench" .sh)"
done

step "logs masked" bash tests/logs_masked.sh

echo
echo "=== summary"
for s in "${FAILED_STEPS[@]}"; do echo "failed: $s"; done
echo "steps: $PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
