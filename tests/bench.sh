#!/usr/bin/env bash
# Benchmarks. `tests/bench.sh` lists them; `tests/bench.sh NAME` runs one and prints its figure as
# the last line: `NAME: <value> <unit> (target <target>)`. `SMOKE=1` runs a short version that only
# proves the benchmark still works (the test command does this for every benchmark).
# Each benchmark is a script tests/bench/NAME.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -eq 0 ]; then
  echo "benchmarks:"
  for f in "$HERE"/bench/*.sh; do
    [ -e "$f" ] || continue
    n=$(basename "$f" .sh)
    printf '  %-14s %s\n' "$n" "$(sed -n 's/^# what: //p' "$f" | head -1)"
  done
  exit 0
fi
NAME=$1; shift
SCRIPT="$HERE/bench/$NAME.sh"
[ -f "$SCRIPT" ] || { echo "unknown benchmark '$NAME' (run tests/bench.sh for the list)" >&2; exit 2; }
exec bash "$SCRIPT" "$@"
