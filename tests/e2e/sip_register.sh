#!/usr/bin/env bash
# SIPp against the real server (issue 5, acceptance 1): digest REGISTER with the right password
# gets 200 (over UDP and TCP), unregister (Expires: 0) gets 200, bindings survive a server
# restart (checked through GET /api/v1/registrations), and a wrong password gets 401 until the
# address is locked out (403), after which even the right password is refused.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh

DOMAIN=e2e.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
PHONE_1001_PORT=$(free_port)
export SWITCHBOARD_SIP__AUTH_MAX_FAILURES=3

# registrations: "AOR SOURCE-TRANSPORT" lines from the API, sorted.
registrations() {
  curl -fs "127.0.0.1:$HTTP_PORT/api/v1/registrations" -H "Authorization: Bearer $(token)" |
    python3 -c 'import sys, json; [print(r["aor"], r["source"].split(":")[0]) for r in json.load(sys.stdin)]' |
    sort
}

echo "== set-up: agent 1001 (alice) and a supervisor to read the registrations"
echo "$PASSWORD" | "$BIN" user add alice --role agent --extension 1001 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add bob --role agent --extension 1002 --password-stdin >/dev/null
echo "$PASSWORD" | "$BIN" user add boss --role supervisor --password-stdin >/dev/null
start_server

echo "== right password: 401 challenge, then 200 (UDP for 1001, TCP for 1002)"
LPORT=$PHONE_1001_PORT sipp_run ok-udp register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1001 over UDP with the right password did not get 200"
sipp_run ok-tcp register.xml -t t1 -s 1002 -au 1002 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1002 over TCP with the right password did not get 200"
got=$(registrations)
want=$(printf 'sip:1001@%s udp\nsip:1002@%s tcp' "$DOMAIN" "$DOMAIN")
[ "$got" = "$want" ] || fail "registrations after REGISTER: got [$got], want [$want]"

echo "== restart: bindings are kept"
stop_server
start_server
got=$(registrations)
[ "$got" = "$want" ] || fail "registrations after restart: got [$got], want [$want]"

echo "== unregister (Expires: 0) of 1001 after the restart: 200, binding gone"
LPORT=$PHONE_1001_PORT sipp_run unreg register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 0 ||
  fail "unREGISTER did not get 200"
got=$(registrations)
want=$(printf 'sip:1002@%s tcp' "$DOMAIN")
[ "$got" = "$want" ] || fail "registrations after unregister: got [$got], want [$want]"

echo "== wrong password: 401, 401, then 403 (locked out after 3 failures)"
sipp_run wrong register_lockout.xml -s 1001 -au 1001 -ap "not-the-password" -set expires 300 ||
  fail "wrong password was not answered 401 ... 403"
echo "== locked out: even the right password is refused (403)"
sipp_run locked register_locked.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "a locked-out address was not refused"
got=$(registrations)
[ "$got" = "$want" ] || fail "a refused REGISTER changed the bindings: [$got]"

stop_server
echo "sip_register: all checks passed"
