#!/usr/bin/env bash
# kill -9 in the middle of recorded calls (issue 5, acceptance 6): three calls talk with audio
# both ways, the server is killed with SIGKILL, then started again. Checked: every recording
# left is a valid stereo WAV holding the audio up to the crash (within ~1 s), its row is
# completed as `repaired` with the file's real size and SHA-256, and every CDR is closed with
# cause `server-restart`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
source tests/lib/common.sh

DOMAIN=e2e.switchboard.test
PASSWORD="right-horse-7"
source tests/e2e/lib/sip_server.sh
call_setup 20
CALLS=3
PHONE_PORT=$(free_port)
echo "$PASSWORD" | "$BIN" user add alice --role agent --extension 1001 --password-stdin >/dev/null
start_server
LPORT=$PHONE_PORT sipp_run register register.xml -s 1001 -au 1001 -ap "$PASSWORD" -set expires 300 ||
  fail "REGISTER 1001 failed"


echo "== $CALLS calls talking"
LPORT=$PHONE_PORT sipp_run phone uas_answer.xml -m "$CALLS" -mp "$(free_media_port)" &
sleep 0.5
sipp_run callers uac_call.xml -s 1001 -m "$CALLS" -l "$CALLS" -r "$CALLS" -d 30000 -mp "$(free_media_port)" &
poll 50 0.1 db_is "SELECT COUNT(*) FROM calls WHERE state = 'answered'" "$CALLS" ||
  fail "calls did not get answered ($FOUND of $CALLS)"
sleep 3
echo "== kill -9 after ~3 s of talk"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=
killed_at_ms=$(date +%s%3N)
jobs -p | xargs -r kill 2>/dev/null || true

[ "$(db "SELECT COUNT(*) FROM recordings WHERE state = 'recording'")" = "$CALLS" ] ||
  fail "expected $CALLS recordings in progress before the restart"

echo "== restart: recordings repaired, rows completed, CDRs closed"
start_server
poll 50 0.1 db_is "SELECT COUNT(*) FROM recordings WHERE state = 'repaired'" "$CALLS" ||
  fail "recording rows not completed: $(db "SELECT state FROM recordings")"
closed=$(db "SELECT COUNT(*) FROM calls WHERE state = 'ended' AND end_cause = 'server-restart' AND hangup_by = 'system'")
[ "$closed" = "$CALLS" ] || fail "CDRs not closed as server-restart: $(db "SELECT state, end_cause FROM calls")"

while IFS='|' read -r path started duration size sha; do
  wav="$WORK/recordings/$path"
  mapfile -t channels < <(python3 "$RTP_TOOLS" wav-check "$wav") || fail "$path is not a valid WAV"
  read -r _ left_hz <<<"${channels[0]}"
  read -r _ right_hz <<<"${channels[1]}"
  [ "$left_hz" = 440 ] && [ "$right_hz" = 1000 ] || fail "$path channels: ${channels[*]}"
  # The audio must reach to within ~1 s of the crash (the header is refreshed every second).
  lost_ms=$(( killed_at_ms - started - duration ))
  echo "   $(basename "$path"): ${duration} ms kept, ${lost_ms} ms before the kill lost"
  [ "$lost_ms" -le 1500 ] || fail "$path lost $lost_ms ms of audio before the crash"
  [ "$size" = "$(stat -c %s "$wav")" ] && [ "$sha" = "$(sha256sum "$wav" | cut -d' ' -f1)" ] ||
    fail "$path: stored size/SHA-256 do not match the file"
done < <(db "SELECT path, started_at, duration_ms, size_bytes, sha256 FROM recordings")

stop_server
echo "sip_crash: all checks passed"
