#!/usr/bin/env bash
# Acceptance (issue 8): Schemathesis, installed from PyPI when missing, fuzzes every operation of
# the served OpenAPI document with the first-start admin's token: no 5xx, every status code
# documented, every response body and content type as the document says.
#
#   tests/e2e/schemathesis.sh   (SCHEMATHESIS_MAX_EXAMPLES=N to fuzz longer, default 30;
#                                SCHEMATHESIS_SEED=N for another sample, default 1)
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh

ensure_schemathesis() {
  command -v schemathesis >/dev/null 2>&1 && return 0
  echo "installing schemathesis (pip)"
  python3 -m pip install -q --disable-pip-version-check schemathesis >/dev/null || return 1
  command -v schemathesis >/dev/null 2>&1
}
ensure_schemathesis || { echo "FAIL: cannot install schemathesis from PyPI"; exit 1; }

echo "building the server"
cargo build -q -p switchboard || { echo "FAIL: build"; exit 1; }
TARGET_DIR=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')
BIN="$TARGET_DIR/debug/switchboard"

WORK=$(mktemp -d)
SERVER_PID=""
cleanup() {
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
  keep_logs "$WORK" schemathesis
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
(cd "$WORK" && SWITCHBOARD_HTTP__LISTEN="127.0.0.1:$PORT" SWITCHBOARD_SIP__UDP_LISTEN=127.0.0.1:0 SWITCHBOARD_SIP__TCP_LISTEN=127.0.0.1:0 exec "$BIN" serve >"$WORK/server.out" 2>"$WORK/server.err") &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { echo "FAIL: the server exited"; cat "$WORK/server.err"; exit 1; }
  sleep 0.2
done
PASSWORD=$(cat "$WORK/var/initial-admin-password") || { echo "FAIL: no first-start admin password"; exit 1; }
TOKEN=$(curl -fsS -X POST "$BASE/api/v1/auth/login" -H 'Content-Type: application/json' \
  -d "{\"username\":\"admin\",\"password\":\"$PASSWORD\"}" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])') || { echo "FAIL: admin login"; exit 1; }

# The stateful phase follows the document's links from each create (POST /tickets, /webhooks,
# /customers, /queues) to the operations on the object it made, with its real id.
# Logout is left out: it would revoke the very token the run uses; the wallboard stream too:
# it is endless by design (its contract is tested in reports_api.rs). Run from the temp dir so
# Schemathesis's cache (.schemathesis/) does not land in the checkout.
(cd "$WORK" && schemathesis run "$BASE/api/v1/openapi.json" \
  --header "Authorization: Bearer $TOKEN" \
  --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance \
  --exclude-path /auth/logout \
  --exclude-path /wallboard/events \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${SCHEMATHESIS_MAX_EXAMPLES:-30}" \
  --workers 2 \
  --seed "${SCHEMATHESIS_SEED:-1}" \
  --no-color) 2>&1 | tee "$WORK/schemathesis.log"
rc=${PIPESTATUS[0]}
if grep -q "panicked" "$WORK/server.err"; then
  echo "FAIL: the server panicked"; grep -A5 panicked "$WORK/server.err"; exit 1
fi
if [ "$rc" -ne 0 ]; then
  echo "FAIL: schemathesis found problems (exit $rc)"; exit 1
fi
echo "ok: schemathesis found no 5xx and no response outside the document"
