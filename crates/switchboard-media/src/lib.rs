//! Media for Switchboard: SDP offer/answer, RTP/RTCP relay (rtp-rs), G.711, RFC 4733 DTMF, WebRTC legs, mixing for listen/whisper/barge. Sans-IO packet logic plus tokio sockets.
