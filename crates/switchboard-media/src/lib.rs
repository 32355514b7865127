//! Media for Switchboard: SDP offer/answer, RTP/RTCP relay (rtp-rs), G.711, RFC 4733 DTMF.
//!
//! Everything here is sans-IO: the tokio driver owns the sockets and the clock, feeds packets
//! and `now` in, and sends what comes out. Modules:
//! - [`sdp`]: parse/serialise SDP and run the RFC 3264 offer/answer for audio.
//! - [`g711`]: μ-law and A-law.
//! - [`playout`]: audio the bridge plays itself (music on hold, prompts, tones).
//! - [`dtmf`]: RFC 4733 telephone-event decoding and encoding.
//! - [`fuzzing`]: the harnesses of the `sdp` and `rtp_rtcp` fuzz targets (`fuzz/`), shared with
//!   the stable test that replays their corpus.
//! - [`stats`]: per-stream receive statistics (loss, RFC 3550 jitter).
//! - [`bridge`]: the two-leg RTP relay of one call (latching, PT mapping, hold, timeout).
//! - [`mixer`]: a supervisor listening, whispering or barging in on a call (three-party mix).
//! - [`ports`]: the RTP/RTCP port allocator.
//! - [`relay`]: the tokio driver: one call's sockets, relay task, recorder sink and events.
//! - [`webrtc_leg`]: a browser's DTLS-SRTP leg (webrtc-rs) bridged to a relay leg.

pub mod bridge;
pub mod dtmf;
pub mod fuzzing;
pub mod g711;
pub mod mixer;
pub mod playout;
pub mod ports;
pub mod relay;
pub mod sdp;
pub mod stats;
pub mod webrtc_leg;
