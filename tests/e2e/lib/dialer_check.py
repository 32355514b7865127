#!/usr/bin/env python3
"""Checks of tests/e2e/dialer.sh on a tcpdump capture of the trunk side (SIP to and from the
customers' SIPp, and the RTP it receives).

  calls PCAP TRUNK_PORT     one JSON line per dialled call (by Call-ID): number, our INVITE's
                            time, its SDP's RTP port (our relay's customer side), the CANCEL's
                            time, the final status the customer side sent
  heard PCAP DST_PORT SRC   what the customer's RTP port received from our relay port SRC:
                            packets, RMS, and the variation of its 20 ms frames' loudness in
                            percent (speech comes in syllables and pauses, well above 50; a
                            steady tone or music-on-hold beep pattern is far more even)
"""
import json
import math
import struct
import sys

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from rtp_tools import RATE, ulaw_decode  # noqa: E402


def packets(path):
    """Yields (time, src_port, dst_port, udp_payload) of every UDP/IPv4 packet."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    offset = 24
    while offset + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        l2 = {1: 14, 113: 16, 0: 4, 276: 20}.get(linktype, 14)
        ip = frame[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        udp = ip[ihl:]
        src, dst = struct.unpack("!HH", udp[0:4])
        yield sec + frac / (1e9 if nano else 1e6), src, dst, udp[8:]


def header(text, name):
    for line in text.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def calls(path, trunk_port):
    out = {}
    for t, src, dst, payload in packets(path):
        if trunk_port not in (src, dst):
            continue
        try:
            text = payload.decode("utf-8", "replace")
        except Exception:
            continue
        first = text.split("\r\n", 1)[0]
        cid = header(text, "Call-ID")
        if not cid:
            continue
        c = out.setdefault(cid, {"call_id": cid})
        if first.startswith("INVITE ") and dst == trunk_port:
            if "invite_at" not in c:
                c["invite_at"] = t
                c["number"] = first.split()[1].split(":", 1)[1].split("@")[0]
                for line in text.split("\r\n"):
                    if line.startswith("m=audio "):
                        c["rtp_port"] = int(line.split()[1])
        elif first.startswith("CANCEL ") and dst == trunk_port:
            c.setdefault("cancel_at", t)
        elif first.startswith("SIP/2.0 ") and src == trunk_port:
            status = int(first.split()[1])
            if status >= 200 and "INVITE" in header(text, "CSeq"):
                c.setdefault("final", status)
    for c in out.values():
        if "invite_at" in c:
            print(json.dumps(c))


def heard(path, dst_port, src_port):
    samples, count = [], 0
    for _, src, dst, payload in packets(path):
        if dst != dst_port or src != src_port or len(payload) < 12 or payload[1] & 0x7F != 0:
            continue
        count += 1
        samples.extend(ulaw_decode(b) for b in payload[12:])
    rms = math.sqrt(sum(x * x for x in samples) / len(samples)) if samples else 0.0
    frame = RATE // 50
    levels = [
        math.sqrt(sum(x * x for x in samples[i:i + frame]) / frame)
        for i in range(0, len(samples) - frame, frame)
    ]
    mean = sum(levels) / len(levels) if levels else 0.0
    sd = math.sqrt(sum((v - mean) ** 2 for v in levels) / len(levels)) if levels else 0.0
    print(count, int(rms), int(100 * sd / mean) if mean else 0)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "calls":
        calls(sys.argv[2], int(sys.argv[3]))
    elif cmd == "heard":
        heard(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
