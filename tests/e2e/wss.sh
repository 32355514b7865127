#!/usr/bin/env bash
# HTTPS and SIP over secure WebSocket (issue 6): with http.tls_cert_file and http.tls_key_file
# the one HTTP listener speaks TLS; the agent console loads over https:// in headless Chromium
# and its softphone registers over wss://…/sip; plain HTTP on that port gets no answer; a key
# that does not match the certificate, or one of the pair missing, stops the server at start
# with exit code 2 naming the key.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh
ensure_browser_tests
ensure_apt openssl openssl

DOMAIN=wss.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
export SWITCHBOARD_SIP__DIGEST_ALGORITHMS='["MD5", "SHA-256"]'

echo "== set-up: a self-signed certificate for 127.0.0.1, an agent with extension 1001"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1" \
  -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
  -subj "/CN=other" -keyout "$WORK/other-key.pem" -out "$WORK/other-cert.pem" 2>/dev/null
echo "$PASSWORD" | "$BIN" user add agent1 --role agent --extension 1001 --password-stdin >/dev/null

echo "== a bad TLS configuration stops the server at start, naming the key (exit 2)"
check_bad() { # check_bad WANT-KEY: `serve` with the current env must exit 2 naming WANT-KEY
  set +e
  timeout 30 "$BIN" serve >"$WORK/bad.log" 2>&1
  local code=$?
  set -e
  [ "$code" = 2 ] || fail "bad TLS config: exit $code, want 2 ($(tail -3 "$WORK/bad.log"))"
  grep -q "$1" "$WORK/bad.log" || fail "bad TLS config: the message does not name $1: $(tail -3 "$WORK/bad.log")"
}
SWITCHBOARD_HTTP__TLS_CERT_FILE="$WORK/cert.pem" check_bad http.tls_key_file
SWITCHBOARD_HTTP__TLS_CERT_FILE="$WORK/cert.pem" SWITCHBOARD_HTTP__TLS_KEY_FILE="$WORK/other-key.pem" \
  check_bad http.tls_key_file
SWITCHBOARD_HTTP__TLS_CERT_FILE="$WORK/missing.pem" SWITCHBOARD_HTTP__TLS_KEY_FILE="$WORK/key.pem" \
  check_bad http.tls_cert_file

echo "== HTTPS serves the console and the API; plain HTTP on the port is refused"
export SWITCHBOARD_HTTP__TLS_CERT_FILE="$WORK/cert.pem" SWITCHBOARD_HTTP__TLS_KEY_FILE="$WORK/key.pem"
"$BIN" serve >>"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
await_healthy "https://127.0.0.1:$HTTP_PORT/healthz" "$SERVER_PID" server
curl -fs --cacert "$WORK/cert.pem" "https://127.0.0.1:$HTTP_PORT/healthz" | grep -q ok ||
  fail "healthz over HTTPS (verified against the certificate) failed"
page=$(curl -fs --cacert "$WORK/cert.pem" "https://127.0.0.1:$HTTP_PORT/") ||
  fail "GET / over HTTPS failed"
grep -q "<html" <<<"$page" || fail "the console is not served over HTTPS"
if curl -fs -m 5 "http://127.0.0.1:$HTTP_PORT/healthz" >/dev/null 2>&1; then
  fail "plain HTTP was answered on the HTTPS port"
fi

echo "== the console over https:// registers its softphone over wss://…/sip"
ROOT=$ROOT NODE_PATH="$ROOT/tests/browser/node_modules" BASE="https://127.0.0.1:$HTTP_PORT" PASSWORD=$PASSWORD \
  timeout 120 node - <<'JS' || fail "wss checks failed"
const assert = require('assert/strict');
const cs = require(`${process.env.ROOT}/tests/browser/lib/console`);
(async () => {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    // The test's certificate is self-signed; everything else is as for an agent.
    args: [...require(`${process.env.ROOT}/tests/browser/lib/softphone`).chromiumArgs(), '--ignore-certificate-errors'],
  });
  try {
    const page = await cs.openConsole(browser, process.env.BASE);
    await cs.login(page, { username: 'agent1', password: process.env.PASSWORD });
    await cs.waitRegistered(page);
    const ws = await page.evaluate(() => window.softphone.ua.transport.socket.url);
    assert.ok(ws.startsWith('wss://'), `the softphone uses ${ws}`);
    console.log(`   registered over ${ws}`);
    assert.deepEqual(page.errors, []);
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e); process.exit(1); });
JS
metrics=$(curl -fs --cacert "$WORK/cert.pem" "https://127.0.0.1:$HTTP_PORT/metrics") ||
  fail "GET /metrics over HTTPS failed"
grep -q 'transport="ws"' <<<"$metrics" || fail "no SIP over WebSocket traffic counted"
echo "wss: all checks passed"
