#!/usr/bin/env bash
# Acceptance: when PostgreSQL cannot be reached, the store tests FAIL and say so — never a silent
# skip. Points one PostgreSQL store test at a closed port and checks both the failure and the words.
# --workspace, not -p: the test command's build is reused (with -p cargo re-resolves features and
# rebuilds the dependencies).
set -uo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh
out=$(SWITCHBOARD_TEST_PG_URL=postgres://postgres@127.0.0.1:1/test \
  cargo test -q --workspace --test repositories migrations_are_idempotent::postgres 2>&1)
rc=$?
if [ $rc -eq 0 ]; then
  echo "FAIL: the PostgreSQL store test passed with PostgreSQL unreachable"; echo "$out" | tail -20; exit 1
fi
if ! grep -q "PostgreSQL is required for the store tests but is unreachable at postgres://postgres@127.0.0.1:1/test" <<<"$out"; then
  echo "FAIL: the failure does not say PostgreSQL is unreachable"; echo "$out" | tail -20; exit 1
fi
if SWITCHBOARD_TEST_PG_URL=postgres://postgres@127.0.0.1:1/test require_postgres >/dev/null; then
  echo "FAIL: tests/run.sh's PostgreSQL check passed against a closed port"; exit 1
fi
echo "ok: unreachable PostgreSQL fails the store tests with a clear message"
