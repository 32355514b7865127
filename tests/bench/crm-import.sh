# what: import a 100,000-row customer CSV (1 % bad rows) through the API on SQLite and PostgreSQL, rows/s
# Generates the file with a fixed seed (six kinds of bad row, 1 % of the numbers already in the
# customer file), uploads it to POST /api/v1/customers/imports through the real router, follows
# the progress until done, checks the counts and the per-row error report against what was
# generated, and prints rows per second from upload to done for each engine.
# SMOKE=1 imports 2,000 rows through the same code.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ROWS=100000
if [ "${SMOKE:-0}" = "1" ]; then
  ROWS=2000
fi
export SWITCHBOARD_TEST_PG_URL=${SWITCHBOARD_TEST_PG_URL:-postgres://postgres@127.0.0.1:5432/test}
bench_run example crm_import "$ROWS" sqlite,postgres
