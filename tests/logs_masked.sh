#!/usr/bin/env bash
# Issue 12, acceptance 5: the server logs of the whole test run (collected by tests/run.sh in
# $SWITCHBOARD_TEST_LOGS through keep_logs) contain no unmasked phone number from the fixtures.
#
# The fixture numbers are every E.164 number (+ and 8-15 digits) and every mainland mobile number
# (11 digits starting 13-19) written in the test sources (tests/, crates/*/tests/). A log line
# holding one of them, with or without its "+", is a leak and fails the step with the lines found.
# The step also fails when there are no logs, or when no masked number appears in them (then the
# suites logged no numbers at all and this check would prove nothing).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOGS=${SWITCHBOARD_TEST_LOGS:-$ROOT/target/test-logs}
[ -d "$LOGS" ] && [ -n "$(find "$LOGS" -type f -print -quit)" ] ||
  { echo "FAIL: no server logs collected in $LOGS (run through tests/run.sh)"; exit 1; }

python3 - "$ROOT" "$LOGS" <<'PY'
import os, re, sys

root, logs = sys.argv[1], sys.argv[2]
number = re.compile(r"(?<![0-9A-Za-z])(\+[1-9][0-9]{7,14}|1[3-9][0-9]{9})(?![0-9])")
sources = [os.path.join(root, "tests")] + [
    os.path.join(root, "crates", c, "tests") for c in os.listdir(os.path.join(root, "crates"))
]
fixtures = set()
for top in sources:
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if x != "node_modules"]
        for f in files:
            if f.endswith((".png", ".wav", ".pcap", ".lock")):
                continue
            try:
                text = open(os.path.join(d, f), encoding="utf-8", errors="ignore").read()
            except OSError:
                continue
            for m in number.finditer(text):
                fixtures.add(m.group(1).lstrip("+"))
print(f"{len(fixtures)} fixture numbers from the test sources")

masked = re.compile(r"\+?[0-9]{2,7}\*{4}[0-9]{2,4}")
leaks, masked_seen, files, lines = [], 0, 0, 0
for d, _, names in os.walk(logs):
    for f in names:
        path = os.path.join(d, f)
        files += 1
        for n, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            lines += 1
            masked_seen += len(masked.findall(line))
            for m in re.finditer(r"[0-9]{8,15}", line):
                if m.group(0) in fixtures:
                    leaks.append(f"{os.path.relpath(path, logs)}:{n}: {line.strip()[:200]}")
                    break
print(f"{files} log files, {lines} lines, {masked_seen} masked numbers")
if leaks:
    print(f"FAIL: {len(leaks)} log lines hold a fixture phone number unmasked:")
    print("\n".join(leaks[:40]))
    sys.exit(1)
if masked_seen == 0:
    print("FAIL: no masked number in the logs: the suites logged no numbers, so this proves nothing")
    sys.exit(1)
print("logs masked: no unmasked fixture number")
PY
