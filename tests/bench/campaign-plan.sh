# what: plan 1,000,000 call-back tasks across 500 agents (customer windows, retries, bookings, key customers, quotas)
# Runs the campaign planner on generated tasks (four customer zones, default rest windows, 10 %
# key customers, 10 % retries, 1 % bookings, 1 % do-not-call) and prints the planning time.
# SMOKE=1 plans 20,000 tasks across 50 agents through the same code.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
TASKS=1000000
AGENTS=500
if [ "${SMOKE:-0}" = "1" ]; then
  TASKS=20000
  AGENTS=50
fi
bench_run example campaign_plan "$TASKS" "$AGENTS"
