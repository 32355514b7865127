#!/usr/bin/env bash
# Regenerates dialer-abandoned.wav, the built-in message an abandoned dialer call hears (answered,
# no agent free within 2 s): the company and the call-back number, spoken by espeak-ng
# (Debian package espeak-ng), as 8 kHz mono 16-bit PCM (what the relay plays, and small enough to
# embed in the binary). Set your own with config key dialer.abandon_message_wav.
set -euo pipefail
cd "$(dirname "$0")"
text="This is Switchboard customer service. Sorry, all our agents are busy. Please call us back on 4 0 0, 8 8 8, 8 8 8 8. Goodbye."
tmp=$(mktemp --suffix .wav)
trap 'rm -f "$tmp"' EXIT
espeak-ng -v en-us -s 165 -w "$tmp" "$text"
python3 - "$tmp" dialer-abandoned.wav <<'PY'
import sys, wave, struct
src = wave.open(sys.argv[1])
rate, n = src.getframerate(), src.getnframes()
assert src.getsampwidth() == 2 and src.getnchannels() == 1
x = struct.unpack('<%dh' % n, src.readframes(n))
out, step = [], rate / 8000.0
i = 0.0
while i + step <= n:
    a, b = int(i), int(i + step)
    seg = x[a:b] or x[a:a + 1]
    out.append(int(sum(seg) / len(seg)))  # boxcar average, then decimate
    i += step
dst = wave.open(sys.argv[2], 'wb')
dst.setnchannels(1); dst.setsampwidth(2); dst.setframerate(8000)
dst.writeframes(struct.pack('<%dh' % len(out), *out))
PY
