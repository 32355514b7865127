#!/usr/bin/env python3
"""RTP helpers for the SIP call e2e tests (standard library only).

  tone-pcap FREQ SECONDS OUT.pcap     PCMU RTP (20 ms packets) of a sine tone, for SIPp's
                                      play_pcap_audio
  pcap-tone CAPTURE.pcap DST_PORT     which test tone the RTP sent to DST_PORT carries:
                                      prints "<packets> <dominant Hz>"
  wav-check FILE.wav                  prints per channel "<rms> <dominant Hz>" for a stereo
                                      16-bit WAV (one line per channel, left first)
  wav-gap FILE.wav                    longest run (ms) of frames silent on both channels,
                                      between the first and the last sound
  pcap-levels CAPTURE.pcap DST_PORT F1 [F2 ...]
                                      how much of the PCMU audio sent to DST_PORT each
                                      frequency carries: prints "<packets> <share:present F1> ..."
                                      (share: 0..1 of the signal's power, averaged over the
                                      100 ms blocks that are not silent; ~1 for a lone tone,
                                      ~0.5 each for two equal tones, ~0 for a tone not there;
                                      present: the part of those blocks where it has >= 0.1)

The dominant frequency is picked among the test tones (440, 1000 Hz) with the Goertzel
algorithm; "0" means none of them stands out (silence or noise).
"""
import math
import struct
import sys
import wave

TONES = (440.0, 1000.0)
RATE = 8000


def ulaw_encode(sample):
    """G.711 mu-law of one 16-bit sample (ITU-T G.711, as audioop.lin2ulaw)."""
    BIAS, CLIP = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    if sample < 0:
        sample = -sample
    sample = min(sample, CLIP) + BIAS
    exponent = 7
    mask = 0x4000
    while exponent > 0 and not sample & mask:
        exponent -= 1
        mask >>= 1
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def ulaw_decode(byte):
    byte = ~byte & 0xFF
    sign, exponent, mantissa = byte & 0x80, (byte >> 4) & 0x07, byte & 0x0F
    sample = ((mantissa << 3) + 0x84) << exponent
    sample -= 0x84
    return -sample if sign else sample


def goertzel_power(samples, freq):
    k = 2.0 * math.cos(2.0 * math.pi * freq / RATE)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + k * s1 - s2, s1
    return s1 * s1 + s2 * s2 - k * s1 * s2


def dominant(samples):
    if not samples:
        return 0
    energy = sum(x * x for x in samples)
    if energy == 0:
        return 0
    powers = [(goertzel_power(samples, f), f) for f in TONES]
    powers.sort(reverse=True)
    best, freq = powers[0]
    # A pure tone holds most of the energy at its frequency; require a clear winner.
    if best < 10 * max(powers[1][0], 1.0) or best < 0.05 * energy * len(samples) / 2:
        return 0
    return int(freq)


def tone_pcap(freq, seconds, out):
    packets = int(seconds * 50)
    with open(out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for n in range(packets):
            payload = bytes(
                ulaw_encode(int(8000 * math.sin(2 * math.pi * freq * (n * 160 + i) / RATE)))
                for i in range(160)
            )
            rtp = struct.pack("!BBHII", 0x80, 0, n & 0xFFFF, n * 160, 0x5EED0000 + int(freq)) + payload
            udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
            ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                             bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
            frame = b"\x00" * 12 + b"\x08\x00" + ip
            sec, usec = divmod(n * 20000, 1000000)
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)


def read_pcap(path):
    """Yields (dst_port, udp_payload) of every UDP/IPv4 packet (Ethernet or Linux SLL)."""
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    offset = 24
    while offset + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[offset:offset + 16])
        frame = data[offset + 16:offset + 16 + incl]
        offset += 16 + incl
        l2 = {1: 14, 113: 16, 0: 4}.get(linktype, 14)
        ip = frame[l2:]
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 0x0F) * 4
        udp = ip[ihl:]
        dst = struct.unpack("!H", udp[2:4])[0]
        yield dst, udp[8:]


def pcap_tone(capture, port):
    samples, packets = [], 0
    for dst, payload in read_pcap(capture):
        if dst != port or len(payload) < 12 or payload[1] & 0x7F != 0:
            continue
        packets += 1
        samples.extend(ulaw_decode(b) for b in payload[12:])
    print(packets, dominant(samples[: RATE * 2]))


def tone_share(block, freq):
    """The part of `block`'s power at `freq` (Goertzel power over the block's energy)."""
    energy = sum(x * x for x in block)
    if energy == 0:
        return 0.0
    return 2.0 * goertzel_power(block, freq) / (len(block) * energy)


def pcap_levels(capture, port, freqs):
    samples, packets = [], 0
    for dst, payload in read_pcap(capture):
        if dst != port or len(payload) < 12 or payload[1] & 0x7F != 0:
            continue
        packets += 1
        samples.extend(ulaw_decode(b) for b in payload[12:])
    block = RATE // 10
    blocks = [samples[i:i + block] for i in range(0, len(samples) - block + 1, block)]
    # Not silent: an RMS above ~-50 dBFS.
    loud = [b for b in blocks if sum(x * x for x in b) / len(b) > 100.0 ** 2]
    out = []
    for f in freqs:
        per_block = [tone_share(b, f) for b in loud]
        share = sum(per_block) / len(per_block) if per_block else 0.0
        present = sum(1 for x in per_block if x >= 0.1) / len(per_block) if per_block else 0.0
        out.append("%.3f:%.3f" % (share, present))
    print(packets, " ".join(out))


def wav_check(path):
    with wave.open(path) as w:
        if w.getnchannels() != 2 or w.getsampwidth() != 2 or w.getframerate() != RATE:
            print("bad-format", w.getnchannels(), w.getsampwidth(), w.getframerate())
            sys.exit(1)
        raw = w.readframes(w.getnframes())
    values = struct.unpack("<%dh" % (len(raw) // 2), raw)
    for ch in (0, 1):
        chan = values[ch::2]
        rms = math.sqrt(sum(x * x for x in chan) / len(chan)) if chan else 0.0
        # Judge the tone on two contiguous seconds from the first sound on.
        start = next((i for i, x in enumerate(chan) if x != 0), 0)
        print(int(rms), dominant(chan[start:start + RATE * 2]))


def wav_gap(path):
    with wave.open(path) as w:
        raw = w.readframes(w.getnframes())
    values = struct.unpack("<%dh" % (len(raw) // 2), raw)
    frames = [(values[i], values[i + 1]) for i in range(0, len(values) - 1, 2)]
    sound = [i for i, (a, b) in enumerate(frames) if a or b]
    if not sound:
        print(0)
        return
    longest = run = 0
    for a, b in frames[sound[0]:sound[-1] + 1]:
        run = run + 1 if not (a or b) else 0
        longest = max(longest, run)
    print(longest * 1000 // RATE)


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "pcap-levels":
        pcap_levels(sys.argv[2], int(sys.argv[3]), [float(f) for f in sys.argv[4:]])
        return
    if cmd == "tone-pcap":
        tone_pcap(float(sys.argv[2]), float(sys.argv[3]), sys.argv[4])
    elif cmd == "pcap-tone":
        pcap_tone(sys.argv[2], int(sys.argv[3]))
    elif cmd == "wav-check":
        wav_check(sys.argv[2])
    elif cmd == "wav-gap":
        wav_gap(sys.argv[2])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
