#!/usr/bin/env python3
"""Writes the hand-made seed inputs under fuzz/corpus/<target>/seed-*.

Run from anywhere: `python3 fuzz/make_seeds.py`. The files are committed; this script documents
how the binary ones (RTP/RTCP records, WAV files) are laid out and regenerates them. Inputs the
fuzzer found are kept beside them (named by their SHA-1, as cargo fuzz names them).
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def crlf(text):
    return text.strip("\n").replace("\n", "\r\n") + "\r\n"


def sip(head, body=""):
    """A SIP message: `head` lines, Content-Length computed, CRLF line ends."""
    body = crlf(body) if body else ""
    return crlf(head) + "Content-Length: %d\r\n\r\n" % len(body.encode()) + body


# ---------------------------------------------------------------- SDP (also SIP bodies)
SIPP_OFFER = """
v=0
o=caller 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
"""

SIPP_HOLD = """
v=0
o=caller 53655765 2353687638 IN IP4 127.0.0.1
s=-
c=IN IP4 0.0.0.0
t=0 0
m=audio 6000 RTP/AVP 8 0 101
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=sendonly
"""

# Chromium's offer as JsSIP sends it (the console's softphone), trimmed of header extensions.
CHROME_OFFER = """
v=0
o=- 4611731400430051336 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic: WMS stream
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0
a=candidate:1853887674 1 udp 1518280447 47.61.61.61 36768 typ srflx raddr 192.168.0.196 rport 46243 generation 0
a=ice-ufrag:EsAw
a=ice-pwd:bP+XJMM09aR8AiX1jdukzR6Y
a=ice-options:trickle
a=fingerprint:sha-256 DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF:95:60:18:90:AF:D8:07:09:DA:39:A3:EE:5E:6B:4B:0D:32:55:BF:EF
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=sendrecv
a=msid:stream track
a=rtcp-mux
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:1001 cname:browser
a=ssrc:1001 msid:stream track
"""

# Firefox: session-level fingerprint, IPv6 candidate, PCMA first.
FIREFOX_OFFER = """
v=0
o=mozilla...THIS_IS_SDPARTA-99.0 5271335818437213484 0 IN IP4 0.0.0.0
s=-
t=0 0
a=fingerprint:sha-256 0F:74:31:25:CB:A2:13:EC:28:6F:6D:2C:61:FF:5D:C2:BC:B9:DB:3D:98:14:8D:1A:BB:EA:33:0C:A4:60:A8:8E
a=group:BUNDLE 0
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 8 0 101
c=IN IP4 0.0.0.0
a=candidate:0 1 UDP 2122187007 2001:db8::1 51724 typ host
a=sendrecv
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=fmtp:101 0-15
a=ice-pwd:3d2d3b0a7a6c4e5b1e1d6c0e3f2a1b4c
a=ice-ufrag:0b1e3f2a
a=mid:0
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=rtpmap:9 G722/8000/1
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000/1
a=rtpmap:101 telephone-event/8000
a=setup:actpass
a=ssrc:2655508255 cname:{e2ff9b9e-0cf8-4e5a-9f4e-1d9e4c1a3b2f}
"""

# Our own answer, as the B2BUA sends it.
OUR_ANSWER = """
v=0
o=switchboard 7 1 IN IP4 192.0.2.10
s=switchboard
c=IN IP4 192.0.2.10
t=0 0
m=audio 20000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendrecv
"""

# A desk phone: audio + video, IPv6 session address, separate RTCP port, a disabled section.
PHONE_OFFER = """
v=0
o=- 1 1 IN IP6 2001:db8::10
s=call
c=IN IP6 2001:db8::10
b=AS:384
t=0 0
m=audio 49170 RTP/AVP 9 8 0 18 101
a=rtpmap:9 G722/8000
a=rtpmap:18 G729/8000
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=rtcp:49171
a=ptime:30
a=maxptime:150
m=video 0 RTP/AVP 96
a=rtpmap:96 H264/90000
m=video 49172 RTP/AVP 97
a=rtpmap:97 H264/90000
a=recvonly
"""

for name, body in [
    ("sipp-offer.sdp", SIPP_OFFER),
    ("sipp-hold.sdp", SIPP_HOLD),
    ("chromium-jssip-offer.sdp", CHROME_OFFER),
    ("firefox-offer.sdp", FIREFOX_OFFER),
    ("switchboard-answer.sdp", OUR_ANSWER),
    ("phone-av-ipv6.sdp", PHONE_OFFER),
]:
    write("sdp", name, crlf(body))
# LF-only line ends, as some phones send.
write("sdp", "sipp-offer-lf.sdp", SIPP_OFFER.strip("\n") + "\n")

# ---------------------------------------------------------------- SIP
INVITE = sip(
    """
INVITE sip:1001@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001
To: 1001 <sip:1001@127.0.0.1:5060>
Call-ID: 1-4711@127.0.0.1
CSeq: 1 INVITE
Contact: sip:sipp@127.0.0.1:5061
Max-Forwards: 70
Subject: Performance Test
Content-Type: application/sdp
""",
    SIPP_OFFER,
)
write("sip_message", "sipp-invite.sip", INVITE)

write(
    "sip_message",
    "sipp-register.sip",
    sip(
        """
REGISTER sip:127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4712-1-0;rport
From: <sip:1001@127.0.0.1>;tag=4712SIPpTag001
To: <sip:1001@127.0.0.1>
Call-ID: 1-4712@127.0.0.1
CSeq: 1 REGISTER
Contact: <sip:1001@127.0.0.1:5061;transport=udp>
Expires: 3600
Max-Forwards: 70
User-Agent: SIPp
"""
    ),
)

write(
    "sip_message",
    "sipp-bye.sip",
    sip(
        """
BYE sip:1001@127.0.0.1:5062;transport=UDP SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-5
Route: <sip:127.0.0.1:5060;lr>
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001
To: 1001 <sip:1001@127.0.0.1:5060>;tag=4713SIPpTag012
Call-ID: 1-4711@127.0.0.1
CSeq: 2 BYE
Contact: sip:sipp@127.0.0.1:5061
Max-Forwards: 70
"""
    ),
)

write(
    "sip_message",
    "sipp-ack.sip",
    sip(
        """
ACK sip:1001@127.0.0.1:5062;transport=UDP SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-4
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001
To: 1001 <sip:1001@127.0.0.1:5060>;tag=4713SIPpTag012
Call-ID: 1-4711@127.0.0.1
CSeq: 1 ACK
Max-Forwards: 70
"""
    ),
)

write(
    "sip_message",
    "sipp-cancel.sip",
    sip(
        """
CANCEL sip:1001@127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4711-1-0
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001
To: 1001 <sip:1001@127.0.0.1:5060>
Call-ID: 1-4711@127.0.0.1
CSeq: 1 CANCEL
Max-Forwards: 70
"""
    ),
)

write(
    "sip_message",
    "challenge-401.sip",
    sip(
        """
SIP/2.0 401 Unauthorized
Via: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK-4712-1-0;rport=5061;received=127.0.0.1
From: <sip:1001@127.0.0.1>;tag=4712SIPpTag001
To: <sip:1001@127.0.0.1>;tag=a6c85cf
Call-ID: 1-4712@127.0.0.1
CSeq: 1 REGISTER
WWW-Authenticate: Digest realm="switchboard.test", nonce="0000019a8f6e2c1b5d3c9e7f0a1b2c3d", algorithm=SHA-256, qop="auth"
WWW-Authenticate: Digest realm="switchboard.test", nonce="0000019a8f6e2c1b5d3c9e7f0a1b2c3d", algorithm=MD5, qop="auth"
"""
    ),
)

# JsSIP over WebSocket (the console's softphone), with a Chromium offer.
write(
    "sip_message",
    "jssip-ws-invite.sip",
    sip(
        """
INVITE sip:1002@switchboard.test SIP/2.0
Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK2911563;rport
Max-Forwards: 69
To: <sip:1002@switchboard.test>
From: "Agent 1001" <sip:1001@switchboard.test>;tag=q0lq4kjgql
Call-ID: uv1bmj3ebl3p2d1cdc1a
CSeq: 4511 INVITE
Contact: <sip:kv3m6h0m@df7jal23ls0d.invalid;transport=ws;ob>
Content-Type: application/sdp
Session-Expires: 90
Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY
Supported: timer,ice,replaces,outbound
User-Agent: JsSIP 3.10.1
""",
        CHROME_OFFER,
    ),
)

write(
    "sip_message",
    "refer.sip",
    sip(
        """
REFER sip:sipp@127.0.0.1:5061 SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKnashds8
Max-Forwards: 70
From: <sip:1001@127.0.0.1>;tag=1928301774
To: <sip:sipp@127.0.0.1>;tag=a6c85cf
Call-ID: a84b4c76e66710
CSeq: 314159 REFER
Refer-To: <sip:1003@127.0.0.1?Replaces=12345%40192.0.2.1%3Bfrom-tag%3D7743%3Bto-tag%3D6429>
Referred-By: <sip:1001@127.0.0.1>
Contact: <sip:1001@127.0.0.1:5070;transport=tcp>
"""
    ),
)

# Compact header names (RFC 3261 §7.3.3), IPv6, folded header.
write(
    "sip_message",
    "compact-options.sip",
    crlf(
        """
OPTIONS sip:[2001:db8::1]:5060 SIP/2.0
v: SIP/2.0/UDP [2001:db8::2]:5062;branch=z9hG4bK776asdhds
f: "Alice" <sip:alice@[2001:db8::2]>;tag=88sja8x
t: <sip:[2001:db8::1]>
i: 5aa7c1ae-d62c-4e1c
CSeq: 63104 OPTIONS
m: <sip:alice@[2001:db8::2]:5062>
Subject: a header
 folded over two lines
Accept: application/sdp
l: 0
"""
    )
    + "\r\n",
)

# A TCP stream: two messages, a keep-alive ping and a pong between them.
write(
    "sip_message",
    "tcp-stream.sip",
    "\r\n\r\n"
    + INVITE.replace("SIP/2.0/UDP", "SIP/2.0/TCP")
    + "\r\n"
    + sip(
        """
BYE sip:1001@127.0.0.1:5062;transport=tcp SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:5061;branch=z9hG4bK-4711-1-5
From: sipp <sip:sipp@127.0.0.1:5061>;tag=4711SIPpTag001
To: 1001 <sip:1001@127.0.0.1:5060>;tag=4713SIPpTag012
Call-ID: 1-4711@127.0.0.1
CSeq: 2 BYE
Max-Forwards: 70
"""
    ),
)

# ---------------------------------------------------------------- RTP / RTCP
# Record format (see switchboard_media::fuzzing::fuzz_rtp_rtcp): one config byte, then
# [control, length, bytes...]; control bit 0 leg, bit 1 second source address, bits 2-3 what
# (0 RTP port, 2 RTCP port, 3 re-INVITE), bits 4-7 ms to advance / 10.


def rtp(pt, seq, ts, ssrc, payload, marker=False):
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq, ts, ssrc) + payload


def record(leg, what, advance_10ms, packet, moved=False):
    control = leg | (2 if moved else 0) | (what << 2) | (advance_10ms << 4)
    return bytes([control, len(packet)]) + packet


def sender_report(ssrc):
    # RTCP SR (PT 200) with no report blocks, then an SDES CNAME (PT 202): a compound packet.
    sr = struct.pack(">BBHIIIII", 0x80, 200, 6, ssrc, 0xE0000000, 0, 160, 1, ) + struct.pack(">I", 160)
    cname = b"sipp"
    sdes_items = bytes([1, len(cname)]) + cname + b"\x00\x00"
    sdes = struct.pack(">BBHI", 0x81, 202, (4 + len(sdes_items)) // 4, ssrc) + sdes_items
    return sr + sdes


def receiver_report(ssrc, about):
    block = struct.pack(">IIIIII", about, 0x00000010, 100, 20, 0, 0)
    return struct.pack(">BBHI", 0x81, 201, 7, ssrc) + block


def telephone_event(event, end, duration):
    return struct.pack(">BBH", event, (0x80 if end else 0) | 10, duration)


ULAW_TONE = bytes((0xFF - (i * 37) % 64) for i in range(160))
ALAW_TONE = bytes((0xD5 ^ ((i * 29) % 64)) for i in range(160))

# A plain call: both legs talk PCMU, RTCP on separate ports.
call = bytearray([0x00])
for i in range(6):
    call += record(0, 0, 2, rtp(0, 100 + i, 160 * i, 0x11111111, ULAW_TONE, marker=(i == 0)))
    call += record(1, 0, 0, rtp(0, 7000 + i, 8000 + 160 * i, 0x22222222, ULAW_TONE))
call += record(0, 2, 1, sender_report(0x11111111))
call += record(1, 2, 0, receiver_report(0x22222222, 0x11111111))
write("rtp_rtcp", "pcmu-call.bin", bytes(call))

# rtcp-mux on both legs, leg B PCMA only (transcoding), DTMF 5 from leg A, hold and resume.
mux = bytearray([0x07])
for i in range(3):
    mux += record(0, 0, 2, rtp(0, 200 + i, 480 * i, 0x33333333, ULAW_TONE))
    mux += record(1, 0, 0, rtp(8, 900 + i, 480 * i, 0x44444444, ALAW_TONE))
for i, (end, dur) in enumerate([(False, 160), (False, 320), (False, 480), (True, 640), (True, 640), (True, 640)]):
    mux += record(0, 0, 2, rtp(101, 203 + i, 1440, 0x33333333, telephone_event(5, end, dur), marker=(i == 0)))
mux += record(0, 1, 1, sender_report(0x33333333))
mux += record(1, 3, 1, bytes([0, ord("7")]))  # leg B holds (sendonly); we send it a 7
mux += record(1, 3, 5, bytes([3]))  # and resumes
mux += record(1, 0, 2, rtp(8, 903, 2000, 0x44444444, ALAW_TONE))
write("rtp_rtcp", "mux-transcode-dtmf-hold.bin", bytes(mux))

# NAT rebinding: leg A's source moves after a pause; a new SSRC appears; a padded packet and one
# with a header extension and CSRCs.
nat = bytearray([0x08])
nat += record(0, 0, 2, rtp(0, 1, 0, 0x55555555, ULAW_TONE))
nat += record(0, 0, 15, rtp(0, 2, 160, 0x55555555, ULAW_TONE), moved=True)
nat += record(0, 0, 15, rtp(0, 3, 320, 0x66666666, ULAW_TONE), moved=True)
padded = bytearray(rtp(0, 4, 480, 0x66666666, ULAW_TONE[:157] + b"\x00\x00\x03"))
padded[0] |= 0x20
nat += record(0, 0, 2, bytes(padded))
ext = struct.pack(">BBHII", 0x92, 0, 5, 640, 0x66666666) + struct.pack(">II", 0xAAAA0001, 0xAAAA0002)
ext += struct.pack(">HH", 0xBEDE, 1) + b"\x10\xff\x00\x00" + ULAW_TONE[:80]
nat += record(0, 0, 2, ext)
nat += record(1, 0, 1, b"\x80\xc8\x00")  # a runt
write("rtp_rtcp", "nat-ssrc-ext.bin", bytes(nat))

# ---------------------------------------------------------------- WAV
# First byte odd: the recorder's 44-byte header with the next 8 bytes as RIFF and data sizes,
# then audio. Even: the file as it is.


def frames(n):
    return b"".join(struct.pack("<hh", (i * 300) % 20000 - 10000, -(i * 200) % 16000) for i in range(n))


def wav(fmt_tag=1, channels=2, rate=8000, bits=16, data=b"", data_size=None, riff_size=None, extra_before=b"", extra_after=b"", fmt_extra=b""):
    align = channels * ((bits + 7) // 8)
    fmt = struct.pack("<HHIIHH", fmt_tag, channels, rate, rate * align, align, bits) + fmt_extra
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra_before
    body += b"data" + struct.pack("<I", len(data) if data_size is None else data_size) + data + extra_after
    return b"RIFF" + struct.pack("<I", len(body) if riff_size is None else riff_size) + body


audio = frames(200)
write("wav_repair", "killed-header-zero.bin", b"\x01" + struct.pack("<II", 0, 0) + audio + b"\x01\x02\x03")
write("wav_repair", "killed-header-stale.bin", b"\x01" + struct.pack("<II", 36 + 400, 400) + audio)
write("wav_repair", "recorder-valid.bin", b"\x01" + struct.pack("<II", 36 + len(audio), len(audio)) + audio)
write("wav_repair", "valid-stereo.bin", b"\x00" + wav(data=audio))
write("wav_repair", "list-before-data.bin", b"\x00" + wav(data=audio[:400], extra_before=b"LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00"))
write("wav_repair", "trailing-chunk.bin", b"\x00" + wav(data=audio[:400], extra_after=b"id3 \x05\x00\x00\x00ID3\x03\x00\x00"))
write("wav_repair", "stale-mono-8bit-odd.bin", b"\x00" + wav(channels=1, bits=8, data=bytes(range(101)), data_size=10, riff_size=0))
write("wav_repair", "float32-stale.bin", b"\x00" + wav(fmt_tag=3, channels=1, bits=32, data=struct.pack("<4f", 0.5, -0.5, 0.25, 0.0) + b"\x00\x00", data_size=0xFFFFFFFF))
write("wav_repair", "extensible.bin", b"\x00" + wav(fmt_tag=0xFFFE, data=audio[:64], fmt_extra=struct.pack("<HHI", 22, 16, 3) + b"\x01\x00\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"))
write("wav_repair", "truncated-in-fmt.bin", b"\x00" + wav(data=audio)[:30])
write("wav_repair", "data-before-fmt.bin", b"\x00" + b"RIFF\x30\x00\x00\x00WAVEdata\x04\x00\x00\x00\x01\x02\x03\x04fmt \x10\x00\x00\x00" + struct.pack("<HHIIHH", 1, 2, 8000, 32000, 4, 16))
write("wav_repair", "bad-block-align.bin", b"\x00" + wav(data=audio[:40]).replace(struct.pack("<HH", 4, 16), struct.pack("<HH", 3, 16), 1))
