#!/usr/bin/env bash
# what: ACD simulation (Poisson arrivals, 50 agents, AHT 180 s, 90 % load) through the real core: service level and ASA vs Erlang C
# Prints the simulator's own lines, then the figure as the last line. HOURS (default 500 simulated
# hours) and SEED (default 7) can be set; SMOKE=1 runs 5 simulated hours (a few seconds).
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh
HOURS=${HOURS:-500}
if [ "${SMOKE:-0}" = "1" ]; then
  HOURS=5
fi
bench_run example acd-erlang \
  --agents 50 --aht 180 --load 0.9 --hours "$HOURS" --warm-up-hours 1 --seed "${SEED:-7}"
