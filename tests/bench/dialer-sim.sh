#!/usr/bin/env bash
# what: predictive vs progressive dialing in the seeded simulator (20 agents, 25 % answer rate): busy min per agent-hour and abandonment
# Runs the real dialer pacing code in the discrete-event simulator (crates/switchboard-dialer,
# src/sim). Busy = talk + wrap-up, per logged-in agent hour. Full run: 5 eight-hour days x 3
# seeds per mode; SMOKE=1: one day, one seed. Exits non-zero if the simulator saw a rule broken.
set -euo pipefail
cd "$(dirname "$0")/../.."
source tests/lib/common.sh
if [ "${SMOKE:-0}" = "1" ]; then
  args=(--days 1 --seeds 1)
else
  args=(--days 5 --seeds 3)
fi
bench_run bin dialer-sim "${args[@]}"
